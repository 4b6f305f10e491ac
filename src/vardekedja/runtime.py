"""Wiring: the one place that builds the application, the views and the projector from settings.

The server, the CLI and the tests all start here, and nothing is built at
import time: constructing a ``Runtime`` opens the stores, ``close()`` lets
them go.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, TypeVar, cast

from vardekedja.application import CommandWriter, Marketplace, PaymentGateway
from vardekedja.application.settlement_follower import SettlementFollower
from vardekedja.audit.chain import AuditChain
from vardekedja.audit.keys import ensure_signing_key, load_signing_key
from vardekedja.audit.log import AuditedLog
from vardekedja.personal_data import PersonalData
from vardekedja.projections import all_projections
from vardekedja.projections.base import KeptAnswers, Projection, View
from vardekedja.projections.care import CareView
from vardekedja.projections.database import ViewDatabase
from vardekedja.projections.faults import PARKED, STOPPED
from vardekedja.projections.projector import Projector, listen_for_events, projector_lock
from vardekedja.projections.settlement import SettlementView
from vardekedja.settings import Settings
from vardekedja.stripe_gateway import StripeGateway

log = logging.getLogger(__name__)
V = TypeVar("V", bound=View)


@contextmanager
def _schema_lock(settings: Settings) -> Iterator[None]:
    """Serialise creating tables on PostgreSQL.

    The event store library redefines its functions at every start, and
    several server workers starting together then fail with "tuple
    concurrently updated"; an advisory lock makes them take turns. SQLite
    needs none (its DDL takes the database's write lock).
    """
    if not settings.uses_postgres:
        yield
        return
    import hashlib

    import psycopg

    assert settings.database_url is not None
    key = int.from_bytes(hashlib.sha256(f"vardekedja-schema:{settings.database_schema}".encode()).digest()[:8],
                         "big", signed=True)  # fmt: skip
    with psycopg.connect(settings.database_url, autocommit=True, connect_timeout=5) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (key,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (key,))


class Runtime:
    """The marketplace, its views and (optionally) an embedded projector."""

    def __init__(self, settings: Settings, *, payments: PaymentGateway | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:  # fmt: skip
        self.settings = settings
        # Now, as overdue maintenance and due inspections see it; tests move it.
        self.clock: Callable[[], datetime] = clock or (lambda: datetime.now(timezone.utc))
        if payments is None and settings.stripe_secret_key is not None:
            payments = self.stripe = StripeGateway(
                settings.stripe_secret_key.get_secret_value(),
                settings.stripe_webhook_secret.get_secret_value() if settings.stripe_webhook_secret else None,
                api_base=settings.stripe_api_base,
            )
        else:
            self.stripe = payments if isinstance(payments, StripeGateway) else None
        if not settings.uses_postgres:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        key_path, _ = ensure_signing_key(settings.data_dir)
        self.projections: list[Projection] = all_projections()
        self._views: dict[type[View], View] = {type(p.view): p.view for p in self.projections}
        self._kept: dict[str, KeptAnswers] = {}
        self._following = False  # this process's projector holds the lock and applies every change
        self.chain = AuditChain(load_signing_key(key_path))
        with _schema_lock(settings):
            self.personal_data = PersonalData.for_settings(settings)
            self.marketplace = Marketplace(
                settings.event_store_env(), platform_fee_rate=settings.fee_rate, payments=payments,
                personal_data=self.personal_data,
            )
            self.database = ViewDatabase(settings)
            outdated = self.database.outdated(self.views_list)
            self.database.create(self.views_list)
            self._rebuild(outdated)
            with self.database.writer.begin() as connection:
                self.chain.create(connection)
        self.marketplace.expected_hours = settings.maintenance_expected_hours
        self.marketplace.default_expected_hours = settings.maintenance_default_hours
        self.database.watch(self.views_list)
        self.projector = Projector(self.marketplace, self.database, self.projections, followers=[self.chain],
                                   policy=PARKED if settings.poison_events == "park" else STOPPED)
        self.settlement = SettlementFollower(self.marketplace.pay_out, self._payouts_due,
                                             base=settings.payout_retry_seconds)  # fmt: skip
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._commands: CommandWriter | None = None
        self._commands_lock = threading.Lock()

    def _rebuild(self, outdated: list[str]) -> None:
        """Rebuild, from the events, each view whose tables an older version made (see ``outdated``)."""
        from vardekedja.projections.rebuild import rebuild

        for name in outdated:
            log.warning("the %s view was made by an older version; rebuilding it from the events", name)
            rebuild(self.marketplace, self.database, name)

    @property
    def commands(self) -> CommandWriter:
        """The thread that runs the server's commands in rounds (started on first use)."""
        with self._commands_lock:
            if self._commands is None:
                self._commands = CommandWriter(self.marketplace, timeout=self.settings.command_timeout)
            return self._commands

    def command_thread_problem(self) -> str | None:
        """Why commands cannot run now (the thread stopped, or a command holds it), or None."""
        with self._commands_lock:
            writer = self._commands
        return writer.health() if writer is not None else None

    def keep(self, name: str, kept: KeptAnswers) -> None:
        """Tell ``kept`` of every change to the named view: answers read from it are kept in memory.

        Attach before the projector follows, so that what is kept is trusted
        from the projector's first batch on, never in the middle of one.
        """
        if self._following:
            raise RuntimeError("attach what is kept in memory before the projector follows")
        self._projection(name).kept = self._kept[name] = kept

    def kept(self, name: str) -> KeptAnswers | None:
        """What is kept in memory of the named view, if anything."""
        return self._kept.get(name)

    def _projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(name)

    @property
    def views_list(self) -> list[View]:
        return [projection.view for projection in self.projections]

    def view(self, kind: type[V]) -> V:
        """The live view of that class, with its queries: ``runtime.view(CatalogueView).search_published(...)``."""
        if not isinstance(kind, type):
            raise TypeError(f"name the view by its class (runtime.view(CatalogueView)), not {kind!r}")
        return cast(V, self._views[kind])

    @property
    def audited_log(self) -> AuditedLog:
        """The event store and the audit chain, as the audit reads them."""
        return AuditedLog(self.marketplace, self.chain, self.database.reader, self.database.writer)

    @property
    def channel(self) -> str:
        """The PostgreSQL notification channel the event store announces new events on."""
        return f"{self.marketplace.name.lower()}_events"

    def follow(self, *, poll_interval: float = 1.0, on_wait: Any = None) -> None:
        """Run the projector in this thread until ``stop()``: lock, then follow the event store."""
        with projector_lock(self.database, on_wait, self._stop):
            if self._stop.is_set():  # asked to stop while waiting for the lock (or just after)
                return
            if self.settings.uses_postgres:
                self._start(listen_for_events, self.database, self.channel, self.projector.wake, self._stop)
            self._start(self._inspect_while_following)
            if self.pays_out and self.settings.settle_payouts:
                self._start(self.settlement.run, self._stop)
            self._trust_kept(True)
            try:
                self.projector.run(self._stop, poll_interval=poll_interval)
            finally:
                self._trust_kept(False)

    def open_due_inspections(self) -> int:
        """Open every inspection due by now that the views do not show open yet; how many this call opened."""
        with self.database.reader.connect() as connection:
            due = self.view(CareView).due_inspections(connection, self.clock())
        return self.marketplace.open_inspections(due) if due else 0

    def _inspect_while_following(self) -> None:
        """Open due inspections now and then while this process runs the projector."""
        while not self._stop.wait(self.settings.inspection_check_seconds):
            try:
                self.open_due_inspections()
            except Exception:  # noqa: BLE001 - the next round tries again; the store decides what is open
                log.exception("opening due inspections failed; trying again later")

    @property
    def pays_out(self) -> bool:
        """Is a provider that can make transfers (Stripe Connect) configured?"""
        return hasattr(self.marketplace.payments, "transfer")

    def _payouts_due(self) -> list[dict[str, Any]]:
        with self.database.reader.connect() as connection:
            return self.view(SettlementView).due(connection)

    def _trust_kept(self, trusted: bool) -> None:
        """This process's projector is (or no longer is) the one applying every change to the views."""
        self._following = trusted
        for kept in self._kept.values():
            kept.trust(trusted)

    def start_embedded_projector(self, *, poll_interval: float = 0.05) -> None:
        """Follow in a background thread, woken after each save made through this runtime.

        The short poll matters with several server processes on SQLite: saves
        made by another process only reach the active projector by polling.
        """
        self.marketplace.on_saved(self.projector.wake)
        self._start(self.follow, poll_interval=poll_interval)

    def _start(self, target: Any, *args: Any, **kwargs: Any) -> None:
        thread = threading.Thread(target=target, args=args, kwargs=kwargs, daemon=True, name=target.__name__)
        thread.start()
        self._threads.append(thread)

    def wait_for(self, position: int, timeout: float = 2.0) -> bool:
        """Wait until the views have processed ``position``; hurry an embedded projector first."""
        self.projector.hurry()
        return self.database.wait_for(position, timeout)

    def stop(self) -> None:
        self._stop.set()
        self.projector.wake()
        self.settlement.wake.set()

    def close(self) -> None:
        with self._commands_lock:
            if self._commands is not None:
                self._commands.close()
        self.stop()
        for thread in self._threads:
            thread.join(timeout=10)
        self.database.dispose()
        self.personal_data.dispose()
        self.marketplace.close()
