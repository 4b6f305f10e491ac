"""One active projector per database: a second one waits, without failing, and takes over.

Two runtimes over the same store stand in for two server processes: a file
lock beside the SQLite files, a PostgreSQL advisory lock otherwise. Each
follows in its own thread, as ``vardekedja project`` does in its process.
"""

from __future__ import annotations

import threading
import time

import pytest

from tests.chain import published_design, register_cast, spec
from tests.integration.views_support import backend_settings, count_steps
from vardekedja.projections import PROJECTIONS
from vardekedja.runtime import Runtime

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def settings(request, tmp_path):
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with backend_settings(request.param, tmp_path, url) as settings:
        yield settings


def follow(runtime: Runtime, **kwargs: object) -> threading.Thread:
    thread = threading.Thread(target=runtime.follow, kwargs={"poll_interval": 0.02, **kwargs}, daemon=True)
    thread.start()
    return thread


def test_a_second_projector_waits_for_the_first_and_takes_over_when_it_stops(settings):
    first, second = Runtime(settings), Runtime(settings)
    threads: list[threading.Thread] = []
    try:
        app = first.marketplace
        cast = register_cast(app)
        first_steps, second_steps = count_steps(first.projector), count_steps(second.projector)
        threads.append(follow(first))
        assert first.wait_for(app.position, timeout=10)

        waiting = threading.Event()
        threads.append(follow(second, on_wait=waiting.set))
        assert waiting.wait(timeout=10), "the second projector did not notice the first"
        published_design(app, cast)
        assert first.wait_for(app.position, timeout=10)
        time.sleep(0.2)
        assert threads[1].is_alive(), "the second projector gave up instead of waiting"
        assert second_steps == [], "the second projector worked while the first held the lock"
        assert sum(first_steps) == app.position

        first.stop()
        threads[0].join(timeout=10)
        assert not threads[0].is_alive()
        app.draft_design(cast.designer, spec(title="Efter bytet"))
        assert second.wait_for(app.position, timeout=10), "the second projector did not take over"
        # The step's commit is visible to readers a moment before its count is noted in the projector's thread.
        deadline = time.monotonic() + 10
        while sum(second_steps) < 1 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sum(second_steps) >= 1
        assert second.database.positions(second.views_list) == dict.fromkeys(PROJECTIONS, app.position)
    finally:
        first.stop()
        second.stop()
        for thread in threads:
            thread.join(timeout=10)
        first.close()
        second.close()
    assert not any(thread.is_alive() for thread in threads)


def test_a_projector_waiting_for_the_lock_stops_when_asked(settings):
    first, second = Runtime(settings), Runtime(settings)
    threads: list[threading.Thread] = []
    try:
        register_cast(first.marketplace)
        threads.append(follow(first))
        assert first.wait_for(first.marketplace.position, timeout=10)  # so the first holds the lock
        waiting = threading.Event()
        threads.append(follow(second, on_wait=waiting.set))
        assert waiting.wait(timeout=10)
        started = time.monotonic()
        second.stop()  # what SIGTERM does to `vardekedja project`
        threads[1].join(timeout=5)
        assert not threads[1].is_alive(), "a waiting projector cannot be stopped"
        assert time.monotonic() - started < 2
        assert threads[0].is_alive(), "stopping the waiting one must not touch the active one"
    finally:
        first.stop()
        second.stop()
        for thread in threads:
            thread.join(timeout=10)
        first.close()
        second.close()
