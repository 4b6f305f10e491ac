"""The command writer: one thread runs every submitted command, in rounds committed as one transaction.

Many threads sending commands at once must each get their own answer and
position, with every event recorded once, and fewer transactions than
commands. A round that loses a race with another writer (here: a second
marketplace on the same store, as another server process would be) is rerun
command by command, so the domain's rules decide: of many workshops accepting
one production order, one wins and the others hear it was taken. Closing runs
what is queued and then refuses more.

To make rounds certain rather than likely, a test can "plug" the writer: its
thread runs a command that waits until every other command has been submitted.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from tests.chain import BENCH, SITE, Cast, published_design, register_cast
from tests.conftest import RecordingRefunds, store_env
from tests.integration.test_races import org_number, paid_order
from vardekedja.application import CommandWriter, Marketplace, Outcome, Recorded, WriterClosedError
from vardekedja.domain.errors import AlreadyTakenError, ConcurrentUpdateError, ForbiddenError
from vardekedja.domain.order import LineRequest
from vardekedja.domain.organisation import Role
from vardekedja.domain.production import ProductionOrder, production_order_id

THREADS = 12
PER_THREAD = 6
# Each extra marketplace needs one connection, not the default pool.
SMALL_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "4"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    return store_env(request.param, tmp_path, request)


@pytest.fixture
def app(env: dict[str, str]) -> Iterator[Marketplace]:
    marketplace = Marketplace(env, payments=RecordingRefunds())
    yield marketplace
    marketplace.close()


@pytest.fixture
def cast(app: Marketplace) -> Cast:
    return register_cast(app)


@pytest.fixture
def design_id(app: Marketplace, cast: Cast) -> UUID:
    return published_design(app, cast)


@pytest.fixture
def writer(app: Marketplace) -> Iterator[CommandWriter]:
    command_writer = CommandWriter(app)
    yield command_writer
    command_writer.close()


class Transactions:
    """Counts the recorder's inserts: each call is one transaction."""

    def __init__(self, app: Marketplace) -> None:
        self.sizes: list[int] = []
        self._lock = threading.Lock()
        insert = app.recorder.insert_events

        def counted(stored_events: Sequence[Any], **kwargs: Any) -> Any:
            with self._lock:
                self.sizes.append(len(stored_events))
            return insert(stored_events, **kwargs)

        app.recorder.insert_events = counted  # type: ignore[method-assign]

    @property
    def count(self) -> int:
        return len(self.sizes)


