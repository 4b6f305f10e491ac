"""Tampering with the audited history is caught, and the report names where the history stops being true.

Two kinds of attacker: one who edits an export file before handing it to an
auditor (checked offline by ``verify_file`` and ``vardekedja audit verify``),
and one with write access to the event store (checked by ``GET
/v1/audit/verify`` and by verifying a fresh export). The chain's hashes are
not secret, so an attacker can recompute them; what they cannot forge is the
Ed25519 signature on the checkpoints, nor the older export an auditor kept.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from tests.chain import paid_order
from tests.integration.audit_support import (
    ExportFile,
    History,
    api_client,
    audited_runtime,
    bearer,
    build_history,
    export_to,
    forged_payout_event,
    link,
    public_key,
    signed_checkpoint,
    signing_key,
    take_through_the_chain,
)
from vardekedja.audit.keys import public_key_text
from vardekedja.audit.log import verify_file
from vardekedja.audit.verify import Report
from vardekedja.cli import app as cli
from vardekedja.domain.payout import Payout
from vardekedja.runtime import Runtime

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
CHECKPOINT_EVERY = 10  # several signed checkpoints in a short history


def run_verify(path: Path, key: str | None, *, extends: Path | None = None) -> tuple[int, str]:
    """``vardekedja audit verify FILE [--public-key K] [--extends OLDER]``: its exit code and output."""
    args = ["audit", "verify", str(path)]
    if key is not None:
        args += ["--public-key", key]
    if extends is not None:
        args += ["--extends", str(extends)]
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


# An export of a known history, and an older one it extends.


@dataclass
class Exports:
    older: Path  # taken part-way through the history
    newer: Path  # the whole history
    continuation: Path  # only the events after the older export's head
    older_head: int
    head: int
    key: str  # the audit public key, base64
    signing_key: Ed25519PrivateKey  # to make a checkpoint the real key signed (as if it had leaked)
    history: History


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exports]:
    folder = tmp_path_factory.mktemp("audited")
    with audited_runtime("sqlite", folder / "data") as runtime:
        runtime.projector.batch_size = CHECKPOINT_EVERY
        runtime.chain.checkpoint_every = CHECKPOINT_EVERY
        history = build_history(runtime)
        runtime.projector.catch_up()
        older = export_to(runtime, folder / "older.jsonl")
        older_head = runtime.marketplace.position
        more = paid_order(runtime.marketplace, history.cast, history.design, quantity=5)
        take_through_the_chain(runtime, history.cast, more)
        runtime.projector.catch_up()
        newer = export_to(runtime, folder / "newer.jsonl")
        continuation = export_to(runtime, folder / "continuation.jsonl", after=older_head)
        yield Exports(older, newer, continuation, older_head, runtime.marketplace.position, public_key(runtime),
                      signing_key(runtime), history)  # fmt: skip


def edit(exports: Exports) -> ExportFile:
    """A copy of the whole-history export to tamper with."""
    return ExportFile(exports.newer)


def assert_broken_at(report: Report, path: Path, key: str, position: int, kind: str) -> None:
    assert not report.ok
    assert report.first_break is not None, report.as_dict()
    assert (report.first_break.position, report.first_break.kind) == (position, kind), report.as_dict()
    code, output = run_verify(path, key)
    assert code == 1, output
    assert f"BROKEN at position {position}: {kind}" in output, output


def test_an_untouched_export_verifies_offline_with_its_events_checkpoints_and_money(exports: Exports) -> None:
    report = verify_file(exports.newer, exports.key)

    assert report.ok, report.as_dict()
    assert report.events_checked == report.head_position == exports.head
    assert report.checkpoints_checked == len(ExportFile(exports.newer).checkpoints()) > 2
    assert report.orders_checked == len(exports.history.orders) + 1
    code, output = run_verify(exports.newer, exports.key)
    assert code == 0, output
    assert f"ok: {exports.head} events" in output
    assert f"{report.orders_checked} orders add up" in output


def test_changing_one_byte_of_an_events_data_breaks_the_chain_at_that_event(exports: Exports, tmp_path: Path) -> None:
    tampered = edit(exports)
    position = tampered.position_of(exports.history.fulfilled, "Order.Placed")
    line = tampered.lines[tampered.index_of(position)]
    assert line.count('"quantity":2') == 1
    tampered.lines[tampered.index_of(position)] = line.replace('"quantity":2', '"quantity":3')
    path = tampered.write(tmp_path / "tampered.jsonl")

    assert_broken_at(verify_file(path, exports.key), path, exports.key, position, "changed or inserted")


def test_deleting_an_event_line_is_named_by_the_position_that_is_missing(exports: Exports, tmp_path: Path) -> None:
    tampered = edit(exports)
    position = tampered.position_of(exports.history.fulfilled, "Order.PaymentReceived")
    del tampered.lines[tampered.index_of(position)]
    path = tampered.write(tmp_path / "tampered.jsonl")

    assert_broken_at(verify_file(path, exports.key), path, exports.key, position, "removed or reordered")


def test_deleting_the_last_event_line_is_caught_by_the_signed_checkpoint_of_the_head(
    exports: Exports, tmp_path: Path
) -> None:
    tampered = edit(exports)
    del tampered.lines[tampered.index_of(exports.head)]
    path = tampered.write(tmp_path / "tampered.jsonl")

    report = verify_file(path, exports.key)

    assert not report.ok
    assert report.first_break is None
    assert [(f.position, f.kind) for f in report.checkpoint_problems] == [(exports.head, "no such event")]
    code, output = run_verify(path, exports.key)
    assert code == 1
    assert f"CHECKPOINT position {exports.head}: no such event" in output


def forged_event(exports: Exports, position: int) -> dict[str, Any]:
    """A payout to the buyer that no delivery made, claiming a position in the history."""
    tampered = edit(exports)
    genuine = tampered.event(tampered.payout_position(exports.history.fulfilled, "workshop"))
    data = dict(genuine["data"], party_id={"_type_": "uuid_hex", "_data_": exports.history.cast.buyer.hex},
                amount_ore=99_999_00)  # fmt: skip
    return dict(genuine, position=position, stream_id="5c94eb85-f003-5b53-8d70-e4d346ed06ef", data=data)


def test_inserting_a_forged_event_line_breaks_the_chain_where_it_was_inserted(exports: Exports, tmp_path: Path) -> None:
    tampered = edit(exports)
    position = tampered.position_of(exports.history.in_production, "Order.Placed")
    forged = forged_event(exports, position)
    forged["hash"] = tampered.event(position)["hash"]  # the hash of the event it pushes down
    tampered.lines.insert(tampered.index_of(position), json.dumps({"event": forged}))
    path = tampered.write(tmp_path / "tampered.jsonl")

    assert_broken_at(verify_file(path, exports.key), path, exports.key, position, "changed or inserted")


def test_a_forged_event_line_whose_hash_is_chained_correctly_is_still_named_at_its_position(
    exports: Exports, tmp_path: Path
) -> None:
    tampered = edit(exports)
    position = tampered.position_of(exports.history.in_production, "Order.Placed")
    forged = forged_event(exports, position)
    forged["hash"] = link(tampered.event(position - 1)["hash"], forged)
    tampered.lines.insert(tampered.index_of(position), json.dumps({"event": forged}))
    path = tampered.write(tmp_path / "tampered.jsonl")

    assert_broken_at(verify_file(path, exports.key), path, exports.key, position, "reordered or inserted")


@pytest.mark.parametrize("distance", [1, 4], ids=["adjacent", "four apart"])
def test_swapping_two_event_lines_breaks_the_chain_at_the_earlier_position(
    exports: Exports, tmp_path: Path, distance: int
) -> None:
    tampered = edit(exports)
    first = tampered.position_of(exports.history.cancelled, "Order.Placed")
    a, b = tampered.index_of(first), tampered.index_of(first + distance)
    tampered.lines[a], tampered.lines[b] = tampered.lines[b], tampered.lines[a]
    path = tampered.write(tmp_path / "tampered.jsonl")

    assert_broken_at(verify_file(path, exports.key), path, exports.key, first, "removed or reordered")


# Checkpoints.


Change = Callable[[dict[str, Any]], dict[str, Any]]


def checkpoint_case(exports: Exports, change: Change, tmp_path: Path) -> tuple[Path, int]:
    """Change the second checkpoint of the export; return the file and that checkpoint's position."""
    tampered = edit(exports)
    checkpoints = tampered.checkpoints()
    checkpoints[1] = change(checkpoints[1])
    tampered.set_checkpoints(checkpoints)
    return tampered.write(tmp_path / "tampered.jsonl"), checkpoints[1]["position"]


