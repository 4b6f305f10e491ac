"""The projector: reads the event store in order and feeds every projection, exactly once.

Each batch of events is read and decoded once, then each projection applies
the events past its own position and moves its position in the same
transaction. A projector killed at any moment leaves every view at the end of
its last committed batch; the next one starts from there, so no event is lost
and none is applied twice.

Only one projector may be active per database: ``ProjectorLock`` is a file
lock beside the SQLite files or a PostgreSQL advisory lock, and a second
projector waits for it rather than failing.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

import sqlalchemy as sa
from eventsourcing.application import Application
from eventsourcing.persistence import Notification
from filelock import FileLock, Timeout
from sqlalchemy.engine import Connection

from vardekedja.projections import faults
from vardekedja.projections.base import ConcurrentProjectorError, Projection
from vardekedja.projections.database import ViewDatabase
from vardekedja.projections.faults import PARKED, UndecodableEvent
from vardekedja.projections.isolation import TRANSIENT, Isolation

log = logging.getLogger(__name__)

BATCH_SIZE = 5000
LOCK_POLL_INTERVAL = 0.2  # how often a waiting projector tries the lock again and checks for a stop
# How long a following projector lets events gather before a batch, unless a reader waits for them.
LINGER_SECONDS = 0.01
RESUME_CHECK_SECONDS = 1.0  # how often a projector with a fault looks whether it was resumed or cleared


class Follower(Protocol):
    """Something besides the views that follows the log in the projector's transaction (the audit chain).

    It takes the stored notifications as they are, not decoded events, keeps
    its own position (``position``), skips what it has seen, and hears
    whether each batch's transaction committed (``settled``).
    """

    name: str

    def position(self, connection: Connection) -> int: ...

    def process(self, connection: Connection, notifications: Sequence[Notification]) -> int: ...

    def settled(self, committed: bool) -> None: ...


class Projector(Isolation):
    """Feeds the events of ``store`` (any eventsourcing application) to the projections and followers.

    An event one of them cannot apply is isolated to it (see isolation.py and faults.py).
    """

    def __init__(
        self,
        store: Application,
        database: ViewDatabase,
        projections: Sequence[Projection],
        *,
        batch_size: int = BATCH_SIZE,
        followers: Sequence[Follower] = (),
        linger: float = LINGER_SECONDS,
        policy: str = PARKED,
        heed_recorded_faults: bool = True,
    ) -> None:
        if policy not in faults.POLICIES:
            raise ValueError(f"the poison-event policy is {' or '.join(faults.POLICIES)}, not {policy!r}")
        self.policy = policy
        # A rebuild's builder starts afresh: a stop recorded for the live view is not its own.
        self.heed_recorded_faults = heed_recorded_faults
        self.stopped: dict[str, int] = {}  # projection (or follower) -> the position it stopped before
        self.faulted: set[str] = set()  # projections with any recorded fault, stopped or parked
        self._following = False  # run() is applying every change, so what is kept in memory may be trusted
        self._resume_checked = 0.0
        self._first_undecodable: int | None = None
        self.store = store
        self.database = database
        self.projections = list(projections)
        self.followers = list(followers)
        self.batch_size = batch_size
        self._wake = threading.Event()
        self._hurry = threading.Event()
        self.linger = linger
        self._positions: dict[str, int] | None = None
        # Every view's position in one statement, read first in each batch's transaction (see step);
        # none for a projector that only keeps the audit chain.
        self._view_positions = sa.union_all(*[
            sa.select(sa.literal(p.name).label("name"), p.view.tracking.c.position) for p in self.projections
        ]) if self.projections else None  # fmt: skip

    def refresh_positions(self) -> dict[str, int]:
        self._positions = self.database.positions(p.view for p in self.projections)
        with self.database.reader.connect() as connection:
            for follower in self.followers:
                self._positions[follower.name] = follower.position(connection)
            if self.heed_recorded_faults:
                self.stopped = {name: at for name, at in faults.stopped(connection).items() if name in self._positions}
                faulted = {fault.projection for fault in faults.all_faults(connection)}
        if self.heed_recorded_faults:
            self._sync_kept(faulted)
        return dict(self._positions)

    def _sync_kept(self, faulted: set[str]) -> None:
        """What is kept in memory of a view with a fault may be wrong or stale: keep nothing until it is cleared."""
        before, self.faulted = self.faulted, faulted
        if not self._following:
            return
        for projection in self.projections:
            if projection.kept is not None and (projection.name in faulted) != (projection.name in before):
                projection.kept.trust(projection.name not in faulted)

    @property
    def position(self) -> int:
        """The position every projection and follower that is not stopped has reached."""
        positions = self._positions if self._positions is not None else self.refresh_positions()
        going = [at for name, at in positions.items() if name not in self.stopped]
        return min(going) if going else max(positions.values(), default=0)

    def read(self, after: int, limit: int) -> list[tuple[int, Any]]:
        """The events after a position, decoded once for every projection."""
        return self._decode(self.store.recorder.select_notifications(after + 1, limit))

    def _decode(self, notifications: Sequence[Notification]) -> list[tuple[int, Any]]:
        to_event = self.store.mapper.to_domain_event
        self._first_undecodable = None
        try:
            return [(notification.id, to_event(notification)) for notification in notifications]
        except Exception:  # noqa: BLE001 - a damaged row: decode one by one, marking what cannot be read
            decoded: list[tuple[int, Any]] = []
            for notification in notifications:
                try:
                    decoded.append((notification.id, to_event(notification)))
                except Exception as error:  # noqa: BLE001 - changed bytes, bad JSON, an unknown topic
                    decoded.append((notification.id, UndecodableEvent(notification.id, notification.topic, error)))
                    if self._first_undecodable is None:
                        self._first_undecodable = notification.id
            return decoded

    def _apply(self, projection: Projection, connection: Connection, events: Sequence[tuple[int, Any]],
               old: int | None) -> None:  # fmt: skip
        if self._first_undecodable is not None:
            if old is None:
                old = projection.view.position(connection)
            for position, event in events:
                if position > old and isinstance(event, UndecodableEvent):
                    raise event.error
        projection.process_batch(connection, events, old)

    def _settle(self, committed: bool) -> None:
        for follower in self.followers:
            follower.settled(committed)
        for projection in self.projections:
            projection.settled(committed)

    def step(self) -> int:
        """Process one batch; return how many events it read (0 when caught up or everything is stopped)."""
        going = [p for p in self.projections if p.name not in self.stopped]
        followers = [f for f in self.followers if f.name not in self.stopped]
        if not going and not followers:
            return 0
        notifications = self.store.recorder.select_notifications(self.position + 1, self.batch_size)
        if not notifications:
            return 0
        assert self._positions is not None
        events = self._decode(notifications) if going else []
        # One transaction for the batch: the followers and every view's rows and position
        # commit together, which also saves a commit (and on SQLite a WAL write) per view.
        try:
            with self.database.writer.begin() as connection:
                # Each view's tracking table is read before any of its other tables is touched:
                # a rebuild's swap on PostgreSQL locks it first too, so one waits for the other.
                views = self._view_positions
                stored = dict(connection.execute(views).all()) if views is not None else {}
                for follower in followers:
                    follower.process(connection, notifications)
                for projection in going:
                    self._apply(projection, connection, events, stored[projection.name])
        except ConcurrentProjectorError as error:
            self._settle(False)
            log.warning("%s; rereading the positions", error)
            self.refresh_positions()
            return len(notifications)
        except TRANSIENT:
            self._settle(False)
            raise
        except Exception:  # noqa: BLE001 - some event in the batch cannot be applied: find it, keep the rest going
            self._settle(False)
            self._isolate(notifications, events, followers, going)
            self.refresh_positions()
            return len(notifications)
        self._settle(True)
        for follower in followers:
            self._positions[follower.name] = notifications[-1].id
        for projection in going:
            # A projection whose position was already further (after a swap) keeps that one.
            self._positions[projection.name] = max(self._positions[projection.name], events[-1][0])
        return len(notifications)

    def check_resumed(self) -> bool:
        """Whether a fault was resumed, skipped or cleared (by the command line); rereads positions if so."""
        if not self.faulted:
            return False
        with self.database.reader.connect() as connection:
            still = faults.stopped(connection)
            faulted = {fault.projection for fault in faults.all_faults(connection)}
        if faulted == self.faulted and all(still.get(name) == at for name, at in self.stopped.items()):
            return False
        self.refresh_positions()
        return True

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Process until no event is left; ``progress(done, head)`` after each batch."""
        self.refresh_positions()
        total = 0
        while True:
            count = self.step()
            total += count
            if progress is not None:
                progress(self.position, self.store.recorder.max_notification_id() or 0)
            if count == 0:
                return total

    def wake(self, *_: Any) -> None:
        """New events: process them soon (after lingering a moment for more)."""
        self._wake.set()

    def hurry(self) -> None:
        """Someone waits to read what was written: process it now, without lingering."""
        self._hurry.set()
        self._wake.set()

    def run(self, stop: threading.Event, *, poll_interval: float = 1.0, retry_interval: float = 1.0) -> None:
        """Follow the event store until ``stop`` is set.

        Woken right after each save in this process (``wake``), by PostgreSQL
        notifications, or by polling as a fallback; a reader waiting for a
        position hurries it (``hurry``). A database error is logged
        and retried after a pause; the positions in the views are the truth.
        """
        self._positions = None  # read afresh by the first step, where a database fault is retried
        self._following, self.faulted = True, set()
        try:
            self._follow(stop, poll_interval, retry_interval)
        finally:
            self._following = False

    def _follow(self, stop: threading.Event, poll_interval: float, retry_interval: float) -> None:
        while not stop.is_set():
            try:
                count = self.step()
            except Exception:  # noqa: BLE001 - a follower must outlive a passing database fault
                log.exception("projector batch failed; retrying in %.1fs", retry_interval)
                stop.wait(retry_interval)
                self._positions = None  # reread (by ``position``) when the next step begins
                continue
            if count >= self.batch_size:  # behind: go on at once
                continue
            if self.faulted and time.monotonic() - self._resume_checked >= RESUME_CHECK_SECONDS:
                self._resume_checked = time.monotonic()
                try:
                    if self.check_resumed():
                        continue
                except Exception:  # noqa: BLE001 - the next look will do
                    log.exception("could not look whether a fault was resumed or cleared")
            if count == 0:
                self._wake.wait(poll_interval)
            # Events arrive in small bursts under load, and each batch costs two commits and a
            # round of position reads whatever its size; a short linger lets a burst gather.
            # A reader waiting for its own write (``hurry``) cuts it short.
            if self.linger and not self._hurry.is_set():
                self._hurry.wait(self.linger)
            self._wake.clear()
            self._hurry.clear()


