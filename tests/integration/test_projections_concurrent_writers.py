"""Many writers at once on PostgreSQL: a live projector misses no event and repeats none.

Eight threads, each with its own application over the same schema, take orders
through the chain while the projector follows. Its poll interval is far longer
than the test, so only PostgreSQL's notifications can wake it in time.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from uuid import UUID

import pytest

from tests.chain import BENCH, SITE, register_cast, window
from tests.integration.views_support import (
    assert_counts_match_the_event_store,
    backend_settings,
    count_steps,
    differences,
    rebuilt_elsewhere,
    snapshot,
    stored_events,
)
from tests.unit.builders import org_number
from vardekedja.application import Marketplace
from vardekedja.domain.order import LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.projections import PROJECTIONS
from vardekedja.runtime import Runtime

WRITERS = 8
ORDERS_PER_WRITER = 5
START = window()[0]


def take_orders_through_the_chain(app: Marketplace, buyer: UUID, design: UUID, workshop: UUID,
                                  area_company: UUID, writer: int) -> None:  # fmt: skip
    for number in range(ORDERS_PER_WRITER):
        order_id = app.place_order(buyer, SITE, True, [LineRequest(design, 1 + (writer + number) % 4)]).id
        payment = f"pi_{writer}_{number}"
        app.start_checkout(buyer, order_id, payment)
        app.record_payment(order_id, payment, app.order(order_id).total_ore, "sek")
        production = production_order_id(order_id, 1)
        app.accept_production(workshop, production)
        app.start_production(workshop, production)
        app.complete_production(workshop, production, 2.0, f"skrivare {writer}")
        delivery = app.delivery_for(order_id, 1).id
        app.schedule_delivery(workshop, delivery, START, START + timedelta(hours=2))
        app.dispatch_delivery(workshop, delivery)
        app.deliver(workshop, delivery, "Portvakten")
        app.install(area_company, delivery)


@pytest.mark.postgres
def test_eight_writers_and_a_live_projector_on_postgres_agree_on_every_event(postgres_url, tmp_path):
    with backend_settings("postgres", tmp_path / "live", postgres_url) as settings, \
            backend_settings("postgres", tmp_path / "fresh", postgres_url) as fresh:  # fmt: skip
        runtime = Runtime(settings)
        try:
            app = runtime.marketplace
            cast = register_cast(app)
            design = app.draft_design(cast.designer, BENCH).id
            app.publish_design(cast.designer, design)
            buyers = [
                app.register_organisation(name=f"Bostadsbolag {n}", role="buyer", org_number=org_number(900 + n),
                                          municipality="Botkyrka").organisation_id
                for n in range(WRITERS)
            ]  # fmt: skip
            steps = count_steps(runtime.projector)
            runtime.start_embedded_projector(poll_interval=120)
            assert runtime.wait_for(app.position, timeout=10)
            steps.clear()

            errors: list[BaseException] = []

            # Opened one after another: eventsourcing creates its tables and functions when an
            # application starts, and PostgreSQL refuses concurrent CREATE OR REPLACE FUNCTION.
            writers = [Marketplace(settings.event_store_env()) for _ in range(WRITERS)]

            def write(writer: int) -> None:
                try:
                    take_orders_through_the_chain(writers[writer], buyers[writer], design, cast.workshop,
                                                  cast.area_company, writer)  # fmt: skip
                except BaseException as error:  # noqa: BLE001 - reported below
                    errors.append(error)
                finally:
                    writers[writer].close()

            threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=120)
            assert not errors, errors
            assert not any(thread.is_alive() for thread in threads)

            head = app.position
            assert runtime.wait_for(head, timeout=10), "the projector was not woken by the writers' notifications"
            assert len([read for read in steps if read]) >= 5, "the projector did not follow the writers as they wrote"
            assert runtime.database.positions(runtime.views_list) == dict.fromkeys(PROJECTIONS, head)
            live = snapshot(runtime.database)
            events = stored_events(app)
            assert len(live["orders_orders"]) == WRITERS * ORDERS_PER_WRITER
            assert_counts_match_the_event_store(live, events)
            scratch = rebuilt_elsewhere(app, fresh)
            assert live == scratch, differences(live, scratch)
        finally:
            runtime.close()
