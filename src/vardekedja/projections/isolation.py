"""Finding the one event a failed batch could not apply, and the one projection that could not apply it.

When a batch fails for a reason other than the database, the projector runs
it again for each follower (the audit chain) and each projection on its own, each in a
transaction of its own; one that fails alone goes event by event until the
event it cannot apply is found. That event is recorded as a fault (see
faults.py) and parked or stopped at, and everything else goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from eventsourcing import persistence
from eventsourcing.persistence import Notification

from vardekedja.projections import faults
from vardekedja.projections.base import ConcurrentProjectorError, Projection
from vardekedja.projections.faults import PARKED, STOPPED, describe_error

if TYPE_CHECKING:
    from vardekedja.projections.database import ViewDatabase
    from vardekedja.projections.projector import Follower

log = logging.getLogger("vardekedja.projections.projector")

# A database that is away or busy: retried as it is, never taken for an event that cannot be applied.
TRANSIENT = (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError, persistence.OperationalError,
             persistence.InterfaceError, ConnectionError, TimeoutError)  # fmt: skip


class _Unit:
    """One stored event on its way through the isolation of a failed batch."""

    __slots__ = ("position", "notification", "event")

    def __init__(self, position: int, notification: Notification, event: Any) -> None:
        self.position, self.notification, self.event = position, notification, event



class Isolation:
    """Mixed into the projector: ``database``, ``policy``, ``stopped``, ``faulted``, ``_apply`` and
    ``_sync_kept`` are its."""

    database: ViewDatabase
    policy: str
    stopped: dict[str, int]
    faulted: set[str]

    def _apply(self, projection: Projection, connection: sa.Connection, events: Sequence[tuple[int, Any]],
               old: int | None) -> None:  # fmt: skip
        raise NotImplementedError

    def _sync_kept(self, faulted: set[str]) -> None:
        raise NotImplementedError

    def _isolate(self, notifications: Sequence[Notification], events: Sequence[tuple[int, Any]],
                 followers: list[Follower], going: list[Projection]) -> None:  # fmt: skip
        """Apply the batch to each projection on its own; where one fails, event by event, and record the fault."""
        by_position = dict(events)
        units = [_Unit(n.id, n, by_position.get(n.id)) for n in notifications]
        for follower in followers:
            def follow(connection: sa.Connection, us: list[_Unit], follower: Follower = follower) -> None:
                follower.process(connection, [u.notification for u in us])

            self._isolate_one(follower.name, follow, follower.settled, None, units)
        for projection in going:
            def run(connection: sa.Connection, us: list[_Unit], projection: Projection = projection) -> None:
                self._apply(projection, connection, [(u.position, u.event) for u in us], None)

            self._isolate_one(projection.name, run, projection.settled, projection, units)

    def _isolate_one(self, name: str, run: Callable[[sa.Connection, list[_Unit]], Any],
                     settle: Callable[[bool], None], projection: Projection | None, units: list[_Unit]) -> None:  # fmt: skip
        if self._attempt(run, settle, units) is None:
            return
        for unit in units:
            error = self._attempt(run, settle, [unit])
            if error is None:
                continue
            # A follower (the audit chain) never skips: it vouches for every position, in order.
            action = PARKED if self.policy == PARKED and projection is not None else STOPPED
            text = describe_error(error)
            log.error("projection %s cannot apply the event at position %d (%s): %s; %s", name, unit.position,
                      unit.notification.topic, text,
                      "skipped it (parked) and went on" if action == PARKED else "stopped it there; the others go on")  # fmt: skip
            with self.database.writer.begin() as connection:
                faults.record(connection, name, unit.position, action, unit.notification.topic, text)
                if action == PARKED:
                    assert projection is not None
                    projection.view.advance(connection, projection.view.position(connection), unit.position)
            self._sync_kept(self.faulted | {name})
            if action == STOPPED:
                self.stopped[name] = unit.position
                return

    def _attempt(self, run: Callable[[sa.Connection, list[_Unit]], Any], settle: Callable[[bool], None],
                 units: list[_Unit]) -> BaseException | None:  # fmt: skip
        """Run in a transaction of its own; the error if it failed for a reason other than the database."""
        committed = False
        try:
            with self.database.writer.begin() as connection:
                run(connection, units)
            committed = True
            return None
        except (ConcurrentProjectorError, *TRANSIENT):
            raise
        except Exception as error:  # noqa: BLE001 - the caller records it
            return error
        finally:
            settle(committed)

