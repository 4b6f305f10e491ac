"""Events a projection could not apply, kept in the views' database where every process can see them.

An event that cannot be decoded (changed bytes, an unknown topic) or that a
projection's code fails on (a value its view cannot hold) would otherwise be
retried forever and hold every view back. The projector instead isolates it
to the one projection and the one position, records a fault here, and either

- **parks** it (``VARDEKEDJA_POISON_EVENTS=park``, the default): the
  projection moves past the event and goes on; its view lacks that event's
  effect until it is rebuilt with fixed code (``vardekedja projections
  rebuild NAME``), which takes every event again and clears what it no
  longer parks; or
- **stops** that projection (``stop``): it stays just before the event while
  every other view goes on, until ``vardekedja projections resume NAME`` (once
  the code is fixed) or ``vardekedja projections skip NAME`` (park it after
  all). The audit chain always stops: it must vouch for every position in order.

While any fault is recorded, ``/readyz`` answers 503 naming it, ``vardekedja
projections status`` lists it, the metric ``vardekedja_projection_faults``
counts it, and the log named its projection and position when it happened.
``vardekedja projections faults clear [NAME]`` acknowledges parked ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.storage.types import UtcDateTime

PARKED, STOPPED = "parked", "stopped"
POLICIES = (PARKED, STOPPED)

metadata = sa.MetaData()
faults = sa.Table(
    "projection_faults",
    metadata,
    sa.Column("projection", sa.String(64), primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("topic", sa.String(200), nullable=False),
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class Fault:
    projection: str
    position: int
    action: str
    topic: str
    error: str
    at: datetime

    def describe(self) -> str:
        what = "stopped before" if self.action == STOPPED else "skipped (parked)"
        return f"{self.projection} {what} the event at position {self.position} ({self.topic}): {self.error}"


class UndecodableEvent:
    """Stands in for a stored event that could not be turned back into a domain event."""

    def __init__(self, position: int, topic: str, error: BaseException) -> None:
        self.position, self.topic, self.error = position, topic, error


def describe_error(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."


def create(connection: Connection) -> None:
    metadata.create_all(connection)


def record(connection: Connection, projection: str, position: int, action: str, topic: str, error: str) -> None:
    """Record (or re-record) the fault at a projection's position."""
    connection.execute(faults.delete().where(faults.c.projection == projection, faults.c.position == position))
    connection.execute(faults.insert().values(projection=projection, position=position, action=action,
                                              topic=topic[:200], error=error, at=datetime.now(timezone.utc)))  # fmt: skip


def all_faults(connection: Connection) -> list[Fault]:
    rows = connection.execute(faults.select().order_by(faults.c.position, faults.c.projection)).mappings()
    return [Fault(**dict(row)) for row in rows]


def has_fault(connection: Connection, projection: str) -> bool:
    found = connection.execute(sa.select(faults.c.position).where(faults.c.projection == projection).limit(1))
    return found.first() is not None


def stopped(connection: Connection) -> dict[str, int]:
    """Each stopped projection and the position of the event it stopped before."""
    rows = connection.execute(sa.select(faults.c.projection, sa.func.min(faults.c.position))
                              .where(faults.c.action == STOPPED).group_by(faults.c.projection))  # fmt: skip
    return {str(name): int(position) for name, position in rows}


def clear(connection: Connection, projection: str | None = None, *, action: str | None = None) -> int:
    """Forget faults (of one projection, of one kind); return how many."""
    statement = faults.delete()
    if projection is not None:
        statement = statement.where(faults.c.projection == projection)
    if action is not None:
        statement = statement.where(faults.c.action == action)
    return int(connection.execute(statement).rowcount or 0)


def park(connection: Connection, projection: str, position: int) -> None:
    """Turn a stop into a park: the projection then goes on past the event."""
    connection.execute(faults.update().where(faults.c.projection == projection, faults.c.position == position)
                       .values(action=PARKED))  # fmt: skip


def as_dicts(found: list[Fault]) -> list[dict[str, Any]]:
    return [{"projection": f.projection, "position": f.position, "action": f.action, "topic": f.topic,
             "error": f.error} for f in found]  # fmt: skip
