"""Imports between the package's parts point one way only, and no module grows past about 400 lines.

A part is a folder of ``vardekedja`` (``domain``, ``projections``, ...) or one
of its top-level modules (``runtime``, ``settings``, ...). Each part may import
only the parts listed for it below; those lists form no cycle, so neither can
the imports. Imports inside functions count too: an import made late to dodge
a cycle is still an arrow. A new part is added here with what it may import.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

import vardekedja

PACKAGE = "vardekedja"
ROOT = Path(vardekedja.__file__).parent
MAX_LINES = 420  # "about 400": past this, split the module by what its parts do

# Each part, and the parts it may import (the package's own ``__init__``, the version, is open to all).
MAY_IMPORT: dict[str, set[str]] = {
    "domain": set(),  # and the standard library and eventsourcing.domain only: see test_domain_purity.py
    "settings": set(),
    "storage": {"settings"},
    "personal_data": {"storage", "settings"},
    "application": {"domain", "personal_data"},
    "impact": {"domain", "settings"},  # the impact fold and reports, shared by the view and a recomputation
    "projections": {"domain", "storage", "settings", "impact"},
    "audit": {"domain", "projections", "storage", "settings", "impact"},
    "stripe_connect": {"application"},
    "sie": set(),
    "stripe_gateway": {"application", "stripe_connect"},
    "local_connect": set(),
    "local_stripe": {"local_connect"},
    "runtime": {"domain", "application", "projections", "audit", "storage", "settings", "stripe_gateway",
                "personal_data", "stripe_connect"},
    "media": set(),
    "api": {"domain", "application", "projections", "audit", "storage", "settings", "stripe_gateway", "stripe_connect",
            "runtime", "personal_data", "impact", "sie", "media"},
    "cli_impact": {"impact", "projections", "audit", "runtime", "settings"},
    "web": {"domain", "application", "projections", "storage", "settings", "stripe_gateway", "runtime", "api"},
    "demo_pictures": {"media"},
    "demo": {"domain", "application", "media", "demo_pictures"},
    "demo_people": {"domain", "application"},
    "cli_projections": {"projections", "runtime"},
    "cli_bookkeeping": {"api", "runtime"},
    "cli_demo": {"application", "demo", "domain", "local_stripe", "settings", "stripe_gateway", "demo_people",
                 "personal_data"},
    "cli": {"domain", "application", "projections", "audit", "storage", "settings", "stripe_gateway", "stripe_connect",
            "runtime", "api", "web", "media", "demo", "local_stripe", "local_connect", "cli_projections",
            "personal_data", "cli_impact", "sie", "cli_bookkeeping", "cli_demo", "demo_people"},
}  # fmt: skip


def part_of(path: Path) -> str:
    relative = path.relative_to(ROOT)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


def modules() -> list[Path]:
    return sorted(path for path in ROOT.rglob("*.py") if path.name != "__main__.py")


def imported_parts(path: Path) -> list[tuple[int, str]]:
    """(line, part) for every import of another part of the package, in any scope."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != PACKAGE else [f"{PACKAGE}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == PACKAGE and len(parts) > 1 and parts[1] != "__version__":
                found.append((node.lineno, parts[1]))
    return found


def arrows_against_the_direction(path: Path) -> list[str]:
    own = part_of(path)
    allowed = MAY_IMPORT.get(own, set())
    return [f"line {line}: {own} imports {target}" for line, target in imported_parts(path)
            if target != own and target not in allowed]  # fmt: skip


def test_every_part_of_the_package_is_placed() -> None:
    parts = {part_of(path) for path in modules()} - {"__init__"}
    assert parts - set(MAY_IMPORT) == set(), "add the new part to MAY_IMPORT with what it may import"


def test_the_allowed_directions_form_no_cycle() -> None:
    try:
        order = list(TopologicalSorter(MAY_IMPORT).static_order())
    except CycleError as cycle:  # pragma: no cover - only when someone adds one
        pytest.fail(f"the allowed imports go round in a circle: {cycle.args[1]}")
    assert order.index("domain") < order.index("application") < order.index("runtime") < order.index("api")


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_imports_only_the_parts_below_its_own(path: Path) -> None:
    assert arrows_against_the_direction(path) == []


@pytest.mark.parametrize("path", modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_module_stays_short(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines; split it by what its parts do"


def test_the_check_sees_late_and_upward_imports(tmp_path: Path) -> None:
    module = ROOT / "projections" / "late.py"  # never written: parsed from the text below
    source = "from vardekedja.domain import order\n\ndef f():\n    from vardekedja.runtime import Runtime\n"
    tree_path = tmp_path / "late.py"
    tree_path.write_text(source, encoding="utf-8")

    found = imported_parts(tree_path)

    assert found == [(1, "domain"), (4, "runtime")]
    assert part_of(module) == "projections"
    assert "runtime" not in MAY_IMPORT["projections"]
