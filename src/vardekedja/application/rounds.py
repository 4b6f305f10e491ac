"""Rounds: many commands run one after another on one thread and committed in one transaction.

An event store on SQLite takes one writer at a time and each commit waits for
the disk. ``RoundsApplication.run_together`` runs the commands it is given on the
aggregates as the round has them, then commits all their events together: one
flush for the round instead of one per command, and nothing reloaded that the
round itself just changed. Between rounds the running thread keeps the
aggregates it committed, valid while nobody else has written.

A round that loses a race with another writer records nothing; its commands
then run one by one (``run_alone``), each retried on fresh state by ``retrying``.
``CommandWriter`` in command_thread.py is the thread that runs rounds in the server.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from vardekedja.domain.errors import ConcurrentUpdateError

P = ParamSpec("P")
R = TypeVar("R")

RETRIES_ON_CONFLICT = 5
# A command run in a round learns its position only when the round commits (see ``run_together``).
PENDING_POSITION = -1
# Aggregates the round-running thread keeps between rounds (see ``RoundsApplication._kept``).
KEPT_AGGREGATES = 1_000


@dataclass(frozen=True)
class Recorded:
    """What a command changed: the aggregate it is about and the global position of its last event."""

    id: UUID
    position: int



@dataclass(frozen=True)
class Outcome:
    """How one command of a round ended: its value or its error, and its last event's position."""

    value: Any = None
    error: Exception | None = None
    position: int = 0

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class _Round:
    """Saves held back to be committed together, and the aggregates as the round has changed them."""

    processing: ProcessingEvent[UUID] = field(default_factory=ProcessingEvent)
    aggregates: dict[UUID, Aggregate] = field(default_factory=dict)
    loaded: set[UUID] = field(default_factory=set)


def _with_position(value: Any, position: int) -> Any:
    """A command's result with its pending position filled in, where it has one."""
    if hasattr(value, "__dataclass_fields__") and any(f.name == "position" for f in fields(value)):
        if value.position == PENDING_POSITION:
            return replace(value, position=position)
    return value


def retrying(command: Callable[P, R]) -> Callable[P, R]:
    """Rerun a command that lost an optimistic-concurrency race, on fresh state.

    The rerun checks the rules again, so a command that no longer fits the
    state raises its domain error; one that keeps losing raises a conflict.
    """

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        for _ in range(RETRIES_ON_CONFLICT):
            try:
                return command(*args, **kwargs)
            except IntegrityError:
                continue
        raise ConcurrentUpdateError("the resource changed while the command ran; try again")

    return wrapper


