"""The audit commands as a person runs them: what they check, what they say, and how they exit.

Exit codes: 0 done (and for verify, the history checks out); 1 verify found a problem in the history;
2 the command could not do its work (a missing or unreadable file, not an export, a bad key or time, a
folder it cannot write). No traceback in any case.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from tests.chain import paid_order, published_design, register_cast
from tests.integration.audit_support import audited_runtime, export_to, public_key, take_through_the_chain
from vardekedja.cli import app as cli


@dataclass
class Exported:
    folder: Path  # the data folder
    older: Path  # the history up to a paid order
    continuation: Path  # only what came after: that order made, delivered and installed
    whole: Path
    key: str
    older_head: int
    head: int


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    root = tmp_path_factory.mktemp("audit_cli")
    with audited_runtime("sqlite", root / "data") as runtime:
        app = runtime.marketplace
        cast = register_cast(app)
        order = paid_order(app, cast, published_design(app, cast))
        runtime.projector.catch_up()
        older = export_to(runtime, root / "older.jsonl")
        older_head = app.position
        take_through_the_chain(runtime, cast, order)  # payouts owed now, for an order placed in the older range
        runtime.projector.catch_up()
        continuation = export_to(runtime, root / "continuation.jsonl", after=older_head)
        whole = export_to(runtime, root / "whole.jsonl")
        yield Exported(root / "data", older, continuation, whole, public_key(runtime), older_head, app.position)


def run(*args: str, folder: Path | None = None) -> tuple[int, str]:
    env = {"VARDEKEDJA_DATA_DIR": str(folder), "VARDEKEDJA_DATABASE_URL": ""} if folder else {}
    result = CliRunner().invoke(cli, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


def test_a_continuation_verified_against_the_older_export_counts_the_older_orders_money(exported: Exported) -> None:
    code, output = run("audit", "verify", str(exported.continuation), "--public-key", exported.key,
                       "--extends", str(exported.older))  # fmt: skip

    assert code == 0, output
    assert "never placed" not in output
    assert f"ok: {exported.head - exported.older_head} events" in output and "1 orders add up" in output


def test_a_continuation_alone_says_which_orders_it_cannot_check_instead_of_failing(exported: Exported) -> None:
    code, output = run("audit", "verify", str(exported.continuation), "--public-key", exported.key)

    assert code == 0, output
    assert "placed before position" in output and "--extends" in output


def test_an_export_into_a_folder_that_does_not_exist_says_so_and_exits_2(exported: Exported, tmp_path: Path) -> None:
    target = tmp_path / "nowhere" / "x.jsonl"

    code, output = run("audit", "export", str(target), folder=exported.folder)

    assert code == 2 and f"cannot write {target}" in output, output
    assert not target.exists()


def test_a_bad_public_key_is_blamed_on_the_key_not_on_the_file(exported: Exported) -> None:
    code, output = run("audit", "verify", str(exported.whole), "--public-key", "not-a-key")

    assert code == 2, output
    assert "--public-key" in output and "not an Ed25519 public key" in output
    assert str(exported.whole) not in output


@pytest.mark.parametrize("kind", ["missing", "not an export", "a directory"])
def test_a_file_that_cannot_be_checked_exits_2_and_says_why(kind: str, tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    if kind == "not an export":
        path.write_text("hello\n", encoding="utf-8")
    elif kind == "a directory":
        path.mkdir()

    code, output = run("audit", "verify", str(path))

    assert code == 2, output
    assert str(path) in output.replace("\n", "")


def test_a_history_that_does_not_check_out_exits_1(exported: Exported, tmp_path: Path) -> None:
    lines = exported.whole.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace('"version":1', '"version":7', 1) if '"version":1' in lines[3] else lines[3] + " "
    changed = tmp_path / "changed.jsonl"
    changed.write_text("\n".join(lines) + "\n", encoding="utf-8")

    code, output = run("audit", "verify", str(changed), "--public-key", exported.key)

    assert code == 1, output
    assert "BROKEN at position" in output


def test_every_audit_command_documents_its_exit_codes() -> None:
    for command in ("export", "verify", "replay"):
        code, output = run("audit", command, "--help")
        assert code == 0 and "Exits 0" in output and "2" in output, output
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert "exit codes" in readme.lower()


def test_replay_says_what_it_replayed_and_names_the_views_as_people_know_them(exported: Exported,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    now = datetime.now(timezone.utc).astimezone(timezone(timedelta(hours=1)))
    code, output = run("audit", "replay", "--as-of", now.isoformat(), "--into", str(tmp_path / "r"),
                       folder=exported.folder)  # fmt: skip

    assert code == 0, output
    assert f"replayed {exported.head} events, up to position {exported.head} at " in output
    assert "orders_orders" not in output and "catalogue_designs" not in output
    assert "production orders" in output and "order lines" in output and "designs" in output


def test_replay_takes_a_local_stockholm_time_without_an_offset(exported: Exported, tmp_path: Path) -> None:
    time.sleep(1.1)  # so that this second, written without fractions, is after every event
    stockholm = datetime.now(ZoneInfo("Europe/Stockholm")).replace(microsecond=0)
    as_typed = stockholm.strftime("%Y-%m-%dT%H:%M:%S")  # no offset, as a person in Stockholm writes it

    code, output = run("audit", "replay", "--as-of", as_typed, "--into", str(tmp_path / "r"), folder=exported.folder)

    assert code == 0, output
    assert f"the last event at or before {stockholm.isoformat()}" in output.replace("\n", "")


def test_a_local_time_before_the_history_is_refused_with_the_stockholm_offset_applied(exported: Exported,
                                                                                       tmp_path: Path) -> None:  # fmt: skip
    stockholm = (datetime.now(ZoneInfo("Europe/Stockholm")) - timedelta(hours=3)).replace(second=0, microsecond=0)

    code, output = run("audit", "replay", "--as-of", stockholm.strftime("%Y-%m-%dT%H:%M"), "--into",
                       str(tmp_path / "r"), folder=exported.folder)  # fmt: skip

    assert code == 2, output
    assert "before the history began" in output and stockholm.isoformat() in output.replace("\n", "")


@pytest.mark.parametrize("when, says", [
    ("2020-01-01T00:00:00+01:00", "before the history began"),
    ("2999-01-01T00:00:00+00:00", "in the future"),
    ("yesterday", "is not a time"),
    ("26/11/2026 15:00", "is not a time"),
])  # fmt: skip
def test_replay_refuses_a_time_it_cannot_replay_and_says_why(exported: Exported, tmp_path: Path, when: str,
                                                             says: str) -> None:  # fmt: skip
    code, output = run("audit", "replay", "--as-of", when, "--into", str(tmp_path / "r"), folder=exported.folder)

    assert code == 2, output
    assert says in output and "%Y" not in output


def test_long_commands_written_to_a_pipe_print_a_summary_without_progress_bars(exported: Exported,
                                                                              tmp_path: Path) -> None:  # fmt: skip
    exported_code, export_output = run("audit", "export", str(tmp_path / "x.jsonl"), folder=exported.folder)
    rebuilt_code, rebuild_output = run("projections", "rebuild", "orders", folder=exported.folder)

    assert exported_code == 0 and rebuilt_code == 0, export_output + rebuild_output
    for output in (export_output, rebuild_output):
        assert "\r" not in output and "━" not in output, output
    assert f"exported {exported.head} events" in export_output
    assert f"rebuilt orders up to position {exported.head}" in rebuild_output
