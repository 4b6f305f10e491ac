"""The audited log: events from the store beside the hashes the chain recorded for them.

``records`` walks both in position order. A chained position whose event is
gone, or an event below the chain head that the chain never saw, is yielded
in a form the chain check cannot accept, so tampering with the store
directly (an UPDATE, DELETE or INSERT in SQL) shows up at its position.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from eventsourcing.application import Application
from sqlalchemy.engine import Engine

from vardekedja.audit.chain import AuditChain
from vardekedja.audit.encoding import event_time, stored_data
from vardekedja.audit.keys import parse_public_key
from vardekedja.audit.verify import ChainCheck, MoneyCheck, Report

BATCH = 5000
FORMAT = "vardekedja-audit-export/1"
_LINE_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))  # one for all lines, not one per line


@dataclass(frozen=True)
class AuditedLog:
    """What the audit reads and signs: the event store, the chain, and the database that holds the chain."""

    store: Application
    chain: AuditChain
    reader: Engine
    writer: Engine


def _record(notification: Any, stored_hash: str | None) -> dict[str, Any]:
    # A damaged event is still listed at its position (with no data), so the chain check names it there.
    data = stored_data(notification.state)
    return {
        "position": notification.id, "stream_id": str(notification.originator_id),
        "version": notification.originator_version, "type": notification.topic, "time": event_time(data),
        "data": data, "hash": stored_hash,
    }  # fmt: skip


def records(log: AuditedLog, *, after: int = 0, up_to: int | None = None) -> Iterator[dict[str, Any]]:
    """Events after ``after`` up to the chain head (or ``up_to``), each with its recorded hash."""
    chain = log.chain
    with log.reader.connect() as connection:
        head = chain.position(connection) if up_to is None else up_to
    recorder = log.store.recorder
    position = after
    while position < head:
        # From the very start when asked for everything: an event slipped in before position 1 is tampering too.
        start = None if position == after == 0 else position + 1
        notifications = [n for n in recorder.select_notifications(start, BATCH) if n.id <= head]
        with log.reader.connect() as connection:
            links = {row["position"]: row for row in chain.hashes(connection, position, BATCH) if row["position"] <= head}
        # Walk only as far as both sides have been read, so a gap in one is never mistaken for an end.
        top = min(notifications[-1].id if len(notifications) == BATCH else head,
                  max(links) if len(links) == BATCH else head)  # fmt: skip
        by_position = {n.id: n for n in notifications if n.id <= top}
        for at in sorted(set(by_position) | {p for p in links if p <= top}):
            link = links.get(at)
            if at in by_position:
                yield _record(by_position[at], link["hash"] if link else None)
            elif link is not None:
                # The chain vouches for an event the store no longer has.
                yield {"position": at, "stream_id": link["stream_id"], "version": link["version"],
                       "type": "(missing)", "time": "", "data": None, "hash": "(missing)"}  # fmt: skip
        if top <= position:
            break
        position = top


def verify_store(log: AuditedLog, public_key: str | None = None) -> Report:
    """Recompute the chain from the store, compare it with the recorded hashes and checkpoints, check the money."""
    report = Report()
    check, money = ChainCheck(report), MoneyCheck()
    # Checkpoints first, then the head: every checkpoint read is then at or below the head unless
    # the chain's newest links were removed (which the check reports).
    chain = log.chain
    with log.reader.connect() as connection:
        checkpoints = chain.all_checkpoints(connection)
        head = chain.position(connection)
    for record in records(log, up_to=head):
        check.feed(record)
        if record["data"] is not None:
            money.feed(record)
    public = parse_public_key(public_key) if public_key else chain_public_key(chain)
    check.check_checkpoints(checkpoints, public)
    report.money_problems = money.problems()
    report.orders_checked = len(money.orders)
    pending = (log.store.recorder.max_notification_id() or 0) - report.head_position
    if pending > 0 and report.first_break is None:
        report.notes.append(f"{pending} newer event(s) are not chained yet")
    return report


def chain_public_key(chain: AuditChain) -> Any:
    return chain.signing_key.public_key() if chain.signing_key is not None else None


def export(log: AuditedLog, out: IO[str], *, after: int = 0,
           progress: Callable[[int, int], None] | None = None) -> tuple[int, int]:  # fmt: skip
    """Write the log after ``after`` as JSON Lines: a header, the events with their hashes, the checkpoints.

    Returns (events written, checkpoints written).
    """
    from vardekedja.audit.keys import public_key_text

    chain = log.chain
    with log.writer.begin() as connection:
        chain.sign_head(connection)
    with log.reader.connect() as connection:
        head = chain.position(connection)
        previous = chain.hash_at(connection, after)
        checkpoints = chain.all_checkpoints(connection, after)
    if previous is None:
        raise ValueError(f"position {after} is not in the chain")
    header = {"format": FORMAT, "after": after, "previous_hash": previous, "head": head,
              "public_key": public_key_text(chain.signing_key) if chain.signing_key else None}  # fmt: skip
    out.write(json.dumps(header, ensure_ascii=False) + "\n")
    count, encode = 0, _LINE_ENCODER.encode
    for record in records(log, after=after, up_to=head):
        out.write(encode({"event": record}) + "\n")
        count += 1
        if progress is not None and count % BATCH == 0:
            progress(record["position"], head)
    for checkpoint in checkpoints:
        if checkpoint["position"] <= head:
            out.write(json.dumps({"checkpoint": checkpoint}) + "\n")
    if progress is not None:
        progress(head, head)
    return count, len(checkpoints)


class ExportUnreadableError(ValueError):
    """An export (or the older one it should extend) cannot be read as one: it names the file and the line."""


def verify_file(path: Path, public_key: str | None, *, extends: Path | None = None) -> Report:
    """Check an export offline: its chain, its checkpoints against the public key, its money.

    With ``extends`` (an older export of the same log), also check that this
    one continues it unchanged: the hash at the older one's head must match.
    The older export's events before this one's start count for the money,
    so an order placed in the older range and settled in this one adds up.
    Raises ``ExportUnreadableError`` for a file that is not an export and
    ``ValueError`` for a public key that is not one.
    """
    public = parse_public_key(public_key) if public_key else None
    report = Report()
    checkpoints: list[dict[str, Any]] = []
    with _open(path) as handle:
        header = _header(path, handle)
        after = header["after"]
        check = ChainCheck(report, after, header["previous_hash"])
        older_head, start = None, after
        if extends is not None:
            older_head, start = _older_head_and_start(extends)
        money = MoneyCheck(from_start=start == 0)
        if extends is not None:
            _feed_older(extends, money, up_to=after)
        if after and extends is None:
            report.notes.append(f"export starts after position {after}: money is checked for the orders placed "
                                "within it (give --extends OLDER to count the older export's events too)")  # fmt: skip
        loads, feed_chain, feed_money = _line_reader(), check.feed, money.feed
        for number, line in enumerate(handle, start=2):
            try:
                item = loads(line)
            except json.JSONDecodeError:
                raise ExportUnreadableError(f"{path}, line {number}: not JSON") from None
            event = item.get("event") if type(item) is dict else None
            try:
                if event is not None:
                    feed_chain(event)
                    feed_money(event)
                elif type(item) is dict and "checkpoint" in item:
                    checkpoints.append(item["checkpoint"])
                else:
                    raise ExportUnreadableError(f"line {number} is neither an event nor a checkpoint")
            except (KeyError, TypeError, ValueError) as error:
                if isinstance(error, ExportUnreadableError):
                    raise ExportUnreadableError(f"{path}, {error}") from None
                raise ExportUnreadableError(f"{path}, line {number}: an event lacks a field or has one of the "
                                            f"wrong kind ({error})") from None  # fmt: skip
    if public is None:
        key_text = header.get("public_key")
        report.notes.append("no --public-key given: checkpoints checked against the key the file names")
        try:
            public = parse_public_key(key_text) if key_text else None
        except ValueError:
            raise ExportUnreadableError(f"{path}: the public key in its header is not an Ed25519 key") from None
    check.check_checkpoints(checkpoints, public)
    check.check_head_signed(after)
    report.money_problems, report.orders_checked = money.problems(), len(money.orders)
    if unseen := money.unseen_orders():
        report.notes.append(f"{len(unseen)} order(s) with payouts here were placed before position {start}, "
                            "where the history checked begins: their money is not checked")  # fmt: skip
    if older_head is not None:
        _check_extends(report, check, *older_head)
    return report


def _open(path: Path) -> IO[str]:
    try:
        return path.open(encoding="utf-8")
    except OSError as error:
        raise ExportUnreadableError(f"cannot read {path}: {error.strerror or error}") from None


def _header(path: Path, handle: IO[str]) -> dict[str, Any]:
    """The export's first line, checked: its format, the position it starts after and the hash there."""
    try:
        header = json.loads(handle.readline())
    except (json.JSONDecodeError, UnicodeDecodeError):
        header = None
    if type(header) is not dict or header.get("format") != FORMAT:
        raise ExportUnreadableError(f"{path} is not a Värdekedja audit export (its first line is not the header)")
    after, previous = header.get("after"), header.get("previous_hash")
    if type(after) is not int or after < 0 or type(previous) is not str:
        raise ExportUnreadableError(f"{path}: its header lacks the position it starts after or the hash there")
    return header