def assert_checkpoint_problem(exports: Exports, path: Path, position: int, kind: str) -> None:
    report = verify_file(path, exports.key)
    assert not report.ok
    assert report.first_break is None
    assert [(f.position, f.kind) for f in report.checkpoint_problems] == [(position, kind)], report.as_dict()
    code, output = run_verify(path, exports.key)
    assert code == 1
    assert f"CHECKPOINT position {position}: {kind}" in output, output


def test_a_checkpoint_with_a_forged_signature_is_reported_at_its_position(exports: Exports, tmp_path: Path) -> None:
    def forge(checkpoint: dict[str, Any]) -> dict[str, Any]:
        signature = checkpoint["signature"]
        return dict(checkpoint, signature=("0" if signature[0] != "0" else "1") + signature[1:])

    path, position = checkpoint_case(exports, forge, tmp_path)

    assert_checkpoint_problem(exports, path, position, "bad signature")


def test_a_checkpoint_signed_with_another_key_is_reported_at_its_position(exports: Exports, tmp_path: Path) -> None:
    other = Ed25519PrivateKey.generate()
    path, position = checkpoint_case(exports, lambda c: signed_checkpoint(other, c["position"], c["head"]), tmp_path)

    assert_checkpoint_problem(exports, path, position, "bad signature")


