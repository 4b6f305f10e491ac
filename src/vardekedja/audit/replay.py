"""The state of things as of a moment: every view replayed from the events up to then, and any stream's state."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from eventsourcing.application import Application

from vardekedja.projections import all_projections
from vardekedja.projections.database import ViewDatabase
from vardekedja.settings import Settings

BATCH = 2000
LOCAL_TIME = ZoneInfo("Europe/Stockholm")

# The views' tables as people know them; tables that only serve a query (links, search indexes, copies of
# each workshop's reach) are left out of the summary. A view added later shows under its own table names.
KNOWN_AS = {
    "organisations_organisations": "organisations", "organisations_api_keys": "API keys",
    "catalogue_designs": "designs", "orders_orders": "orders", "orders_lines": "order lines",
    "production_orders": "production orders", "deliveries_deliveries": "deliveries", "payouts_payouts": "payouts",
    "care_assets": "assets", "care_maintenance_orders": "maintenance orders",
}  # fmt: skip
HELPERS = {
    "catalogue_materials", "catalogue_capabilities", "catalogue_workshop_capabilities", "catalogue_workshop_areas",
    "catalogue_installer_areas", "orders_links", "orders_parties", "production_capabilities",
    "production_workshop_capabilities", "production_workshop_areas", "production_sites", "deliveries_buyers",
    "care_names", "care_pieces",
}  # fmt: skip


class ReplayRefusedError(ValueError):
    """A moment the history cannot be replayed to (before it began, or in the future)."""


def parse_moment(text: str) -> datetime:
    """ISO 8601 with or without an offset; without one, the time is Stockholm's (summer time included)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f"{text!r} is not a time; write it like 2026-11-26T15:00 (Stockholm time) or "
                         "2026-11-26T15:00:00+01:00") from None  # fmt: skip
    return moment.replace(tzinfo=LOCAL_TIME) if moment.tzinfo is None else moment


@dataclass(frozen=True)
class Replayed:
    """What a replay covered and what the views held then."""

    as_of: datetime
    events: int  # events stamped at or before as_of
    last_position: int  # the last of them
    last_time: datetime
    head: int  # the store's head when the replay ran
    summary: dict[str, dict[str, int]]

    def describe(self) -> str:
        local = self.last_time.astimezone(LOCAL_TIME).isoformat(timespec="seconds")
        later = self.head - self.last_position
        return (f"replayed {self.events:,} events, up to position {self.last_position:,} at {local} "
                f"(the last event at or before {self.as_of.isoformat()}); {later:,} later events were left out")


def replay_views(store: Application, as_of: datetime, into: Path,
                 progress: Callable[[int, int], None] | None = None, *,
                 now: datetime | None = None) -> Replayed:  # fmt: skip
    """Rebuild every view from the events stamped at or before ``as_of`` into a SQLite database in ``into``.

    Refuses (``ReplayRefusedError``) a moment before the first event or after ``now``. Returns what was
    replayed and, per view table people know, its row count (and the count per status where it has one).
    """
    if as_of.tzinfo is None:
        raise ValueError("give the time with its UTC offset")
    recorder, to_event = store.recorder, store.mapper.to_domain_event
    _check_moment(as_of, recorder, to_event, now or datetime.now(timezone.utc))
    target = ViewDatabase(Settings(data_dir=into, database_url=None))
    projections = all_projections()
    target.create(p.view for p in projections)
    head, position, count, last = recorder.max_notification_id() or 0, 0, 0, (0, as_of)
    try:
        while notifications := recorder.select_notifications(position + 1, BATCH):
            position = notifications[-1].id
            events = [(n.id, event) for n in notifications if (event := to_event(n)).timestamp <= as_of]
            if events:
                count += len(events)
                last = (events[-1][0], events[-1][1].timestamp)
                for projection in projections:
                    with target.writer.begin() as connection:
                        projection.process_batch(connection, events)
            if progress is not None:
                progress(position, head)
        return Replayed(as_of, count, last[0], last[1], max(head, position), _summary(target, projections))
    finally:
        target.dispose()


def _check_moment(as_of: datetime, recorder: Any, to_event: Any, now: datetime) -> None:
    first = recorder.select_notifications(1, 1)
    if not first:
        raise ReplayRefusedError("the event store is empty: there is nothing to replay")
    began = to_event(first[0]).timestamp
    if as_of < began:
        raise ReplayRefusedError(f"{as_of.isoformat()} is before the history began (the first event is at "
                                 f"{began.astimezone(LOCAL_TIME).isoformat(timespec='seconds')}): nothing had "
                                 "happened yet")  # fmt: skip
    if as_of > now:
        raise ReplayRefusedError(f"{as_of.isoformat()} is in the future (it is now "
                                 f"{now.astimezone(LOCAL_TIME).isoformat(timespec='seconds')}); the views as they "
                                 "stand now are the live ones")  # fmt: skip


def _known_as(view: str, table: str) -> str:
    """A table no one has named yet: "assets" for assets_assets, "maintenance orders" for maintenance_orders."""
    base = table.removeprefix(f"{view}_")
    return (base if base == view else f"{view} {base}").replace("_", " ")


def _summary(database: ViewDatabase, projections: list[Any]) -> dict[str, dict[str, int]]:
    summary: dict[str, dict[str, int]] = {}
    with database.reader.connect() as connection:
        for projection in projections:
            for table in projection.view.metadata.tables.values():
                if table.name.endswith("_tracking") or table.name in HELPERS:
                    continue
                counts = {"rows": connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()}
                if "status" in table.c:
                    for status, count in connection.execute(sa.select(table.c.status, sa.func.count()).group_by(table.c.status)):
                        counts[f"status={status}"] = count
                summary[KNOWN_AS.get(table.name) or _known_as(projection.view.name, table.name)] = counts
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
