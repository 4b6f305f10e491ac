"""Each due inspection opens exactly one maintenance order, however many processes look and however often they restart.

Two runtimes over one store stand in for two projector processes (as in
test_projections_lock.py): both follow (one holds the projector lock, the
other waits), and both are also made to open due inspections at the same
moments, from several threads; then the active one is stopped and a fresh
one starts. The clock is injected, so the test moves it months ahead.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest

from tests.chain import SITE, published_design, register_cast, spec, window
from tests.integration.views_support import backend_settings
from vardekedja.domain.asset import asset_id
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.maintenance import inspection_id
from vardekedja.domain.order import LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.projections.care import CareView
from vardekedja.runtime import Runtime

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
OPENED = "vardekedja:MaintenanceOrder.Opened"


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with backend_settings(request.param, tmp_path, url) as settings:
        yield settings.model_copy(update={"inspection_check_seconds": 0.02})


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(timezone.utc)

    def __call__(self) -> datetime:
        return self.now


def install_two_pieces(runtime: Runtime) -> list:
    app = runtime.marketplace
    cast = register_cast(app)
    design = published_design(app, cast, spec(inspection_interval_months=3))
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design, 2)]).id
    app.start_checkout(cast.buyer, order_id, "pi_1")
    app.record_payment(order_id, "pi_1", app.order(order_id).total_ore, "sek")
    production, delivery = production_order_id(order_id, 1), delivery_id(order_id, 1)
    app.accept_production(cast.workshop, production)
    app.start_production(cast.workshop, production)
    app.complete_production(cast.workshop, production, 4, "")
    app.schedule_delivery(cast.workshop, delivery, *window())
    app.dispatch_delivery(cast.workshop, delivery)
    app.deliver(cast.workshop, delivery, "Gården")
    app.install(cast.area_company, delivery)
    return [app.asset(asset_id(order_id, 1, piece)) for piece in (1, 2)]


def opened_events(runtime: Runtime) -> list:
    return runtime.marketplace.recorder.select_notifications(1, 100_000, topics=[OPENED])


def look_together(runtimes: list[Runtime], threads_each: int = 3, rounds: int = 5) -> None:
    """Every runtime opens due inspections from several threads at once, several times."""
    start = threading.Barrier(len(runtimes) * threads_each)
    errors: list[BaseException] = []

    def look(runtime: Runtime) -> None:
        start.wait()
        try:
            for _ in range(rounds):
                runtime.open_due_inspections()
        except BaseException as error:  # noqa: BLE001 - reported by the test below
            errors.append(error)

    workers = [threading.Thread(target=look, args=(r,)) for r in runtimes for _ in range(threads_each)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert errors == []


def follow(runtime: Runtime) -> threading.Thread:
    thread = threading.Thread(target=runtime.follow, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    return thread


def test_each_due_inspection_opens_exactly_once_across_processes_and_restarts(settings) -> None:
    clock = Clock()
    first, second = Runtime(settings, clock=clock), Runtime(settings, clock=clock)
    runtimes, threads = [first, second], []
    try:
        assets = install_two_pieces(first)
        threads += [follow(first), follow(second)]
        assert first.wait_for(first.marketplace.position, timeout=10)
        installed = max(a.created_on for a in assets)

        clock.now = installed + timedelta(days=1)
        look_together(runtimes)
        assert opened_events(first) == []  # nothing due a day after installation

        clock.now = installed + timedelta(days=7 * 31)  # 7 months on: inspections 1 and 2 of each piece
        look_together(runtimes)
        assert len(opened_events(first)) == 4

        # The active projector stops; a fresh process starts and takes over; the clock moves on.
        first.close()
        third = Runtime(settings, clock=clock)
        runtimes = [second, third]
        threads.append(follow(third))
        clock.now = installed + timedelta(days=10 * 31)  # 10 months on: inspection 3 as well
        look_together(runtimes)
        # The background check of whichever projector holds the lock opens nothing more either.
        assert third.wait_for(third.marketplace.position, timeout=10)
        threading.Event().wait(0.2)

        events = opened_events(third)
        assert len(events) == 6
        expected = {inspection_id(a.id, n) for a in assets for n in (1, 2, 3)}
        assert {e.originator_id for e in events} == expected
        with third.database.reader.connect() as connection:
            assert third.view(CareView).due_inspections(connection, clock.now) == []
            open_orders = third.view(CareView).list_maintenance(connection, limit=100).items
        assert sorted((o["asset_id"], o["inspection_no"]) for o in open_orders) == sorted(
            (a.id, n) for a in assets for n in (1, 2, 3))
    finally:
        for runtime in runtimes:
            runtime.close()
        for thread in threads:
            thread.join(timeout=10)
