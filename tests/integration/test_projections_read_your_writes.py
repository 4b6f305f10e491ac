"""Read-your-writes: ``wait_for`` returns as soon as the views hold a save, and gives up on time.

The embedded projector is woken by each save in its process; its poll interval
here is far longer than the test, so only that wake-up can make it prompt.
"""

from __future__ import annotations

import statistics
import time

import pytest

from tests.chain import SITE, published_design, register_cast, spec
from tests.conftest import RecordingRefunds
from tests.integration.views_support import backend_settings
from vardekedja.domain.order import LineRequest
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.orders import OrdersView
from vardekedja.runtime import Runtime

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with backend_settings(request.param, tmp_path, url) as settings:
        yield settings


def test_wait_for_returns_promptly_once_the_embedded_projector_has_the_write(settings):
    runtime = Runtime(settings, payments=RecordingRefunds())
    try:
        app = runtime.marketplace
        cast = register_cast(app)
        design_id = published_design(app, cast)
        processed = record_processing(runtime)
        runtime.start_embedded_projector(poll_interval=60)
        assert runtime.wait_for(app.position, timeout=10)
        catalogue, orders = runtime.view(CatalogueView), runtime.view(OrdersView)

        totals, lags = [], []
        for number in range(20):
            if number % 2:
                recorded = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1 + number % 5)])
            else:
                recorded = app.draft_design(cast.designer, spec(title=f"Bänk {number}"))
            saved = time.perf_counter()
            assert runtime.wait_for(recorded.position, timeout=2)
            returned = time.perf_counter()
            totals.append(returned - saved)
            lags.append(max(returned - processed.at(recorded.position), 0.0))
            # What the command wrote is there to read, right away.
            with runtime.database.reader.connect() as connection:
                if number % 2:
                    assert orders.order(connection, recorded.id)["position"] == recorded.position
                else:
                    assert catalogue.design(connection, recorded.id)["draft"]["title"] == f"Bänk {number}"
        # Once the projector has the write, wait_for sees it within a poll or two ...
        assert statistics.median(lags) < 0.02, lags
        assert max(lags) < 0.1, lags
        # ... and the projector has it soon after the save: woken by it, not by its (60 s) poll.
        assert max(totals) < 1.0, totals
    finally:
        runtime.close()


class Processing:
    """When the projector finished the batch that reached each position."""

    def __init__(self) -> None:
        self.done: list[tuple[int, float]] = []

    def at(self, position: int, timeout: float = 2.0) -> float:
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            for reached, when in list(self.done):
                if reached >= position:
                    return when
            time.sleep(0.001)  # wait_for may see the commit a moment before the step returns
        raise AssertionError(f"the projector never reported position {position}")


def record_processing(runtime: Runtime) -> Processing:
    processing = Processing()
    step = runtime.projector.step

    def timed() -> int:
        read = step()
        if read:
            processing.done.append((runtime.projector.position, time.perf_counter()))
        return read

    runtime.projector.step = timed  # type: ignore[method-assign]
    return processing


def test_wait_for_gives_up_after_its_timeout_when_no_projector_runs(settings):
    runtime = Runtime(settings)
    try:
        register_cast(runtime.marketplace)
        started = time.perf_counter()
        assert not runtime.wait_for(runtime.marketplace.position, timeout=0.3)
        waited = time.perf_counter() - started
        assert 0.3 <= waited < 1.0
        assert runtime.wait_for(0, timeout=0)  # nothing to wait for
        runtime.projector.catch_up()
        assert runtime.wait_for(runtime.marketplace.position, timeout=0)
    finally:
        runtime.close()