class Plug:
    """Holds the writer's thread in a command of its own until released, so that what is sent meanwhile queues."""

    def __init__(self, writer: CommandWriter) -> None:
        self.writer = writer
        self.running, self.released = threading.Event(), threading.Event()
        self.submitted = 0
        self._lock = threading.Lock()
        submit = writer.submit

        def counting(command: Callable[[], Any]) -> Future[Outcome]:
            future = submit(command)
            with self._lock:
                self.submitted += 1
            return future

        writer.submit = counting  # type: ignore[method-assign]
        self.future = submit(self._hold)
        assert self.running.wait(10), "the writer never ran the plug"

    def _hold(self) -> None:
        self.running.set()
        assert self.released.wait(30)

    def release_when(self, submitted: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self.submitted < submitted:
            assert time.monotonic() < deadline, f"only {self.submitted} of {submitted} commands were submitted"
            time.sleep(0.001)
        self.released.set()
        self.future.result(timeout=10)


def in_threads(calls: list[Callable[[], Any]]) -> list[Any]:
    """Run each call in its own thread, all released at once; return what each returned or raised."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            results[index] = calls[index]()
        except Exception as error:  # noqa: BLE001 - the test inspects it
            results[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a caller never got its answer"
    return results


def placed_positions(app: Marketplace, after: int) -> dict[UUID, int]:
    """The position of each order placed after ``after``."""
    return {
        n.originator_id: n.id for n in app.recorder.select_notifications(start=after + 1, limit=100_000)
        if n.topic.endswith("Order.Placed")
    }  # fmt: skip


def order_command(app: Marketplace, cast: Cast, design_id: UUID, quantity: int = 1) -> Callable[[], Recorded]:
    return lambda: app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, quantity)])


def check_orders(app: Marketplace, answers: list[Any], head: int, quantities: list[int]) -> None:
    """Every answer is its own order at its own position, and the store holds exactly those orders."""
    assert not [answer for answer in answers if isinstance(answer, Exception)], answers
    placed = placed_positions(app, head)
    assert len(placed) == len(answers) == len(quantities)
    assert app.position == head + len(answers)
    assert sorted(answer.position for answer in answers) == list(range(head + 1, head + len(answers) + 1))
    for answer, quantity in zip(answers, quantities, strict=True):
        assert isinstance(answer, Outcome) and isinstance(answer.value, Recorded)
        assert answer.position == answer.value.position == placed[answer.value.id]
        assert app.order(answer.value.id).lines[0].quantity == quantity


def test_commands_from_many_threads_queued_together_commit_as_one_round(app, cast, design_id, writer) -> None:
    head = app.position
    transactions = Transactions(app)
    plug = Plug(writer)
    quantities = [1 + n % 5 for n in range(THREADS * PER_THREAD)]
    calls = [lambda q=q: writer.call(order_command(app, cast, design_id, q)) for q in quantities]

    releasing = threading.Thread(target=plug.release_when, args=(len(calls),))
    releasing.start()
    answers = in_threads(calls)
    releasing.join()

    check_orders(app, answers, head, quantities)
    assert transactions.sizes == [len(calls)]


def test_rounds_are_no_larger_than_the_round_size(app, cast, design_id) -> None:
    head = app.position
    writer = CommandWriter(app, round_size=16)
    try:
        transactions = Transactions(app)
        plug = Plug(writer)
        futures = [writer.submit(order_command(app, cast, design_id)) for _ in range(40)]
        plug.release_when(40)
        answers = [future.result(timeout=30) for future in futures]
    finally:
        writer.close()

    check_orders(app, answers, head, [1] * 40)
    assert transactions.sizes == [16, 16, 8]
    assert [answer.position for answer in answers] == list(range(head + 1, head + 41))  # in the order sent


def test_commands_sent_from_many_threads_at_once_all_succeed_in_fewer_transactions(app, cast, design_id, writer) -> None:
    head = app.position
    transactions = Transactions(app)

    def send(thread_no: int) -> list[Outcome]:
        return [writer.call(order_command(app, cast, design_id, 1 + thread_no % 5)) for _ in range(PER_THREAD)]

    answers = in_threads([lambda n=n: send(n) for n in range(THREADS)])

    flat = [answer for answers_of_one in answers for answer in answers_of_one]
    check_orders(app, flat, head, [1 + n % 5 for n in range(THREADS) for _ in range(PER_THREAD)])
    assert sum(transactions.sizes) == len(flat)
    assert transactions.count < len(flat), "no round held more than one command"


def test_a_command_that_fails_gets_its_error_and_the_others_in_its_round_commit(app, cast, design_id, writer) -> None:
    head = app.position
    transactions = Transactions(app)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id

    def half_done() -> None:
        app.order(order_id).record_payment_failure("pi_half", "never saved")
        raise RuntimeError("failed half-way")

    plug = Plug(writer)
    futures = [
        writer.submit(order_command(app, cast, design_id)),
        writer.submit(lambda: app.place_order(cast.workshop, SITE, True, [LineRequest(design_id, 1)])),
        writer.submit(half_done),
        writer.submit(order_command(app, cast, design_id, 2)),
        writer.submit(lambda: app.start_checkout(cast.buyer, order_id, "pi_1")),
    ]
    plug.release_when(len(futures))

    with pytest.raises(ForbiddenError):
        futures[1].result(timeout=30)
    with pytest.raises(RuntimeError, match="half-way"):
        futures[2].result(timeout=30)
    done = [futures[n].result(timeout=30) for n in (0, 3, 4)]
    # The half-done command cut its round short; the rest ran in the next one.
    assert transactions.sizes == [1, 1, 2]
    assert [answer.position for answer in done] == [head + 2, head + 3, head + 4]
    order = app.order(order_id)
    assert order.checkouts == ["pi_1"] and order.failed_payments == []


def test_a_round_whose_commit_is_refused_is_rerun_command_by_command(app, cast, design_id, writer, monkeypatch) -> None:
    head = app.position
    record, refused = app._record, []

    def refuse_the_first_round(processing: Any) -> Any:
        if not refused and len(processing.events) > 1:
            refused.append(len(processing.events))
            raise IntegrityError("another process wrote first")
        return record(processing)

    monkeypatch.setattr(app, "_record", refuse_the_first_round)
    transactions = Transactions(app)
    plug = Plug(writer)
    futures = [writer.submit(order_command(app, cast, design_id, q)) for q in (1, 2, 3, 4)]
    plug.release_when(len(futures))
    answers = [future.result(timeout=30) for future in futures]

    assert refused == [4]
    assert transactions.sizes == [1, 1, 1, 1]  # each alone
    check_orders(app, answers, head, [1, 2, 3, 4])


def test_a_store_failure_reaches_every_command_of_the_round_and_the_writer_goes_on(
    app, cast, design_id, writer, monkeypatch
) -> None:
    head = app.position
    record, failed = app._record, []

    def fail_once(processing: Any) -> Any:
        if not failed:
            failed.append(len(processing.events))
            raise OperationalError("the disk is full")
        return record(processing)

    monkeypatch.setattr(app, "_record", fail_once)
    plug = Plug(writer)
    futures = [writer.submit(order_command(app, cast, design_id)) for _ in range(3)]
    plug.release_when(len(futures))

    for future in futures:
        with pytest.raises(OperationalError):
            future.result(timeout=30)
    assert failed == [3] and app.position == head
    answer = writer.call(order_command(app, cast, design_id, 2))
    check_orders(app, [answer], head, [2])


def register_workshops(app: Marketplace, count: int, first: int) -> list[UUID]:
    return [
        app.register_organisation(
            name=f"Verkstad {n}", role=Role.WORKSHOP, org_number=org_number(n), municipality="Botkyrka",
            capabilities=list(BENCH.required_capabilities), service_area=[SITE.municipality],
        ).organisation_id
        for n in range(first, first + count)
    ]  # fmt: skip


def accepted_by(app: Marketplace, production_id: UUID) -> list[UUID]:
    fresh = [e for e in app.events.get(production_id) if isinstance(e, ProductionOrder.Accepted)]
    return [event.workshop_id for event in fresh]


def test_of_many_workshops_accepting_one_production_order_through_the_writer_one_wins(
    app, cast, design_id, writer
) -> None:
    workshops = register_workshops(app, 10, 100)
    for round_no in range(3):
        order = paid_order(app, cast.buyer, [LineRequest(design_id, 1)], install=False, intent=f"pi_{round_no}")
        production_id = production_order_id(order.id, 1)
        plug = Plug(writer) if round_no % 2 == 0 else None  # all in one round, or as they come
        calls = [partial(writer.call, partial(app.accept_production, w, production_id)) for w in workshops]
        if plug is not None:
            releasing = threading.Thread(target=plug.release_when, args=(len(calls),))
            releasing.start()
        answers = in_threads(calls)
        if plug is not None:
            releasing.join()

        winners = [w for w, answer in zip(workshops, answers, strict=True) if isinstance(answer, Outcome)]
        losses = [answer for answer in answers if not isinstance(answer, Outcome)]
        assert len(winners) == 1, f"round {round_no}: {answers}"
        assert len(losses) == len(workshops) - 1
        assert all(isinstance(loss, AlreadyTakenError) for loss in losses), losses
        assert accepted_by(app, production_id) == winners
        assert app.production_order(production_id).workshop_id == winners[0]


def test_workshops_racing_through_the_writer_and_through_another_process_one_wins(app, env, cast, design_id, writer) -> None:
    workshops = register_workshops(app, 12, 200)
    others = [Marketplace({**env, **SMALL_POOL}, payments=RecordingRefunds()) for _ in range(3)]
    try:
        for round_no in range(4):
            order = paid_order(app, cast.buyer, [LineRequest(design_id, 1)], install=False, intent=f"pi_{round_no}")
            production_id = production_order_id(order.id, 1)
            calls: list[Callable[[], Any]] = []
            for n, workshop in enumerate(workshops):
                if n % 2:  # through the writer
                    calls.append(partial(writer.call, partial(app.accept_production, workshop, production_id)))
                else:  # another process's own command
                    calls.append(partial(others[n % 3].accept_production, workshop, production_id))

            answers = in_threads(calls)

            won = [n for n, answer in enumerate(answers) if not isinstance(answer, Exception)]
            assert len(won) == 1, f"round {round_no}: {answers}"
            for n, answer in enumerate(answers):
                if n in won:
                    continue
                if n % 2:  # the writer reruns a lost round on fresh state: the rules answer
                    assert isinstance(answer, AlreadyTakenError), answer
                else:
                    assert isinstance(answer, AlreadyTakenError | ConcurrentUpdateError), answer
            assert accepted_by(app, production_id) == [workshops[won[0]]]
            # The writer's next round sees the winner, whoever it was.
            done = writer.call(partial(app.production_order, production_id))
            assert done.value.workshop_id == workshops[won[0]]
    finally:
        for other in others:
            other.close()


def test_closing_runs_what_is_queued_and_then_refuses_more(app, cast, design_id) -> None:
    head = app.position
    writer = CommandWriter(app)
    plug = Plug(writer)
    futures = [writer.submit(order_command(app, cast, design_id, q)) for q in (1, 2, 3)]
    closing = threading.Thread(target=writer.close)
    closing.start()
    deadline = time.monotonic() + 10
    while True:  # closed for new commands at once, while the queued ones still wait
        try:
            futures.append(writer.submit(order_command(app, cast, design_id)))  # before close() took effect
        except WriterClosedError:
            break
        assert time.monotonic() < deadline, "close() never took effect"
    assert not any(future.done() for future in futures)
    plug.release_when(0)
    closing.join(timeout=30)

    assert not closing.is_alive()
    check_orders(app, [future.result() for future in futures], head, [1, 2, 3] + [1] * (len(futures) - 3))
    with pytest.raises(WriterClosedError):
        writer.call(order_command(app, cast, design_id))
    with pytest.raises(WriterClosedError):
        asyncio.run(writer.run(order_command(app, cast, design_id)))
    writer.close()  # again: nothing to do
    assert app.position == head + len(futures)


def test_commands_are_awaited_from_an_event_loop_without_blocking_it(app, cast, design_id, writer) -> None:
    head = app.position

    async def main() -> tuple[list[Outcome], BaseException | None]:
        plug = Plug(writer)
        tasks = [asyncio.create_task(writer.run(order_command(app, cast, design_id, q))) for q in range(1, 11)]
        await asyncio.sleep(0.05)  # the loop goes on while the commands wait for the writer's thread
        assert not any(task.done() for task in tasks)
        plug.released.set()
        answers = await asyncio.wait_for(asyncio.gather(*tasks), timeout=30)
        try:
            await writer.run(lambda: app.place_order(cast.workshop, SITE, True, [LineRequest(design_id, 1)]))
        except ForbiddenError as error:
            return list(answers), error
        return list(answers), None

    answers, error = asyncio.run(main())

    check_orders(app, answers, head, list(range(1, 11)))
    assert isinstance(error, ForbiddenError)