def _older_events(older: Path) -> Iterator[dict[str, Any]]:
    with _open(older) as handle:
        header = _header(older, handle)
        yield {"position": header["after"], "hash": header["previous_hash"], "header": True}
        for number, line in enumerate(handle, start=2):
            try:
                item = json.loads(line)
                event = item.get("event") if type(item) is dict else None
                if event is not None:
                    int(event["position"]), event["hash"], event["type"]  # noqa: B018 - checked for the reader
                    yield event
            except (KeyError, TypeError, ValueError):
                raise ExportUnreadableError(f"{older}, line {number}: not an event of an export") from None


def _older_head_and_start(older: Path) -> tuple[tuple[int, str], int]:
    """The older export's head (position, hash) and the position its history starts after."""
    start, head = 0, (0, "")
    for event in _older_events(older):
        if event.get("header"):
            start = event["position"]
        head = (int(event["position"]), event["hash"])
    return head, start


def _feed_older(older: Path, money: MoneyCheck, *, up_to: int) -> None:
    """Feed the older export's events up to ``up_to`` (where the newer one starts) to the money check."""
    for event in _older_events(older):
        if not event.get("header") and int(event["position"]) <= up_to:
            money.feed(event)


def _line_reader() -> Callable[[str], Any]:
    """``json.loads`` for one line of JSON Lines, with less overhead per call.

    ``raw_decode`` is the same parser without the two whitespace scans and
    calls around it; a line it does not take whole (leading or trailing
    content) goes to ``json.loads`` itself, which accepts or rejects it.
    """
    decode = json.JSONDecoder().raw_decode

    def loads(line: str) -> Any:
        try:
            value, end = decode(line)
        except json.JSONDecodeError:
            return json.loads(line)
        if line[end:].strip(" \t\n\r"):
            return json.loads(line)
        return value

    return loads


def _check_extends(report: Report, check: ChainCheck, head_position: int, head_hash: str) -> None:
    from vardekedja.audit.verify import Finding

    if check.stored.get(head_position) != head_hash:
        report.checkpoint_problems.append(Finding(head_position, "does not extend the older export",
                                                  "the history up to the older export's head differs"))  # fmt: skip
