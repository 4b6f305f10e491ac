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

Nothing a command raises stops the thread: an exception that is not an
``Exception`` (``SystemExit``, ``KeyboardInterrupt`` raised by a command)
fails that round's commands, is logged, and the thread goes on. A command
that hangs holds the thread: callers wait at most ``timeout`` seconds and get
``CommandTimeoutError`` (503, outcome unknown), and while a round has run
longer than that the writer refuses new commands at once (``StalledError``,
503) rather than queueing them behind it; ``health()`` says so for
``/readyz``. Database waits are bounded by their lock timeouts (10 s), so
only a bug can hold a round longer.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from vardekedja.application.rounds import Outcome, RoundsApplication

log = logging.getLogger(__name__)

ROUND_SIZE = 256
COMMAND_TIMEOUT = 30.0


class WriterClosedError(RuntimeError):
    """The command writer has stopped; nothing more is run."""


class StalledError(WriterClosedError):
    """A round has run longer than the timeout; nothing new is taken until it ends."""


class CommandTimeoutError(RuntimeError):
    """The command did not finish within the timeout; it may still be recorded when it does."""


class CommandAbortedError(RuntimeError):
    """The command raised something that is not an ``Exception``; nothing of its round was recorded."""


@dataclass(frozen=True)
class _Job:
    run: Callable[[], Any]
    future: Future[Outcome]


class CommandWriter:
    """Runs commands in one thread, in rounds; ``run`` from the event loop, ``call`` from any thread."""

    def __init__(self, marketplace: RoundsApplication, *, round_size: int = ROUND_SIZE,
                 timeout: float = COMMAND_TIMEOUT) -> None:  # fmt: skip
        self.marketplace = marketplace
        self.round_size = round_size
        self.timeout = timeout
        self._round_started: float | None = None  # when the round now running began
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
            stalled = self.stalled_for()
            if stalled is not None:
                raise StalledError(f"commands are held up by one that has run for {stalled:.0f} s; "
                                   "the command was not run")  # fmt: skip
            self._queue.put(_Job(command, future))
        return future

    async def run(self, command: Callable[[], Any]) -> Outcome:
        future = asyncio.wrap_future(self.submit(command))
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.timeout)
        except TimeoutError:
            raise CommandTimeoutError(f"the command did not finish within {self.timeout:.0f} s; it may still be "
                                      "recorded: look before trying again, or retry with the same "
                                      "Idempotency-Key") from None  # fmt: skip

    def call(self, command: Callable[[], Any]) -> Outcome:
        return self.submit(command).result()

    def stalled_for(self) -> float | None:
        """Seconds the running round has taken, if more than the timeout; else None."""
        started = self._round_started
        if started is None:
            return None
        taken = time.monotonic() - started
        return taken if taken > self.timeout else None

    def health(self) -> str | None:
        """Why this writer cannot take commands now, or None when it can."""
        if not self._thread.is_alive():
            return "the command thread has stopped"
        stalled = self.stalled_for()
        if stalled is not None:
            return f"the command thread is held by a command that has run for {stalled:.0f} s"
        return None

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
            self._round_started = time.monotonic()
            try:
                while live:
                    live = self._round(live)
            except BaseException as error:  # noqa: BLE001 - not an Exception (those are answered in _round)
                log.critical("a command raised %r; its round recorded nothing and the command thread goes on",
                             error, exc_info=True)  # fmt: skip
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(CommandAbortedError(
                            f"the command was aborted ({type(error).__name__}); nothing of it was recorded"))
            finally:
                self._round_started = None
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