def test_a_checkpoint_whose_head_was_edited_no_longer_carries_a_valid_signature(
    exports: Exports, tmp_path: Path
) -> None:
    path, position = checkpoint_case(exports, lambda c: dict(c, head="f" * 64), tmp_path)

    assert_checkpoint_problem(exports, path, position, "bad signature")


def test_a_genuinely_signed_checkpoint_whose_head_does_not_match_the_chain_is_reported(
    exports: Exports, tmp_path: Path
) -> None:
    # Signed by the audit key, but for another history (the head of the position before).
    def other_history(checkpoint: dict[str, Any]) -> dict[str, Any]:
        previous = ExportFile(exports.newer).event(checkpoint["position"] - 1)["hash"]
        return signed_checkpoint(exports.signing_key, checkpoint["position"], previous)

    path, position = checkpoint_case(exports, other_history, tmp_path)

    assert_checkpoint_problem(exports, path, position, "history rewritten")


# An attacker who recomputes the chain.


def rewritten(exports: Exports) -> tuple[ExportFile, int]:
    """The export with one royalty redirected to the buyer and every hash from there on recomputed.

    The money still adds up, so only the checkpoints (or an older export) can tell.
    """
    tampered = edit(exports)
    position = tampered.payout_position(exports.history.fulfilled_without_install, "designer")
    event = tampered.event(position)
    event["data"]["party_id"]["_data_"] = exports.history.cast.buyer.hex
    tampered.replace_event(event)
    tampered.rehash_from(position)
    return tampered, position


def test_rewriting_an_event_and_recomputing_every_later_hash_is_caught_by_the_signed_checkpoints(
    exports: Exports, tmp_path: Path
) -> None:
    tampered, position = rewritten(exports)
    path = tampered.write(tmp_path / "tampered.jsonl")

    report = verify_file(path, exports.key)

    assert not report.ok
    assert report.first_break is None  # the chain itself is consistent again
    checkpoints = [c["position"] for c in tampered.checkpoints()]
    after = [p for p in checkpoints if p >= position]
    assert any(p < position for p in checkpoints)  # there are earlier checkpoints too, and they stay valid
    assert [(f.position, f.kind) for f in report.checkpoint_problems] == [(p, "history rewritten") for p in after]
    code, output = run_verify(path, exports.key)
    assert code == 1
    assert f"CHECKPOINT position {after[0]}: history rewritten" in output


