"""A position processed twice changes nothing, and no event is ever applied twice.

A projection skips the events at or before its stored position and moves that
position in the same transaction as its rows, so a repeated or overlapping
batch, or a second projector on the same views, cannot apply anything twice.
"""

from __future__ import annotations

import json
import tempfile
import threading
from collections import Counter
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chain import Cast, paid_order, published_design, register_cast, spec, window
from tests.conftest import RecordingRefunds
from tests.integration.views_support import (
    backend_settings,
    differences,
    open_views,
    rebuilt_elsewhere,
    snapshot,
    stored_events,
)
from tests.soak import soak
from vardekedja.application import Marketplace
from vardekedja.domain.production import production_order_id
from vardekedja.projections import PROJECTIONS, all_projections
from vardekedja.projections.projector import Projector
from vardekedja.settings import Settings

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def write_history(app: Marketplace, orders: int = 3) -> None:
    """Orders through the whole chain, plus a cancelled one and a revised design: every view gets rows."""
    cast = register_cast(app)
    design_id = published_design(app, cast)
    app.revise_design(cast.designer, design_id, spec(title="Parkbänk Fittja II"))
    app.publish_design(cast.designer, design_id)
    write_orders(app, cast, design_id, orders)


def write_orders(app: Marketplace, cast: Cast, design_id: UUID, orders: int) -> None:
    for _ in range(orders):
        order_id = paid_order(app, cast, design_id, quantity=2)
        production_id = production_order_id(order_id, 1)
        app.accept_production(cast.workshop, production_id)
        app.start_production(cast.workshop, production_id)
        app.complete_production(cast.workshop, production_id, 3.5, "klar")
        delivery = app.delivery_for(order_id, 1)
        app.schedule_delivery(cast.workshop, delivery.id, *window())
        app.dispatch_delivery(cast.workshop, delivery.id)
        app.deliver(cast.workshop, delivery.id, "Anna")
        app.install(cast.area_company, delivery.id)
    cancelled = paid_order(app, cast, design_id)
    app.cancel_order(cast.buyer, cancelled, "fel färg")


@pytest.fixture(params=BACKENDS)
def backend(request):
    return request.param


@pytest.fixture
def postgres_url_or_none(backend, request):
    return request.getfixturevalue("postgres_url") if backend == "postgres" else None


def test_the_same_batch_twice_and_an_overlapping_batch_change_nothing(backend, postgres_url_or_none, tmp_path):
    with backend_settings(backend, tmp_path / "live", postgres_url_or_none) as live, \
            backend_settings(backend, tmp_path / "fresh", postgres_url_or_none) as fresh:  # fmt: skip
        app = Marketplace(live.event_store_env(), payments=RecordingRefunds())
        database, projections = open_views(live)
        try:
            write_history(app)
            events = Projector(app, database, projections).read(0, 10_000)
            assert len(events) == app.position > 60
            middle = len(events) // 2
            for projection in projections:
                with database.writer.begin() as connection:
                    assert projection.process_batch(connection, events[:middle]) == middle
                before = snapshot(database)
                with database.writer.begin() as connection:
                    assert projection.process_batch(connection, events[:middle]) == 0
                    assert projection.process_batch(connection, events[middle - 5 : middle]) == 0
                assert snapshot(database) == before, projection.name
                with database.writer.begin() as connection:
                    assert projection.view.position(connection) == events[middle - 1][0]
                    # Overlapping: five seen, seven new; only the new ones apply.
                    assert projection.process_batch(connection, events[middle - 5 : middle + 7]) == 7
                    assert projection.view.position(connection) == events[middle + 6][0]
                with database.writer.begin() as connection:
                    assert projection.process_batch(connection, events) == len(events) - middle - 7
                    assert projection.process_batch(connection, events) == 0
            assert database.positions(p.view for p in projections) == {name: app.position for name in PROJECTIONS}
            replayed, scratch = snapshot(database), rebuilt_elsewhere(app, fresh)
            assert replayed == scratch, differences(replayed, scratch)
        finally:
            database.dispose()
            app.close()


