"""Each due inspection opens exactly one maintenance order with two real projector processes, crashes and restarts.

Two OS processes follow one store (tests/integration/inspecting_process.py:
``vardekedja project`` with its clock read from a file): one holds the projector
lock and opens due inspections on its schedule, the other waits for the lock, and
both also open due inspections themselves all the time, as more server
processes would. The test moves the clock months ahead, kills one process
(SIGKILL), stops the other (SIGTERM), starts fresh ones in their place, and
counts the events: every due inspection opened, none twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.integration.test_inspections import OPENED, install_two_pieces
from tests.integration.views_support import backend_settings
from vardekedja.domain.maintenance import inspection_id
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
pytestmark = pytest.mark.slow


class Clock:
    """The time every process reads: this process's clock, and a file the children read."""

    def __init__(self, path: Path, now: datetime) -> None:
        self.path = path
        self.set(now)

    def set(self, now: datetime) -> None:
        self.now = now
        written = self.path.with_suffix(".new")
        written.write_text(now.isoformat(), encoding="utf-8")
        os.replace(written, self.path)  # whole, never half-written

    def __call__(self) -> datetime:
        return self.now


class Inspector:
    def __init__(self, settings: Settings, clock: Clock, name: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VARDEKEDJA_")}
        env.update({"VARDEKEDJA_DATA_DIR": str(settings.data_dir), "VARDEKEDJA_INSPECTION_CHECK_SECONDS": "0.05",
                    "PYTHONPATH": str(ROOT)})  # fmt: skip
        if settings.database_url:
            env.update({"VARDEKEDJA_DATABASE_URL": settings.database_url,
                        "VARDEKEDJA_DATABASE_SCHEMA": settings.database_schema})  # fmt: skip
        self.out = settings.data_dir / f"{name}.out"
        with self.out.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "tests.integration.inspecting_process", str(clock.path), "--look"],
                env=env, stdout=output, stderr=subprocess.STDOUT, cwd=ROOT,
            )  # fmt: skip

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def end(self, how: str) -> None:
        if self.process.poll() is None:
            (self.process.kill if how == "kill" else self.process.terminate)()
        self.process.wait(timeout=30)


def opened(runtime: Runtime) -> list:
    return runtime.marketplace.recorder.select_notifications(1, 100_000, topics=[OPENED])


def settle(runtime: Runtime, expected: int, inspectors: list[Inspector]) -> list:
    """The inspections opened, once ``expected`` are there and a while has passed with the processes still looking."""
    deadline = time.monotonic() + 60
    while len(opened(runtime)) < expected:
        for inspector in inspectors:
            assert inspector.process.poll() is None, f"an inspector died:\n{inspector.output()}"
        assert time.monotonic() < deadline, "\n".join(i.output() for i in inspectors)
        time.sleep(0.05)
    time.sleep(1.5)  # every process keeps looking (about 100 times each): nothing more may open
    return opened(runtime)


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path):  # type: ignore[no-untyped-def]
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    with backend_settings(request.param, tmp_path / "var", url) as settings:
        yield settings


def test_each_due_inspection_opens_once_across_processes_crashes_and_restarts(settings: Settings,
                                                                             tmp_path: Path) -> None:  # fmt: skip
    writer = Runtime(settings)  # records the pieces; follows nothing
    assets = install_two_pieces(writer)
    installed = max(asset.created_on for asset in assets)
    clock = Clock(tmp_path / "now.txt", installed + timedelta(days=1))
    inspectors = [Inspector(settings, clock, "first"), Inspector(settings, clock, "second")]
    try:
        assert settle(writer, 0, inspectors) == []  # nothing due a day after installation
        clock.set(installed + timedelta(days=7 * 31))  # inspections 1 and 2 of each piece
        assert len(settle(writer, 4, inspectors)) == 4

        inspectors[0].end("kill")  # a crash
        inspectors[0] = Inspector(settings, clock, "third")
        clock.set(installed + timedelta(days=10 * 31))  # inspection 3 as well
        assert len(settle(writer, 6, inspectors)) == 6

        inspectors[1].end("terminate")  # a stop, then a fresh start
        inspectors[1] = Inspector(settings, clock, "fourth")
        clock.set(installed + timedelta(days=13 * 31))  # inspection 4 as well
        events = settle(writer, 8, inspectors)
        assert sorted(str(event.originator_id) for event in events) == sorted(
            str(inspection_id(asset.id, number)) for asset in assets for number in (1, 2, 3, 4))
    finally:
        for inspector in inspectors:
            inspector.end("terminate")
        writer.close()