def _lock_key(settings_schema: str) -> int:
    digest = hashlib.sha256(f"vardekedja-projector:{settings_schema}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _pause(stop: threading.Event | None) -> bool:
    """Wait before trying the lock again; True if asked to stop meanwhile."""
    if stop is None:
        time.sleep(LOCK_POLL_INTERVAL)
        return False
    return stop.wait(LOCK_POLL_INTERVAL)


@contextmanager
def projector_lock(
    database: ViewDatabase, on_wait: Callable[[], None] | None = None, stop: threading.Event | None = None
) -> Iterator[bool]:
    """Hold the one-active-projector lock; call ``on_wait`` once if another holds it, then wait.

    Yields True once the lock is held, or False when ``stop`` is set while
    waiting: a projector that waits must still stop when asked (SIGTERM).
    """
    settings = database.settings
    if not settings.uses_postgres:
        lock = FileLock(str(settings.data_dir / "projector.lock"))
        timeout: float = 0
        while True:
            try:
                lock.acquire(timeout=timeout)
                break
            except Timeout:
                if timeout == 0 and on_wait is not None:
                    on_wait()
                timeout = LOCK_POLL_INTERVAL
                if stop is not None and stop.is_set():
                    yield False
                    return
        try:
            yield True
        finally:
            lock.release()
        return
    import psycopg

    assert settings.database_url is not None
    key = _lock_key(settings.database_schema)
    with psycopg.connect(settings.database_url, autocommit=True) as connection:
        waited = False
        while not connection.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()[0]:  # type: ignore[index]
            if not waited and on_wait is not None:
                on_wait()
            waited = True
            if _pause(stop):
                yield False
                return
        try:
            yield True
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


def listen_for_events(database: ViewDatabase, channel: str, wake: Callable[[], None], stop: threading.Event) -> None:
    """Wake the projector on each PostgreSQL notification of new events, until ``stop``."""
    import psycopg

    settings = database.settings
    assert settings.database_url is not None
    while not stop.is_set():
        try:
            with psycopg.connect(settings.database_url, autocommit=True) as connection:
                connection.execute(f'LISTEN "{channel}"')
                wake()  # anything written while we were not listening
                while not stop.is_set():
                    for _ in connection.notifies(timeout=0.5):
                        wake()
        except psycopg.Error:
            log.exception("lost the PostgreSQL notification channel; reconnecting")
            stop.wait(1.0)