class RoundsApplication(Application[UUID]):
    """An application whose commands can run alone or in rounds committed together."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._listeners: list[Callable[[int], None]] = []
        self._local = threading.local()
        # The aggregates as the round-running thread last committed them, valid while
        # nobody else has written since (``_kept_head``); only that thread touches them.
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._kept_head: int | None = None

    def on_saved(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after every save in this process (to wake a projector)."""
        self._listeners.append(listener)

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        round_ = self._round
        if round_ is not None:
            # What ProcessingEvent.collect_events does for aggregates, without its checks against
            # runtime protocols (each such isinstance() walks the protocol's attributes).
            processing = round_.processing
            for obj in objs:
                if obj is None:
                    continue
                if not isinstance(obj, Aggregate):
                    raise TypeError(f"only aggregates are saved in a round, not {type(obj).__name__}")
                processing.events.extend(obj.collect_events())
                processing.aggregates[obj.id] = round_.aggregates[obj.id] = obj
                round_.loaded.add(obj.id)
            processing.saved_kwargs.update(kwargs)
            return []
        recordings = super().save(*objs, **kwargs)
        if recordings:
            self._local.saved = recordings[-1].notification.id
            self._announce(recordings[-1].notification.id)
        return recordings

    def _announce(self, position: int) -> None:
        for listener in self._listeners:
            listener(position)

    # Rounds: many commands, one transaction.

    @property
    def _round(self) -> _Round | None:
        return getattr(self._local, "round", None)

    def run_alone(self, job: Callable[[], Any]) -> Outcome:
        """Run one command as usual (its own transactions); say where its last event landed."""
        self._local.saved = None
        try:
            value = job()
        except Exception as error:  # noqa: BLE001 - the caller gets the error through the outcome
            return Outcome(error=error)
        position = self._local.saved if self._local.saved is not None else self.position
        return Outcome(value=_with_position(value, position), position=position)

    def run_together(self, jobs: Sequence[Callable[[], Any]]) -> list[Outcome] | None:
        """Run commands one after another in this thread; commit all they record in one transaction.

        Each command sees what the earlier ones changed, as if each had been
        committed on its own. Returns one outcome per command run, in order;
        fewer than given when a command failed half-way (it changed an
        aggregate in memory and then raised), in which case the round stops
        there and the rest should run in another round. Returns None, having
        recorded nothing, when the transaction lost a race with another writer:
        run each command on its own then (``run_alone``), where conflicts are
        retried on fresh state.

        Only one thread may run rounds: the aggregates it keeps between rounds
        are its own, and are dropped whenever someone else has written.
        """
        head = self.position
        if head != self._kept_head:
            self._kept.clear()
        round_ = self._local.round = _Round()
        outcomes: list[tuple[Any, Exception | None, int]] = []
        try:
            for job in jobs:
                round_.loaded = set()
                try:
                    value, error = job(), None
                except Exception as raised:  # noqa: BLE001 - handed to the caller in the outcome
                    value, error = None, raised
                outcomes.append((value, error, len(round_.processing.events)))
                if self._drop_half_done(round_):
                    break
        except BaseException:  # not an Exception: what the round changed in memory is not to be trusted
            self._drop_kept()
            raise
        finally:
            self._local.round = None
        recordings = []
        if round_.processing.events:
            try:
                recordings = self._record(round_.processing)
            except IntegrityError:
                self._drop_kept()
                return None
            except Exception:
                self._drop_kept()
                raise
            self._take_snapshots(round_.processing)
            self._notify(recordings)
        if recordings and recordings[0].notification.id == head + 1:
            self._kept_head = recordings[-1].notification.id
            self._keep(round_.aggregates)
        elif recordings:  # someone else's events came between: what we keep may be behind
            self._drop_kept()
        else:
            self._kept_head = head
            self._keep(round_.aggregates)
        if recordings:
            self._announce(recordings[-1].notification.id)
        results = []
        for value, error, events in outcomes:
            position = recordings[events - 1].notification.id if events else head
            if error is not None:
                results.append(Outcome(error=error, position=position))
            else:
                results.append(Outcome(value=_with_position(value, position), position=position))
        return results

    def _drop_half_done(self, round_: _Round) -> bool:
        """Forget aggregates the last command touched and left changed but unsaved; True if there were any.

        Their earlier changes in the round are still recorded (they were
        collected at save time); the next load reads them from the store.
        """
        dirty = [aggregate_id for aggregate_id in round_.loaded
                 if (aggregate := round_.aggregates.get(aggregate_id)) is not None and aggregate.pending_events]  # fmt: skip
        for aggregate_id in dirty:
            del round_.aggregates[aggregate_id]
            round_.processing.aggregates.pop(aggregate_id, None)
            self._kept.pop(aggregate_id, None)
        return bool(dirty)

    def _drop_kept(self) -> None:
        self._kept.clear()
        self._kept_head = None

    def _keep(self, aggregates: dict[UUID, Aggregate]) -> None:
        for aggregate_id, aggregate in aggregates.items():
            self._kept[aggregate_id] = aggregate
            self._kept.move_to_end(aggregate_id)
        while len(self._kept) > KEPT_AGGREGATES:
            self._kept.popitem(last=False)

    # Loading.

    def _load(self, aggregate_id: UUID) -> Aggregate:
        """The aggregate: in a round, as the round has it (no copy, no query when kept); else from the store."""
        round_ = self._round
        if round_ is None:
            return self.repository.get(aggregate_id)
        round_.loaded.add(aggregate_id)
        aggregate = round_.aggregates.get(aggregate_id)
        if aggregate is None:
            aggregate = self._kept.get(aggregate_id)
            if aggregate is None:
                aggregate = self.repository.get(aggregate_id)
            round_.aggregates[aggregate_id] = aggregate
        return aggregate

    def _commit(self, subject: UUID, *aggregates: Aggregate | None) -> Recorded:
        """Save the aggregates (none: nothing to record); say where the last event stands.

        With nothing recorded, the position is the head, which covers everything
        the command saw; in a round that is the round's own, filled in at commit.
        """
        if self._round is not None:
            self.save(*aggregates)
            return Recorded(subject, PENDING_POSITION)
        if not any(aggregate is not None for aggregate in aggregates):
            return Recorded(subject, self.position)
        recordings = self.save(*aggregates)
        return Recorded(subject, recordings[-1].notification.id if recordings else self.position)

    @property
    def position(self) -> int:
        return self.recorder.max_notification_id() or 0