def test_rewriting_the_chain_and_dropping_the_checkpoints_leaves_the_head_unsigned(
    exports: Exports, tmp_path: Path
) -> None:
    tampered, _ = rewritten(exports)
    tampered.set_checkpoints([])
    path = tampered.write(tmp_path / "tampered.jsonl")

    report = verify_file(path, exports.key)

    assert not report.ok
    assert [(f.position, f.kind) for f in report.checkpoint_problems] == [(exports.head, "unsigned head")]
    code, output = run_verify(path, exports.key)
    assert code == 1
    assert f"CHECKPOINT position {exports.head}: unsigned head" in output


def test_rewriting_the_chain_and_signing_it_with_another_key_fails_against_the_audit_public_key(
    exports: Exports, tmp_path: Path
) -> None:
    tampered, _ = rewritten(exports)
    other = Ed25519PrivateKey.generate()
    tampered.set_checkpoints([signed_checkpoint(other, c["position"], tampered.event(c["position"])["hash"])
                              for c in tampered.checkpoints()])  # fmt: skip
    tampered.lines[0] = json.dumps(dict(tampered.header, public_key=public_key_text(other)))
    path = tampered.write(tmp_path / "tampered.jsonl")

    report = verify_file(path, exports.key)

    assert not report.ok
    assert {f.kind for f in report.checkpoint_problems} == {"bad signature"}
    code, output = run_verify(path, exports.key)
    assert code == 1
    assert "bad signature" in output


# An export that continues an older one.


def test_a_newer_export_extends_an_older_one_it_continues_unchanged(exports: Exports) -> None:
    report = verify_file(exports.newer, exports.key, extends=exports.older)

    assert report.ok, report.as_dict()
    code, output = run_verify(exports.newer, exports.key, extends=exports.older)
    assert code == 0, output


def test_an_export_of_only_the_newer_events_extends_the_older_export(exports: Exports) -> None:
    report = verify_file(exports.continuation, exports.key, extends=exports.older)

    assert report.ok, report.as_dict()
    assert report.events_checked == exports.head - exports.older_head
    code, output = run_verify(exports.continuation, exports.key, extends=exports.older)
    assert code == 0, output


def test_a_newer_export_tampered_within_the_older_range_does_not_extend_it(exports: Exports, tmp_path: Path) -> None:
    tampered = edit(exports)
    position = tampered.position_of(exports.history.cancelled, "Order.Refunded")
    assert position <= exports.older_head
    event = tampered.event(position)
    event["data"]["amount_ore"] -= 1
    tampered.replace_event(event)
    path = tampered.write(tmp_path / "tampered.jsonl")

    report = verify_file(path, exports.key, extends=exports.older)

    assert not report.ok
    assert report.first_break is not None and report.first_break.position == position
    assert (exports.older_head, "does not extend the older export") in [
        (f.position, f.kind) for f in report.checkpoint_problems
    ]
    code, output = run_verify(path, exports.key, extends=exports.older)
    assert code == 1
    assert f"CHECKPOINT position {exports.older_head}: does not extend the older export" in output


def test_a_history_rewritten_and_resigned_with_the_real_key_is_still_caught_by_the_older_export(
    exports: Exports, tmp_path: Path
) -> None:
    # As if the signing key had leaked: the rewritten file is consistent and validly signed.
    tampered, position = rewritten(exports)
    assert position <= exports.older_head
    tampered.set_checkpoints([signed_checkpoint(exports.signing_key, c["position"],
                                                tampered.event(c["position"])["hash"])
                              for c in tampered.checkpoints()])  # fmt: skip
    path = tampered.write(tmp_path / "tampered.jsonl")
    assert verify_file(path, exports.key).checkpoint_problems == []

    report = verify_file(path, exports.key, extends=exports.older)

    assert not report.ok
    assert [(f.position, f.kind) for f in report.checkpoint_problems] == [
        (exports.older_head, "does not extend the older export")
    ]
    code, output = run_verify(path, exports.key, extends=exports.older)
    assert code == 1
    assert f"CHECKPOINT position {exports.older_head}: does not extend the older export" in output


