"""One thread that runs every command the server is sent, in rounds committed as one transaction.

An event store on SQLite takes one writer at a time, and each commit waits for
the disk. Commands sent from many threads would queue for the write lock and
each pay for its own flush and for reloading what it changes. Here they queue
for one thread instead, which takes everything waiting as a round: runs the
commands one after another on the aggregates as the round has them, then
commits all their events together (``RoundsApplication.run_together``). Under load a
round holds many commands and the flush is shared; when idle a round is one
command and adds nothing but a hand-over between threads.

A round that loses a race with another writer (another server process, or a
command run outside this thread) records nothing; its commands then run one by
one as usual, each retried on fresh state.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from vardekedja.application.rounds import Outcome, RoundsApplication

log = logging.getLogger(__name__)

ROUND_SIZE = 256


class WriterClosedError(RuntimeError):
    """The command writer has stopped; nothing more is run."""


@dataclass(frozen=True)
class _Job:
    run: Callable[[], Any]
    future: Future[Outcome]


class CommandWriter:
    """Runs commands in one thread, in rounds; ``run`` from the event loop, ``call`` from any thread."""

    def __init__(self, marketplace: RoundsApplication, *, round_size: int = ROUND_SIZE) -> None:
        self.marketplace = marketplace
        self.round_size = round_size
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._closed = False
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name="commands", daemon=True)
        self._thread.start()

    def submit(self, command: Callable[[], Any]) -> Future[Outcome]:
        """Queue a command (a function of no arguments that calls the marketplace)."""
        future: Future[Outcome] = Future()
        with self._lock:
            if self._closed:
                raise WriterClosedError("the server is shutting down; the command was not run")
            self._queue.put(_Job(command, future))
        return future

    async def run(self, command: Callable[[], Any]) -> Outcome:
        return await asyncio.wrap_future(self.submit(command))

    def call(self, command: Callable[[], Any]) -> Outcome:
        return self.submit(command).result()

    def close(self, timeout: float = 30.0) -> None:
        """Run what is queued, then stop; later submissions are refused."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._thread.join(timeout)

    def _serve(self) -> None:
        try:
            self._loop()
        finally:  # stopped, or killed by something no command should raise: refuse what is left
            with self._lock:
                self._closed = True
            while True:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is not None and job.future.set_running_or_notify_cancel():
                    job.future.set_exception(WriterClosedError("the command writer stopped; the command was not run"))

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            jobs = [first]
            stopping = False
            while len(jobs) < self.round_size:
                try:
                    job = self._queue.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    stopping = True
                    break
                jobs.append(job)
            live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
            try:
                while live:
                    live = self._round(live)
            except BaseException as error:  # not an Exception (those are answered in _round): stop, answering all
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(WriterClosedError(f"the command writer stopped: {error!r}"))
                raise
            if stopping:
                return

    def _round(self, jobs: list[_Job]) -> list[_Job]:
        """Run a round; return the jobs it left for the next one."""
        try:
            outcomes = self.marketplace.run_together([job.run for job in jobs])
        except Exception as error:  # noqa: BLE001 - every command of the round hears of it, and the writer goes on
            log.exception("a round of %d commands failed", len(jobs))
            for job in jobs:
                job.future.set_exception(error)
            return []
        if outcomes is None:  # the round lost a race: each on its own, retried as usual
            for job in jobs:
                self._settle(job, self.marketplace.run_alone(job.run))
            return []
        for job, outcome in zip(jobs, outcomes, strict=False):  # fewer outcomes: the rest wait
            self._settle(job, outcome)
        return jobs[len(outcomes):]

    @staticmethod
    def _settle(job: _Job, outcome: Outcome) -> None:
        if outcome.error is not None:
            job.future.set_exception(outcome.error)
        else:
            job.future.set_result(outcome)
