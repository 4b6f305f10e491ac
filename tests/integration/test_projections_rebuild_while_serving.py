"""Rebuilding every view while the service runs: readers never see an error, a gap or a step back.

An embedded projector follows a writer that keeps placing and paying orders,
readers query the views in a loop, and meanwhile each view is rebuilt beside
the live one and swapped in. Some writes land just after a rebuild has caught
up and before it swaps, so the swap must take them in. Afterwards the views
equal a fresh rebuild.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from fractions import Fraction
from uuid import UUID

import pytest
import sqlalchemy as sa

from tests.chain import SITE, Cast, published_design, register_cast, window
from tests.conftest import RecordingRefunds
from tests.integration.views_support import (
    backend_settings,
    differences,
    rebuilt_elsewhere,
    snapshot,
    stored_tables,
    table_names,
)
from tests.soak import soak
from tests.unit.builders import org_number
from vardekedja.application import Marketplace
from vardekedja.domain.order import LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.projections import PROJECTIONS
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.orders import OrdersView
from vardekedja.projections.payouts import PayoutsView
from vardekedja.projections.production import ProductionView
from vardekedja.projections.rebuild import rebuild
from vardekedja.runtime import Runtime

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
# Between two paid orders the writer pauses in the suite, so that each rebuild has some thirty new events to
# take in (three times as many flat out, under ``make soak``). The writes timed into each rebuild's last
# moment before its swap are made either way.
WRITER_PAUSE = soak(0.05, 0.0)


class Chores:
    """Commands that touch every view, for the writer thread and for writes timed into a rebuild."""

    def __init__(self, app: Marketplace, cast: Cast, design_id: UUID) -> None:
        self.app, self.cast, self.design_id = app, cast, design_id
        self.serials = itertools.count(600)
        self.dispatched: list[UUID] = []

    def paid_order(self) -> UUID:
        number = next(self.serials)
        order_id = self.app.place_order(self.cast.buyer, SITE, True, [LineRequest(self.design_id, 1 + number % 3)]).id
        self.app.start_checkout(self.cast.buyer, order_id, f"pi_{number}")
        self.app.record_payment(order_id, f"pi_{number}", self.app.order(order_id).total_ore, "sek")
        return order_id

    def dispatch(self) -> None:
        """An order taken up to its dispatched delivery, to be delivered later (which owes payouts)."""
        app, workshop = self.app, self.cast.workshop
        order_id = self.paid_order()
        production = production_order_id(order_id, 1)
        app.accept_production(workshop, production)
        app.start_production(workshop, production)
        app.complete_production(workshop, production, 1.0, "")
        delivery = app.delivery_for(order_id, 1).id
        app.schedule_delivery(workshop, delivery, *window())
        app.dispatch_delivery(workshop, delivery)
        self.dispatched.append(delivery)

    def something_for_every_view(self) -> None:
        serial = next(self.serials)
        self.app.register_organisation(
            name=f"Verkstad {serial}", role="workshop", org_number=org_number(serial), municipality="Botkyrka",
            capabilities=["carpentry"], service_area=["Botkyrka"],
        )  # fmt: skip
        published_design(self.app, self.cast)
        self.paid_order()
        self.app.deliver(self.cast.workshop, self.dispatched.pop(), "Vaktmästaren")


def in_a_loop(work: Callable[[], object], stop: threading.Event, errors: list[BaseException],
              pause: float = 0.0) -> threading.Thread:  # fmt: skip
    def loop() -> None:
        try:
            while not stop.is_set():
                work()
                stop.wait(pause)
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    thread = threading.Thread(target=loop)
    thread.start()
    return thread


@pytest.mark.parametrize("backend", BACKENDS)
def test_views_rebuilt_while_a_writer_writes_and_readers_read_end_equal_to_a_fresh_rebuild(backend, tmp_path, request):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    with backend_settings(backend, tmp_path / "live", url) as settings, \
            backend_settings(backend, tmp_path / "fresh", url) as fresh:  # fmt: skip
        runtime = Runtime(settings, payments=RecordingRefunds())
        stop, errors = threading.Event(), []
        seen: dict[int, list[tuple[int, int]]] = {1: [], 2: []}  # per reader: (orders, designs found), in turn
        threads: list[threading.Thread] = []
        try:
            app = runtime.marketplace
            cast = register_cast(app)
            chores = Chores(app, cast, published_design(app, cast))
            for _ in PROJECTIONS:
                chores.dispatch()
            runtime.start_embedded_projector(poll_interval=0.05)
            assert runtime.wait_for(app.position, timeout=10)
            catalogue, orders = runtime.view(CatalogueView), runtime.view(OrdersView)
            production, payouts = runtime.view(ProductionView), runtime.view(PayoutsView)

            def read(reader: int) -> None:
                with runtime.database.reader.connect() as connection:
                    count = connection.execute(sa.select(sa.func.count()).select_from(orders.orders)).scalar_one()
                    page = catalogue.search_published(
                        connection, fee_rate=Fraction(1, 10), q="parkb", municipality="Botkyrka", limit=100
                    )
                    orders.list(connection, buyer_id=cast.buyer, limit=5)
                    production.list(connection, workshop_id=cast.workshop, limit=5)
                    payouts.totals(connection)
                runtime.database.processed()
                seen[reader].append((count, len(page.items)))

            threads = [in_a_loop(chores.paid_order, stop, errors, pause=WRITER_PAUSE)]
            threads += [in_a_loop(lambda n=n: read(n), stop, errors) for n in seen]
            for name in PROJECTIONS:
                done_before: list[int] = []

                def write_once_caught_up(done: int, head: int, done_before: list[int] = done_before) -> None:
                    # Called after each batch; no progress since the last call means the
                    # builder found nothing more to read and is about to swap.
                    if done_before and done_before[-1] == done:
                        chores.something_for_every_view()
                    done_before.append(done)

                rebuild(app, runtime.database, name, progress=write_once_caught_up)
                assert len(chores.dispatched) == len(PROJECTIONS) - 1 - list(PROJECTIONS).index(name)
            assert not errors, errors
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            assert not any(thread.is_alive() for thread in threads)
            assert not errors, errors

            assert runtime.wait_for(app.position, timeout=10)
            for reads in seen.values():
                assert len(reads) > 10, "a reader hardly ran"
                # Old view or new, never a half-built one: what a reader sees only ever grows.
                for column in (0, 1):
                    counts = [read[column] for read in reads]
                    assert counts == sorted(counts), "a reader saw a view step back during a swap"
                assert reads[0][1] >= 1, "a reader saw an empty catalogue"
                assert reads[-1][0] > reads[0][0], "the writer wrote nothing while the views were rebuilt"
            live = snapshot(runtime.database)
            scratch = rebuilt_elsewhere(app, fresh)
            assert live == scratch, differences(live, scratch)
            tables = stored_tables(runtime.database)
            assert set(table_names(runtime.database.dialect)) <= tables
            assert not [name for name in tables if name.endswith(("__next", "__old"))]
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)
            runtime.close()
