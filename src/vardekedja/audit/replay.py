"""The state of things as of a moment: every view replayed from the events up to then, and any stream's state."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from eventsourcing.application import Application

from vardekedja.projections import all_projections
from vardekedja.projections.database import ViewDatabase
from vardekedja.settings import Settings

BATCH = 2000


def replay_views(store: Application, as_of: datetime, into: Path,
                 progress: Callable[[int, int], None] | None = None) -> dict[str, dict[str, int]]:  # fmt: skip
    """Rebuild every view from the events stamped at or before ``as_of`` into a SQLite database in ``into``.

    Returns, per view table, its row count (and for tables with a status, the count per status).
    """
    if as_of.tzinfo is None:
        raise ValueError("give the time with its UTC offset")
    target = ViewDatabase(Settings(data_dir=into, database_url=None))
    projections = all_projections()
    target.create(p.view for p in projections)
    recorder, to_event = store.recorder, store.mapper.to_domain_event
    head, position = recorder.max_notification_id() or 0, 0
    try:
        while notifications := recorder.select_notifications(position + 1, BATCH):
            position = notifications[-1].id
            events = [(n.id, event) for n in notifications if (event := to_event(n)).timestamp <= as_of]
            if events:
                for projection in projections:
                    with target.writer.begin() as connection:
                        projection.process_batch(connection, events)
            if progress is not None:
                progress(position, head)
        return _summary(target, projections)
    finally:
        target.dispose()


def _summary(database: ViewDatabase, projections: list[Any]) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    with database.reader.connect() as connection:
        for projection in projections:
            for table in projection.view.metadata.tables.values():
                if table.name.endswith("_tracking"):
                    continue
                counts = {"rows": connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()}
                if "status" in table.c:
                    for status, count in connection.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status)):
                        counts[f"status={status}"] = count
                summary[table.name] = counts
    return summary


def plain_state(value: Any) -> Any:
    """An aggregate's state as JSON-ready values."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, UUID | Fraction | datetime):
        return str(value) if not isinstance(value, datetime) else value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain_state(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(plain_state(key)): plain_state(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain_state(item) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(plain_state(item) for item in value)
    return value


def aggregate_state(aggregate: Any) -> dict[str, Any]:
    state = {key.lstrip("_"): plain_state(value) for key, value in vars(aggregate).items()
             if key not in ("_pending_events",)}  # fmt: skip
    state["type"] = type(aggregate).__name__
    return state
