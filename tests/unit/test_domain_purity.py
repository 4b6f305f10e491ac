"""The domain is pure: the standard library and ``eventsourcing.domain`` only; no clock, environment or I/O."""

from __future__ import annotations

import ast
import pkgutil
import sys
from pathlib import Path

import pytest

import vardekedja.domain

DOMAIN = "vardekedja.domain"
ALLOWED_THIRD_PARTY = {"eventsourcing.domain"}

# (module or class name, attribute) pairs that read the clock or the environment.
FORBIDDEN_ATTRIBUTES = {
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("time", "time"), ("time", "time_ns"), ("time", "monotonic"), ("time", "perf_counter"),
    ("os", "environ"), ("os", "getenv"), ("os", "putenv"),
}
FORBIDDEN_NAMES = {"open", "input", "print", "getenv", "environ"}


def domain_modules() -> list[tuple[str, Path]]:
    package_dir = Path(vardekedja.domain.__file__).parent
    modules = [(DOMAIN, package_dir / "__init__.py")]
    for info in pkgutil.walk_packages([str(package_dir)], prefix=f"{DOMAIN}."):
        path = package_dir.joinpath(*info.name.split(".")[2:])
        modules.append((info.name, path / "__init__.py" if info.ispkg else path.with_suffix(".py")))
    return modules


def imported_modules(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names.append(DOMAIN if node.level else node.module or "")
    return names


def is_allowed_import(name: str) -> bool:
    top = name.split(".")[0]
    return (
        name == "__future__"
        or top in sys.stdlib_module_names
        or name in ALLOWED_THIRD_PARTY
        or name == DOMAIN
        or name.startswith(f"{DOMAIN}.")
    )


def impurities(tree: ast.AST) -> list[str]:
    """Reads of the clock or the environment, and file or console I/O, with their line numbers."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            owner = node.value
            owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if (owner_name, node.attr) in FORBIDDEN_ATTRIBUTES:
                found.append(f"line {node.lineno}: {owner_name}.{node.attr}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in FORBIDDEN_NAMES:
            found.append(f"line {node.lineno}: {node.func.id}(")
        elif isinstance(node, ast.ImportFrom) and node.module in ("os", "time"):
            found += [f"line {node.lineno}: from {node.module} import {a.name}" for a in node.names
                      if (node.module, a.name) in FORBIDDEN_ATTRIBUTES]
    return found


def test_the_domain_package_has_the_modules_we_check() -> None:
    names = {name for name, _ in domain_modules()}
    assert {f"{DOMAIN}.{m}" for m in ("design", "order", "production", "delivery", "payout", "money")} <= names
    assert all(path.is_file() for _, path in domain_modules())


@pytest.mark.parametrize(("module", "path"), domain_modules(), ids=[name for name, _ in domain_modules()])
def test_a_domain_module_imports_only_the_standard_library_and_eventsourcing_domain(module: str, path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    offending = [name for name in imported_modules(tree) if not is_allowed_import(name)]

    assert offending == [], f"{module} imports {offending}"


@pytest.mark.parametrize(("module", "path"), domain_modules(), ids=[name for name, _ in domain_modules()])
def test_a_domain_module_reads_no_clock_or_environment_and_does_no_io(module: str, path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))

    assert impurities(tree) == [], f"{module}: {impurities(tree)}"


def test_the_checks_catch_what_they_are_meant_to_catch() -> None:
    source = """
import os
import requests
from eventsourcing.application import Application
from datetime import datetime
import time
stamp = datetime.now()
started = time.time()
key = os.environ["KEY"]
text = open("x").read()
"""
    tree = ast.parse(source)

    assert [n for n in imported_modules(tree) if not is_allowed_import(n)] == [
        "requests", "eventsourcing.application",
    ]
    assert impurities(tree) == ["line 7: datetime.now", "line 8: time.time", "line 9: os.environ", "line 10: open("]