# Money that does not add up, in a consistent and validly signed history.


def test_an_export_with_a_wrong_platform_fee_is_reported_naming_the_order(exports: Exports, tmp_path: Path) -> None:
    tampered = edit(exports)
    order = exports.history.fulfilled
    position = tampered.position_of(order, "Order.Placed")
    event = tampered.event(position)
    event["data"]["lines"][0]["unit_platform_fee_ore"] += 1
    tampered.replace_event(event)
    tampered.rehash_from(position)
    tampered.set_checkpoints([signed_checkpoint(exports.signing_key, c["position"],
                                                tampered.event(c["position"])["hash"])
                              for c in tampered.checkpoints()])  # fmt: skip
    path = tampered.write(tmp_path / "tampered.jsonl")

    report = verify_file(path, exports.key)

    assert report.first_break is None and report.checkpoint_problems == []
    assert [problem["order_id"] for problem in report.money_problems] == [str(order)]
    assert any("platform fee is not 1/10" in reason for reason in report.money_problems[0]["problems"])
    code, output = run_verify(path, exports.key)
    assert code == 1
    assert f"MONEY order {order}: line 1: platform fee is not 1/10" in output


# Tampering with the event store itself.


class EventTable:
    """The event store's table, reached around the application, as an attacker with database access would."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        settings = runtime.settings
        self.postgres = settings.uses_postgres
        if self.postgres:
            self.table = f'"{settings.database_schema}".marketplace_events'
            self.position, self.placeholder = "notification_id", "%s"
        else:
            self.table, self.position, self.placeholder = "stored_events", "rowid", "?"

    def execute(self, statement: str, *params: Any) -> list[Any]:
        statement = statement.format(table=self.table, position=self.position).replace("?", self.placeholder)
        if self.postgres:
            import psycopg

            assert self.runtime.settings.database_url is not None
            with psycopg.connect(self.runtime.settings.database_url) as connection:
                cursor = connection.execute(statement, params)
                return cursor.fetchall() if cursor.description else []
        connection = sqlite3.connect(self.runtime.settings.data_dir / "events.sqlite3")
        try:
            with connection:
                return connection.execute(statement, params).fetchall()
        finally:
            connection.close()

    def state(self, position: int) -> bytes:
        (row,) = self.execute("SELECT state FROM {table} WHERE {position} = ?", position)
        return bytes(row[0])

    def update_state(self, position: int, state: bytes) -> None:
        self.execute("UPDATE {table} SET state = ? WHERE {position} = ?", state, position)

    def delete(self, position: int) -> None:
        self.execute("DELETE FROM {table} WHERE {position} = ?", position)

    def insert(self, position: int, stored: Any) -> None:
        originator = stored.originator_id if self.postgres else stored.originator_id.hex
        self.execute("INSERT INTO {table} ({position}, originator_id, originator_version, topic, state) "
                     "VALUES (?, ?, ?, ?, ?)", position, originator, stored.originator_version, stored.topic,
                     stored.state)  # fmt: skip

    def positions(self) -> list[int]:
        return [row[0] for row in self.execute("SELECT {position} FROM {table} ORDER BY {position}")]

    def skip_a_position(self) -> int:
        """Leave a gap in the numbering, as a rolled-back transaction does on PostgreSQL; return it."""
        assert self.postgres
        sequence = self.table.replace("marketplace_events", "marketplace_events_notification_id_seq")
        (row,) = self.execute(f"SELECT nextval('{sequence}')")
        return int(row[0])


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Runtime, History]]:
    """A runtime with the known history, chained and projected."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with audited_runtime(request.param, tmp_path / "data", url) as runtime:
        history = build_history(runtime)
        runtime.projector.catch_up()
        yield runtime, history


def position_of(runtime: Runtime, stream_id: Any, type_suffix: str) -> int:
    notifications = runtime.marketplace.recorder.select_notifications(1, 10_000)
    return next(n.id for n in notifications if n.originator_id == stream_id and n.topic.endswith(type_suffix))


