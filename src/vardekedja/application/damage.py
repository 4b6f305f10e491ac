"""Naming the damage when a stream cannot be read back: which stream, which stored event, at which position.

An aggregate is rebuilt from its stored events; when one of them was changed
(bytes that are not JSON, an unknown topic, values its class cannot take) or
removed, loading fails with whatever the decoder or the event class raised.
``StreamDamagedError`` says instead, in words an operator can act on, where
the history is damaged; the HTTP layer answers it as a 500 problem.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID


class StreamDamagedError(RuntimeError):
    """A stream's stored events cannot be turned back into its aggregate."""

    def __init__(self, stream_id: UUID, position: int | None, version: int | None, reason: str) -> None:
        where = f"position {position}" if position is not None else "an unknown position"
        at = f" (version {version})" if version is not None else ""
        super().__init__(f"the stored history of {stream_id} is damaged at {where}{at}: {reason}; nothing was "
                         "recorded, and an operator must repair the event store (vardekedja audit verify names "
                         "every damaged position)")  # fmt: skip
        self.stream_id, self.position, self.version, self.reason = stream_id, position, version, reason


def locate(app: Any, stream_id: UUID, error: BaseException) -> StreamDamagedError:
    """Find the first stored event of the stream that cannot be decoded or applied, and say where it is."""
    try:
        stored = app.recorder.select_events(stream_id)
    except Exception:  # noqa: BLE001 - the store itself fails: say what we know
        return StreamDamagedError(stream_id, None, None, f"{type(error).__name__}")
    aggregate = None
    expected = 1
    for record in stored:
        if record.originator_version != expected:
            return StreamDamagedError(stream_id, _position(app, stream_id, record.originator_version),
                                      record.originator_version,
                                      f"the event with version {expected} is missing")  # fmt: skip
        try:
            event = app.mapper.to_domain_event(record)
            aggregate = event.mutate(aggregate)
        except Exception as failed:  # noqa: BLE001 - this is the damaged one
            return StreamDamagedError(stream_id, _position(app, stream_id, record.originator_version),
                                      record.originator_version,
                                      f"its stored event cannot be read ({type(failed).__name__})")  # fmt: skip
        expected += 1
    return StreamDamagedError(stream_id, None, None, f"{type(error).__name__}")


def _position(app: Any, stream_id: UUID, version: int) -> int | None:
    """The global position (notification id) of one stored event, read from the store's table."""
    recorder = app.recorder
    table = getattr(recorder, "events_table_name", None)
    if table is None:
        return None
    try:
        with recorder.datastore.transaction(commit=False) as cursor:
            if type(recorder).__module__.startswith("eventsourcing.postgres"):
                schema = recorder.datastore.schema
                cursor.execute(f'SELECT notification_id FROM "{schema}"."{table}" WHERE originator_id = %s AND '
                               "originator_version = %s", (stream_id, version))  # fmt: skip
            else:
                cursor.execute(f"SELECT rowid FROM {table} WHERE originator_id = ? AND originator_version = ?",
                               (stream_id.hex, version))  # fmt: skip
            row = cursor.fetchone()
    except Exception:  # noqa: BLE001 - the position is a courtesy; the stream and version still say where
        return None
    if row is None:
        return None
    return int(row[0] if not isinstance(row, dict) else next(iter(row.values())))
