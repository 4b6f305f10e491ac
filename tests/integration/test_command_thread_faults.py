"""The command thread survives what a command may do to it: raise something that is not an ``Exception``,
or hang. Callers are answered within a bound, new commands are refused at once while it is held, and
``/readyz`` says so."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.chain import SITE, published_design, register_cast
from tests.conftest import RecordingRefunds, store_env
from vardekedja.api import create_app
from vardekedja.application import CommandWriter, Marketplace
from vardekedja.application.command_thread import CommandAbortedError, CommandTimeoutError, StalledError
from vardekedja.domain.order import LineRequest
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


@pytest.fixture
def app(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Marketplace]:
    marketplace = Marketplace(store_env("sqlite", tmp_path, request), payments=RecordingRefunds())
    yield marketplace
    marketplace.close()


def place(app: Marketplace, cast, design) -> object:
    return lambda: app.place_order(cast.buyer, SITE, True, [LineRequest(design, 1)])


@pytest.mark.parametrize("raised", [SystemExit(3), KeyboardInterrupt(), GeneratorExit()],
                         ids=["SystemExit", "KeyboardInterrupt", "GeneratorExit"])  # fmt: skip
def test_a_command_raising_something_that_is_not_an_exception_fails_alone_and_the_thread_goes_on(
    app: Marketplace, raised: BaseException, caplog: pytest.LogCaptureFixture
) -> None:
    cast = register_cast(app)
    design = published_design(app, cast)
    writer = CommandWriter(app)
    try:
        def rogue() -> None:
            raise raised

        with pytest.raises(CommandAbortedError):
            writer.submit(rogue).result(timeout=10)
        assert writer.health() is None
        answer = writer.call(place(app, cast, design))
        assert app.order(answer.value.id).buyer_id == cast.buyer
        assert type(raised).__name__ in caplog.text
    finally:
        writer.close()


def test_a_hanging_command_is_answered_503_within_the_timeout_and_the_writer_refuses_until_it_ends(
    app: Marketplace,
) -> None:
    cast = register_cast(app)
    design = published_design(app, cast)
    writer = CommandWriter(app, timeout=0.3)
    release = threading.Event()
    try:
        hung = writer.submit(lambda: release.wait(30))
        started = time.monotonic()
        with pytest.raises(CommandTimeoutError):
            asyncio.run(writer.run(place(app, cast, design)))
        assert time.monotonic() - started < 2
        time.sleep(0.4)
        assert "held by a command" in (writer.health() or "")
        with pytest.raises(StalledError):
            writer.submit(place(app, cast, design))

        release.set()
        hung.result(timeout=10)
        deadline = time.monotonic() + 5
        while writer.health() is not None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.health() is None
        assert writer.call(place(app, cast, design)).value is not None
    finally:
        release.set()
        writer.close()


def test_readyz_reports_a_held_or_stopped_command_thread(tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=None, command_timeout=0.2))
    release = threading.Event()
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            assert client.get("/readyz").status_code == 200
            held = runtime.commands.submit(lambda: release.wait(30))
            time.sleep(0.4)
            ready = client.get("/readyz")
            assert ready.status_code == 503 and "command thread" in ready.json()["detail"], ready.text
            release.set()
            held.result(timeout=10)
            deadline = time.monotonic() + 5
            while client.get("/readyz").status_code != 200 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert client.get("/readyz").status_code == 200

            runtime.commands.close()
            stopped = client.get("/readyz")
            assert stopped.status_code == 503 and "command thread has stopped" in stopped.json()["detail"]
    finally:
        release.set()
        runtime.close()