def verified_through_the_api(runtime: Runtime, history: History) -> dict[str, Any]:
    with api_client(runtime) as client:
        response = client.get("/v1/audit/verify", headers=bearer(history.auditor_key))
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def verified_export(runtime: Runtime, tmp_path: Path) -> Report:
    return verify_file(export_to(runtime, tmp_path / "fresh.jsonl"), public_key(runtime))


def assert_store_broken_at(runtime: Runtime, history: History, tmp_path: Path, position: int, kind: str) -> None:
    body = verified_through_the_api(runtime, history)
    assert body["ok"] is False
    assert (body["first_break"]["position"], body["first_break"]["kind"]) == (position, kind), body
    path = export_to(runtime, tmp_path / "fresh.jsonl")
    report = verify_file(path, public_key(runtime))
    assert not report.ok
    assert report.first_break is not None
    assert (report.first_break.position, report.first_break.kind) == (position, kind), report.as_dict()
    code, output = run_verify(path, public_key(runtime))
    assert code == 1
    assert f"BROKEN at position {position}: {kind}" in output


def test_an_untouched_store_verifies_through_the_api_and_through_a_fresh_export(
    store: tuple[Runtime, History], tmp_path: Path
) -> None:
    runtime, history = store

    body = verified_through_the_api(runtime, history)

    assert body["ok"] is True, body
    assert body["events_checked"] == body["head_position"] == runtime.marketplace.position
    assert body["orders_checked"] == len(history.orders)
    assert verified_export(runtime, tmp_path).ok


def test_an_update_of_one_events_state_in_the_store_is_named_at_its_position(
    store: tuple[Runtime, History], tmp_path: Path
) -> None:
    runtime, history = store
    table = EventTable(runtime)
    position = position_of(runtime, history.fulfilled, "Order.PaymentReceived")
    state = table.state(position)
    assert state.count(b'"amount_ore":') == 1
    table.update_state(position, state.replace(b'"amount_ore":', b'"amount_ore":1'))

    assert_store_broken_at(runtime, history, tmp_path, position, "changed or inserted")


def test_a_delete_of_one_event_from_the_store_is_named_at_its_position(
    store: tuple[Runtime, History], tmp_path: Path
) -> None:
    runtime, history = store
    table = EventTable(runtime)
    position = position_of(runtime, history.cancelled, "Order.Refunded")
    table.delete(position)

    assert_store_broken_at(runtime, history, tmp_path, position, "removed")


def test_after_a_delete_the_events_page_still_shows_the_chain_hash_of_every_later_event(
    store: tuple[Runtime, History]
) -> None:
    runtime, history = store
    position = runtime.marketplace.position // 2
    EventTable(runtime).delete(position)

    with api_client(runtime) as client:
        response = client.get("/v1/audit/events", params={"after": position - 2, "limit": 3},
                              headers=bearer(history.auditor_key))  # fmt: skip

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [item["position"] for item in items] == [position - 1, position + 1, position + 2]
    assert all(item["hash"] for item in items), items


def test_an_insert_of_a_forged_event_before_the_first_one_is_named_at_its_position(
    store: tuple[Runtime, History], tmp_path: Path
) -> None:
    # Below the chain head there is no free position but the ones before the first event
    # (SQLite numbers without gaps); an event there is still one the chain never saw.
    runtime, history = store
    table = EventTable(runtime)
    table.insert(0, forged_payout_event(runtime, history.fulfilled, history.cast.buyer, 99_999_00))

    assert_store_broken_at(runtime, history, tmp_path, 0, "reordered or inserted")


@pytest.mark.postgres
def test_an_insert_of_a_forged_event_into_a_gap_in_the_numbering_is_named_at_its_position(
    postgres_url: str, tmp_path: Path
) -> None:
    with audited_runtime("postgres", tmp_path / "data", postgres_url) as runtime:
        table = EventTable(runtime)
        history = build_history(runtime)
        gap = table.skip_a_position()
        paid_order(runtime.marketplace, history.cast, history.design)
        runtime.projector.catch_up()
        assert gap not in table.positions() and gap < runtime.marketplace.position
        assert verified_through_the_api(runtime, history)["ok"] is True  # a gap alone is not tampering

        table.insert(gap, forged_payout_event(runtime, history.fulfilled, history.cast.buyer, 99_999_00))

        assert_store_broken_at(runtime, history, tmp_path, gap, "changed or inserted")


