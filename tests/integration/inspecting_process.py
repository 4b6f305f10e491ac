"""A projector process for test_inspections_processes.py: ``vardekedja project`` with an injected clock.

It follows the event store as ``vardekedja project`` does (one process holds the
projector lock and opens due inspections every ``VARDEKEDJA_INSPECTION_CHECK_SECONDS``;
another waits for the lock), with its clock read from a file the test moves.
With ``--look`` it also opens due inspections itself, all the time, lock or
not, as a second server process would. SIGTERM stops it as it stops the
projector; SIGKILL is a crash.

    python -m tests.integration.inspecting_process CLOCK_FILE [--look]
"""

from __future__ import annotations

import signal
import sys
import threading
from datetime import datetime
from pathlib import Path

from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


class FileClock:
    """Now, as the test says it is: the ISO time in a file it replaces whole (so never half-written)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self) -> datetime:
        return datetime.fromisoformat(self.path.read_text(encoding="utf-8").strip())


def main() -> None:
    clock_file, look = Path(sys.argv[1]), "--look" in sys.argv[2:]
    runtime, stopped = Runtime(Settings(), clock=FileClock(clock_file)), threading.Event()

    def stop(*_: object) -> None:
        stopped.set()
        runtime.stop()

    signal.signal(signal.SIGTERM, stop)
    follower = threading.Thread(target=runtime.follow, kwargs={"poll_interval": 0.02}, daemon=True)
    follower.start()
    print("following", flush=True)
    try:
        while not stopped.wait(0.01):
            if look:
                try:
                    runtime.open_due_inspections()
                except Exception as error:  # noqa: BLE001 - as the projector's own check: said, then tried again
                    print(f"looking failed, trying again: {error!r}", flush=True)
    finally:
        follower.join(timeout=10)
        runtime.close()


if __name__ == "__main__":
    main()