def test_two_projectors_stepping_alternately_never_apply_an_event_twice(backend, postgres_url_or_none, tmp_path):
    with backend_settings(backend, tmp_path / "live", postgres_url_or_none) as live, \
            backend_settings(backend, tmp_path / "fresh", postgres_url_or_none) as fresh:  # fmt: skip
        app = Marketplace(live.event_store_env(), payments=RecordingRefunds())
        database, projections = open_views(live)
        other_projections = all_projections()  # same tables, other instances
        # Different batch sizes, so each one's batches overlap the other's.
        first = Projector(app, database, projections, batch_size=7)
        second = Projector(app, database, other_projections, batch_size=5)
        try:
            cast = register_cast(app)
            design_id = published_design(app, cast)
            write_orders(app, cast, design_id, 1)
            first.refresh_positions(), second.refresh_positions()
            for round_number in range(200):
                moved = first.step() + second.step()
                if round_number == 5:
                    write_orders(app, cast, design_id, 1)  # more events arrive while they work
                if not moved and round_number > 10:
                    break
            assert first.catch_up() == second.catch_up() == 0
            assert database.positions(p.view for p in projections) == {name: app.position for name in PROJECTIONS}
            alternated, scratch = snapshot(database), rebuilt_elsewhere(app, fresh)
            assert alternated == scratch, differences(alternated, scratch)
        finally:
            database.dispose()
            app.close()


def test_two_projectors_racing_without_the_lock_still_apply_each_event_once(backend, postgres_url_or_none, tmp_path):
    """The lock keeps a second projector idle; even without it, positions guard every batch."""
    with backend_settings(backend, tmp_path / "live", postgres_url_or_none) as live, \
            backend_settings(backend, tmp_path / "fresh", postgres_url_or_none) as fresh:  # fmt: skip
        app = Marketplace(live.event_store_env(), payments=RecordingRefunds())
        database, projections = open_views(live)
        other_projections = all_projections()  # same tables, other instances
        racers = [Projector(app, database, projections, batch_size=3),
                  Projector(app, database, other_projections, batch_size=4)]  # fmt: skip
        stop = threading.Event()
        threads = [
            threading.Thread(target=racer.run, args=(stop,), kwargs={"poll_interval": 0.005, "retry_interval": 0.005})
            for racer in racers
        ]
        try:
            for thread in threads:
                thread.start()
            write_history(app, orders=3)
            assert database.wait_for(app.position, timeout=30)
        finally:
            stop.set()
            for racer in racers:
                racer.wake()
            for thread in threads:
                thread.join(timeout=30)
        try:
            assert not any(thread.is_alive() for thread in threads)
            raced, scratch = snapshot(database), rebuilt_elsewhere(app, fresh)
            assert raced == scratch, differences(raced, scratch)
            timelines = [row["timeline"] for row in raced["orders_orders"]]
            assert timelines and all(_positions_unique(timeline) for timeline in timelines)
        finally:
            database.dispose()
            app.close()


def _positions_unique(timeline: object) -> bool:
    entries = json.loads(timeline) if isinstance(timeline, str) else timeline
    counts = Counter(entry["position"] for entry in entries)
    return bool(counts) and max(counts.values()) == 1


# Any sequence of batches, each starting at or before the position reached (so none leaves a gap),
# repeated and overlapping at will, ends in the same views as one batch of everything.
windows = st.lists(st.tuples(st.integers(0, 100), st.integers(1, 12)), min_size=1, max_size=40)


def test_any_sequence_of_repeated_and_overlapping_batches_ends_in_the_same_views(tmp_path):
    app = Marketplace(Settings(data_dir=tmp_path).event_store_env(), payments=RecordingRefunds())
    try:
        write_history(app, orders=2)
        events = stored_events(app)
        with backend_settings("sqlite", tmp_path / "expected") as expected_settings:
            expected = rebuilt_elsewhere(app, expected_settings)

        @settings(derandomize=True, database=None, deadline=None, max_examples=soak(8, 15),
                  suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
        @given(windows=windows)
        def check(windows):
            with tempfile.TemporaryDirectory() as folder, backend_settings("sqlite", Path(folder)) as views:
                database, projections = open_views(views)
                try:
                    done = 0  # how many events every projection has seen
                    for back, length in windows:
                        start = max(done - back, 0)
                        batch = events[start : start + length]
                        for projection in projections:
                            with database.writer.begin() as connection:
                                new = projection.process_batch(connection, batch)
                            assert new == max(start + len(batch) - done, 0)
                        done = max(done, start + len(batch))
                    for projection in projections:
                        with database.writer.begin() as connection:
                            projection.process_batch(connection, events)
                    got = snapshot(database)
                    assert got == expected, differences(got, expected)
                finally:
                    database.dispose()

        check()
    finally:
        app.close()