def test_a_payout_owed_with_a_wrong_amount_is_reported_naming_its_order(
    store: tuple[Runtime, History], tmp_path: Path
) -> None:
    runtime, history = store
    order = runtime.marketplace.order(history.in_production)
    line = order.line(1)
    # Saved straight to the store, past the rules: the designer owed one öre too much for an undelivered line.
    runtime.marketplace.save(Payout(order_id=order.id, line_no=1, party_id=line.designer_id, role="designer",
                                    amount_ore=line.royalty_ore * line.quantity + 1, reason="royalty"))  # fmt: skip
    runtime.projector.catch_up()  # chained like any other event: the chain cannot know it is wrong

    body = verified_through_the_api(runtime, history)

    assert body["ok"] is False
    assert body["first_break"] is None and body["checkpoint_problems"] == []
    due = line.royalty_ore * line.quantity
    expected = f"line 1: designer is owed {due + 1} öre, not {due}"
    assert body["money_problems"] == [{"order_id": str(order.id), "problems": [expected]}]
    path = export_to(runtime, tmp_path / "fresh.jsonl")
    assert verify_file(path, public_key(runtime)).money_problems == body["money_problems"]
    code, output = run_verify(path, public_key(runtime))
    assert code == 1
    assert f"MONEY order {order.id}: {expected}" in output


def test_deleting_the_newest_events_with_their_chain_links_is_caught_by_the_signed_checkpoint(
    store: tuple[Runtime, History], tmp_path: Path
) -> None:
    runtime, history = store
    with runtime.database.writer.begin() as connection:
        signed = runtime.chain.sign_head(connection)
    assert signed is not None
    head = signed[0]
    EventTable(runtime).delete(head)
    with runtime.database.writer.begin() as connection:
        connection.execute(runtime.chain.links.delete().where(runtime.chain.links.c.position == head))

    body = verified_through_the_api(runtime, history)

    assert body["ok"] is False
    assert body["first_break"] is None
    assert [(f["position"], f["kind"]) for f in body["checkpoint_problems"]] == [(head, "no such event")]


# The commands, end to end on a data folder.


def test_the_command_line_exports_the_history_verifies_it_and_replays_it_as_of_a_moment(tmp_path: Path) -> None:
    folder = tmp_path / "data"
    with audited_runtime("sqlite", folder) as runtime:
        history = build_history(runtime)  # recorded, not yet chained: the export chains it first
        head, key = runtime.marketplace.position, public_key(runtime)
    env = {"VARDEKEDJA_DATA_DIR": str(folder), "VARDEKEDJA_DATABASE_URL": ""}
    path = tmp_path / "export.jsonl"

    exported = CliRunner().invoke(cli, ["audit", "export", str(path)], env=env)
    code, verified = run_verify(path, key)
    now = datetime.now(timezone.utc).isoformat()
    replayed = CliRunner().invoke(cli, ["audit", "replay", "--as-of", now, "--into", str(tmp_path / "replay")],
                                  env=env)  # fmt: skip

    assert exported.exit_code == 0, exported.output
    assert f"exported {head} events" in exported.output
    assert code == 0, verified
    assert f"ok: {head} events" in verified
    assert replayed.exit_code == 0, replayed.output
    orders = next(line for line in replayed.output.splitlines() if line.startswith("│ orders "))
    assert f" {len(history.orders)} " in orders


def test_an_export_with_a_line_that_is_neither_an_event_nor_a_checkpoint_cannot_be_read(
    exports: Exports, tmp_path: Path
) -> None:
    tampered = edit(exports)
    tampered.lines.insert(3, json.dumps({"note": "nothing to see"}))
    path = tampered.write(tmp_path / "tampered.jsonl")

    with pytest.raises(ValueError, match="line 4 is neither an event nor a checkpoint"):
        verify_file(path, exports.key)
    code, _ = run_verify(path, exports.key)
    assert code == 2
