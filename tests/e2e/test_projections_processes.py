"""``vardekedja project`` as a real process: killed at any moment it loses and repeats nothing,
and only one runs at a time.

The projector runs over a thousand events on SQLite (a few thousand under
``make soak``) and is killed with SIGKILL at random moments while it catches
up, then restarted, again and again. Once a last run has caught up, the views
equal a fresh rebuild and every count matches the event store exactly.
"""

from __future__ import annotations

import importlib.util
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.chain import register_cast
from tests.integration.views_support import (
    assert_counts_match_the_event_store,
    differences,
    open_views,
    rebuilt_elsewhere,
    snapshot,
    stored_events,
)
from tests.soak import soak
from vardekedja.application import Marketplace
from vardekedja.projections import PROJECTIONS
from vardekedja.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
KILLS = soak(3, 8)
EVENTS = soak(1_200, 3_800)
BATCH = 40  # small batches, so that a catch-up takes long enough to be killed in the middle


def load_workload() -> Any:
    spec = importlib.util.spec_from_file_location("workload", ROOT / "bench" / "workload.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def positions(folder: Path) -> dict[str, int]:
    """Each view's position, read straight from the file (0 before the tables exist)."""
    path = folder / "views.sqlite3"
    if not path.exists():
        return dict.fromkeys(PROJECTIONS, 0)
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        found = {}
        for name in PROJECTIONS:
            try:
                row = connection.execute(f"SELECT position FROM {name}_tracking").fetchone()
            except sqlite3.OperationalError:  # not created yet
                row = None
            found[name] = row[0] if row else 0
        return found
    finally:
        connection.close()


class ProjectorProcess:
    """``vardekedja project`` in a child process, with its output kept in files."""

    def __init__(self, folder: Path, run: int, batch: int = BATCH) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VARDEKEDJA_")}
        env["VARDEKEDJA_DATA_DIR"] = str(folder)
        self.out = folder / f"project-{run}.out"
        with self.out.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "vardekedja.cli", "project", "--batch-size", str(batch),
                 "--poll-interval", "0.05"],
                env=env, stdout=output, stderr=subprocess.STDOUT, cwd=folder,
            )  # fmt: skip

    def alive(self) -> bool:
        return self.process.poll() is None

    def output(self) -> str:
        return self.out.read_text(errors="replace")

    def kill(self) -> None:
        if self.alive():
            self.process.kill()
        self.process.wait(timeout=10)


def wait_until(condition: Any, timeout: float, what: str, process: ProjectorProcess) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert process.alive(), f"the projector died while {what}:\n{process.output()}"
        assert time.monotonic() < deadline, f"timed out while {what}:\n{process.output()}"
        time.sleep(0.003)


@pytest.mark.slow
def test_a_projector_killed_again_and_again_while_catching_up_ends_with_exact_views(tmp_path):
    folder = tmp_path / "var"
    settings = Settings(data_dir=folder)
    folder.mkdir()
    app = Marketplace(settings.event_store_env())
    processes: list[ProjectorProcess] = []
    try:
        head = load_workload().generate(app, EVENTS, progress=False)
        rng = random.Random(20_261_126)
        # One kill in each of KILLS + 1 equal stretches of the history, at a random point within it, so that kills
        # land among every kind of event; each run must get somewhere before it dies.
        targets = [rng.uniform(i, i + 1) * head / (KILLS + 1) for i in range(KILLS)]
        kills: list[dict[str, int]] = []
        for target in targets:
            before = sum(positions(folder).values())
            process = ProjectorProcess(folder, len(processes))
            processes.append(process)

            def reached(target: float = target, before: int = before) -> bool:
                now = positions(folder)
                return sum(now.values()) > before and min(now.values()) >= target

            wait_until(reached, 60, f"catching up to {target:.0f}", process)
            time.sleep(rng.uniform(0, 0.03))
            process.kill()
            after = positions(folder)
            assert min(after.values()) < head, "caught up before it could be killed; use a smaller batch"
            kills.append(after)
        assert len(kills) == KILLS
        last = ProjectorProcess(folder, len(processes))
        processes.append(last)
        wait_until(lambda: min(positions(folder).values()) == head, 90, "finishing the catch-up", last)
        status = subprocess.run(
            [sys.executable, "-m", "vardekedja.cli", "projections", "status"],
            env={**{k: v for k, v in os.environ.items() if not k.startswith("VARDEKEDJA_")},
                 "VARDEKEDJA_DATA_DIR": str(folder), "COLUMNS": "200"},
            capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        assert f"event store head: {head:,}" in status.stdout
        assert _table_rows(status.stdout) == {name: [f"{head:,}", "0"] for name in PROJECTIONS}, status.stdout
        last.process.send_signal(signal.SIGTERM)
        assert last.process.wait(timeout=20) == 0, last.output()
        assert "projector stopped" in last.output()
        assert all(p.process.returncode == -signal.SIGKILL for p in processes[:-1])

        database, _ = open_views(settings)
        try:
            projected = snapshot(database)
        finally:
            database.dispose()
        scratch = rebuilt_elsewhere(app, Settings(data_dir=tmp_path / "fresh"))
        assert projected == scratch, differences(projected, scratch)
        assert len(projected["orders_orders"]) > EVENTS // 25  # an order for every twenty-odd events
        assert_counts_match_the_event_store(projected, stored_events(app))
    finally:
        for process in processes:
            process.kill()
        app.close()


def _table_rows(text: str) -> dict[str, list[str]]:
    """The body rows of the rich table that ``projections status`` prints: name → [position, lag], for the
    views whose state is ok (the audit chain has a row too, and is left out)."""
    rows = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│").split("│")]
        if len(cells) == 4 and cells[3] == "ok" and cells[0] != "audit_chain":
            rows[cells[0]] = cells[1:3]
    return rows


def test_a_second_projector_process_waits_stops_on_sigterm_and_takes_over_from_the_first(tmp_path):
    folder = tmp_path / "var"
    folder.mkdir()
    app = Marketplace(Settings(data_dir=folder).event_store_env())
    processes: list[ProjectorProcess] = []
    try:
        load_workload().generate(app, 1, progress=False)  # a cast and forty designs
        first = ProjectorProcess(folder, 0, batch=1000)
        processes.append(first)
        wait_until(lambda: min(positions(folder).values()) == app.position, 60, "catching up", first)

        waiting = ProjectorProcess(folder, 1)
        processes.append(waiting)
        wait_until(lambda: "another projector is active" in waiting.output(), 60, "starting", waiting)
        waiting.process.send_signal(signal.SIGTERM)
        assert waiting.process.wait(timeout=10) == 0, waiting.output()

        second = ProjectorProcess(folder, 2)
        processes.append(second)
        wait_until(lambda: "another projector is active" in second.output(), 60, "starting", second)
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=10) == 0, first.output()
        register_cast(app)
        head = app.position
        wait_until(lambda: min(positions(folder).values()) == head, 60, "taking over", second)
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=10) == 0, second.output()
    finally:
        for process in processes:
            process.kill()
        app.close()
