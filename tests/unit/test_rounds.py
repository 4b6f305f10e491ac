"""Rounds: many commands run one after another on one thread and committed in one transaction.

``Marketplace.run_together`` holds back every save of the commands it runs,
lets each command see what the earlier ones changed, and commits all their
events at once; each command's position is filled in after the commit. A
command that changes an aggregate and then raises ends the round early, a
commit that loses a race records nothing, and the aggregates the thread keeps
between rounds are dropped when anyone else has written. Whatever the rounds,
the store must end up exactly as if every command had run on its own.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.chain import BENCH, SITE, Cast, published_design, register_cast, spec
from tests.conftest import RecordingRefunds
from tests.unit.builders import org_number
from vardekedja.application import PENDING_POSITION, Marketplace, Outcome, Recorded
from vardekedja.domain.directory import DIRECTORY_ID, Directory
from vardekedja.domain.errors import ForbiddenError, RuleViolationError
from vardekedja.domain.order import LineRequest, Order, OrderStatus
from vardekedja.domain.organisation import Role
from vardekedja.domain.production import production_order_id
from vardekedja.personal_data import is_sealed

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


class Transactions:
    """Counts the recorder's inserts: one call is one transaction, whatever it holds."""

    def __init__(self, app: Marketplace) -> None:
        self.sizes: list[int] = []
        insert = app.recorder.insert_events

        def counted(stored_events: Sequence[Any], **kwargs: Any) -> Any:
            self.sizes.append(len(stored_events))
            return insert(stored_events, **kwargs)

        app.recorder.insert_events = counted  # type: ignore[method-assign]

    @property
    def count(self) -> int:
        return len(self.sizes)


@pytest.fixture
def app() -> Iterable[Marketplace]:
    marketplace = Marketplace(MEMORY, payments=RecordingRefunds())
    yield marketplace
    marketplace.close()


@pytest.fixture
def cast(app: Marketplace) -> Cast:
    return register_cast(app)


def last_positions(app: Marketplace, after: int = 0) -> dict[UUID, int]:
    """The position of each aggregate's last event recorded after ``after``."""
    return {n.originator_id: n.id for n in app.recorder.select_notifications(start=after + 1, limit=10_000)}


def topics_since(app: Marketplace, position: int) -> list[str]:
    return [n.topic.split(":")[-1] for n in app.recorder.select_notifications(start=position + 1, limit=10_000)]


def latest_title(app: Marketplace, design_id: UUID) -> str:
    design = app.design(design_id)
    return design.revisions[design.latest_revision].title


def order_job(app: Marketplace, cast: Cast, design_id: UUID, quantity: int = 1,
              buyer: UUID | None = None) -> Callable[[], Recorded]:  # fmt: skip
    return lambda: app.place_order(buyer or cast.buyer, SITE, True, [LineRequest(design_id, quantity)])


def kinds(outcomes: Sequence[Outcome]) -> list[str]:
    return ["ok" if outcome.error is None else type(outcome.error).__name__ for outcome in outcomes]


# What the store holds, compared between two applications: ids are numbered in order of
# first appearance and times and random API keys left out, since those differ run to run.

def _canonical(value: Any, ids: dict[UUID, int]) -> Any:
    if isinstance(value, UUID):
        return ("id", ids.setdefault(value, len(ids)))
    if isinstance(value, datetime):
        return "<time>"
    if isinstance(value, dict):
        return sorted((repr(_canonical(k, ids)), _canonical(v, ids)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_canonical(item, ids) for item in value]
    if isinstance(value, set | frozenset):
        return sorted(repr(_canonical(item, ids)) for item in value)
    if hasattr(value, "__dict__") and not isinstance(value, type):
        return _canonical(vars(value), ids)
    return value


def history(app: Marketplace) -> list[tuple[Any, ...]]:
    ids: dict[UUID, int] = {}
    found = []
    for notification in app.recorder.select_notifications(start=1, limit=100_000):
        event = app.mapper.to_domain_event(notification)
        # Sealed personal data differs from store to store (each has its own keys and nonces): compare it opened.
        state = {k: ("sealed", app.personal_data.open(v)) if is_sealed(v) else v
                 for k, v in vars(event).items() if k not in ("timestamp", "key_id", "key_hash")}  # fmt: skip
        found.append((notification.id, notification.topic, _canonical(state, ids)))
    return found


# A round of independent commands.


def test_a_round_of_orders_commits_in_one_transaction_and_each_learns_the_position_of_its_own_event(
    app: Marketplace, cast: Cast
) -> None:
    design_id = published_design(app, cast)
    head = app.position
    transactions = Transactions(app)
    announced: list[int] = []
    app.on_saved(announced.append)
    seen_during: list[int] = []

    def order_and_look(quantity: int) -> Recorded:
        recorded = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, quantity)])
        seen_during.append(app.recorder.max_notification_id() or 0)  # held back: nothing is in the store yet
        return recorded

    outcomes = app.run_together([lambda q=q: order_and_look(q) for q in range(1, 21)])

    assert outcomes is not None and kinds(outcomes) == ["ok"] * 20
    assert transactions.sizes == [20]
    assert seen_during == [head] * 20
    last = last_positions(app, head)
    assert len(last) == 20 and app.position == head + 20
    positions = [outcome.position for outcome in outcomes]
    assert positions == list(range(head + 1, head + 21))
    for quantity, outcome in enumerate(outcomes, start=1):
        recorded = outcome.result()
        assert recorded.position == outcome.position == last[recorded.id]
        assert app.order(recorded.id).lines[0].quantity == quantity
    assert announced == [head + 20]  # the projector is woken once, for the whole round


def test_one_command_alone_answers_as_a_round_of_one_would(app: Marketplace, cast: Cast) -> None:
    design_id = published_design(app, cast)
    transactions = Transactions(app)

    alone = app.run_alone(order_job(app, cast, design_id))
    (together,) = app.run_together([order_job(app, cast, design_id)]) or []

    assert transactions.count == 2
    assert alone.position == alone.value.position == app.position - 1 == last_positions(app)[alone.value.id]
    assert together.position == together.value.position == app.position == last_positions(app)[together.value.id]
    failed = app.run_alone(order_job(app, cast, design_id, buyer=cast.workshop))
    assert isinstance(failed.error, ForbiddenError) and failed.value is None
    with pytest.raises(ForbiddenError):
        failed.result()


# Commands that depend on each other within a round.


def run_both_ways(script: Callable[[Marketplace], list[Callable[[], Any]]],
                  setup: Callable[[Marketplace], Any] | None = None) -> tuple[Marketplace, list[Outcome], list[Outcome]]:  # fmt: skip
    """Run a script's commands as one round in one application and one by one in another.

    Returns the round's application and both lists of outcomes, after checking
    that both stores hold the same history.
    """
    together_app, alone_app = Marketplace(MEMORY), Marketplace(MEMORY)
    if setup is not None:
        setup(together_app)
        setup(alone_app)
    jobs = script(together_app)
    transactions = Transactions(together_app)
    together = together_app.run_together(jobs)
    alone = [alone_app.run_alone(job) for job in script(alone_app)]
    assert together is not None
    assert transactions.count == 1
    assert history(together_app) == history(alone_app)
    assert kinds(together) == kinds(alone)
    assert [o.position for o in together if o.error is None] == [o.position for o in alone if o.error is None]
    alone_app.close()
    return together_app, together, alone


def test_a_design_published_earlier_in_a_round_can_be_ordered_later_in_it() -> None:
    def script(app: Marketplace) -> list[Callable[[], Any]]:
        cast = register_cast(app)
        design_id = app.draft_design(cast.designer, BENCH).id
        return [
            order_job(app, cast, design_id),  # not published yet
            lambda: app.publish_design(cast.designer, design_id),
            order_job(app, cast, design_id, 2),
            lambda: app.revise_design(cast.designer, design_id, spec(production_fee_ore=5_000_00)),
            lambda: app.publish_design(cast.designer, design_id),
            order_job(app, cast, design_id, 3),  # at the second revision's price
            lambda: app.retire_design(cast.designer, design_id),
            order_job(app, cast, design_id, 4),
        ]

    app, outcomes, _ = run_both_ways(script)

    assert kinds(outcomes) == ["NotOrderableError", "ok", "ok", "ok", "ok", "ok", "ok", "NotOrderableError"]
    assert "no published design" in str(outcomes[0].error) and "retired" in str(outcomes[7].error)
    first, second = app.order(outcomes[2].value.id), app.order(outcomes[5].value.id)
    assert (first.lines[0].revision, second.lines[0].revision) == (1, 2)
    assert second.lines[0].production_fee_ore == 5_000_00 != first.lines[0].production_fee_ore


def test_organisations_registered_in_one_round_are_all_listed_in_the_directory() -> None:
    def register(app: Marketplace, serial: int, role: Role, **extra: Any) -> Callable[[], Any]:
        return lambda: app.register_organisation(name=f"Org {serial}", role=role, org_number=org_number(serial),
                                                 municipality="Botkyrka", **extra)  # fmt: skip

    def script(app: Marketplace) -> list[Callable[[], Any]]:
        return [
            register(app, 9001, Role.WORKSHOP, capabilities=["carpentry", "welding"], service_area=["Botkyrka"]),
            register(app, 9002, Role.AREA_COMPANY, service_area=["Botkyrka"]),
            register(app, 9001, Role.BUYER),  # the same number as the first: the round's directory knows it
            register(app, 9003, Role.BUYER),
        ]

    app, outcomes, _ = run_both_ways(script)  # no directory before the round: the first registration opens it

    assert kinds(outcomes) == ["ok", "ok", "DuplicateOrganisationError", "ok"]
    listed = app.directory().listings
    assert set(listed) == {outcomes[0].value.organisation_id, outcomes[1].value.organisation_id,
                           outcomes[3].value.organisation_id}  # fmt: skip
    assert [e.__class__.__name__ for e in app.events.get(DIRECTORY_ID)] == ["Opened", "Listed", "Listed", "Listed"]
    for outcome in outcomes:  # each issued key tells where its registration landed
        if outcome.error is None:
            assert outcome.value.position == outcome.position != PENDING_POSITION


def test_an_order_placed_in_a_round_can_be_paid_and_produced_in_the_same_round() -> None:
    def setup(app: Marketplace) -> None:
        cast = register_cast(app)
        app.cast, app.design_id = cast, published_design(app, cast)  # type: ignore[attr-defined]

    def script(app: Marketplace) -> list[Callable[[], Any]]:
        cast, placed = app.cast, []  # type: ignore[attr-defined]

        def place() -> Recorded:
            recorded = app.place_order(cast.buyer, SITE, True, [LineRequest(app.design_id, 2)])  # type: ignore[attr-defined]
            placed.append(recorded.id)
            return recorded

        def pay() -> Recorded:
            return app.record_payment(placed[0], "pi_1", app.order(placed[0]).total_ore, "sek")

        def production(command: str, workshop: UUID) -> Callable[[], Any]:
            arguments = (6.0, "klar") if command == "complete_production" else ()
            return lambda: getattr(app, command)(workshop, production_order_id(placed[0], 1), *arguments)

        return [
            place,
            lambda: app.start_checkout(cast.buyer, placed[0], "pi_1"),
            pay,
            production("accept_production", cast.workshop),
            production("accept_production", cast.other_workshop),  # already taken
            production("start_production", cast.workshop),
            production("complete_production", cast.workshop),
            lambda: app.cancel_order(cast.buyer, placed[0]),  # too late: it is in production
        ]

    app, outcomes, _ = run_both_ways(script, setup)

    assert kinds(outcomes) == ["ok", "ok", "ok", "ok", "AlreadyTakenError", "ok", "ok", "InvalidTransitionError"]
    order = app.order(outcomes[0].value.id)
    assert order.status is OrderStatus.IN_PRODUCTION
    assert app.delivery_for(order.id, 1).workshop_id == app.cast.workshop  # type: ignore[attr-defined]


# Errors.


def test_a_command_that_raises_a_domain_error_gets_it_and_the_others_commit(app: Marketplace, cast: Cast) -> None:
    design_id = published_design(app, cast)
    head = app.position
    transactions = Transactions(app)

    outcomes = app.run_together([
        order_job(app, cast, design_id),
        order_job(app, cast, design_id, buyer=cast.workshop),  # only a buyer orders
        lambda: app.place_order(cast.buyer, SITE, True, []),  # an order needs a line
        order_job(app, cast, design_id, 2),
    ])  # fmt: skip

    assert outcomes is not None and kinds(outcomes) == ["ok", "ForbiddenError", "InvalidOrderError", "ok"]
    assert transactions.sizes == [2]
    assert topics_since(app, head) == ["Order.Placed", "Order.Placed"]
    # A command that recorded nothing stands after what the round recorded before it.
    assert outcomes[1].position == outcomes[2].position == outcomes[0].position == head + 1
    assert outcomes[3].position == head + 2
    with pytest.raises(ForbiddenError):
        outcomes[1].result()
    with pytest.raises(RuleViolationError):
        outcomes[2].result()


def test_a_command_that_changes_an_aggregate_and_then_raises_ends_the_round_and_its_change_is_not_kept(
    app: Marketplace, cast: Cast
) -> None:
    design_id = published_design(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id
    assert app.run_together([lambda: app.order(order_id)]) is not None  # the thread now keeps the order
    head = app.position
    transactions = Transactions(app)

    def half_done() -> None:
        order = app.order(order_id)  # the round's own object, not a copy
        order.record_payment_failure("pi_half", "changed in memory, never saved")
        raise RuntimeError("failed half-way")

    jobs = [
        lambda: app.start_checkout(cast.buyer, order_id, "pi_1"),  # saved: this is recorded
        order_job(app, cast, design_id),
        half_done,
        order_job(app, cast, design_id, 2),
        lambda: app.start_checkout(cast.buyer, order_id, "pi_2"),
    ]
    outcomes = app.run_together(jobs)

    assert outcomes is not None and kinds(outcomes) == ["ok", "ok", "RuntimeError"]
    assert transactions.sizes == [2]
    assert topics_since(app, head) == ["Order.CheckoutStarted", "Order.Placed"]
    assert outcomes[2].position == head + 2
    assert app.order(order_id).failed_payments == []

    rest = app.run_together(jobs[len(outcomes):])  # the caller runs the rest in the next round

    assert rest is not None and kinds(rest) == ["ok", "ok"]
    assert topics_since(app, head) == ["Order.CheckoutStarted", "Order.Placed", "Order.Placed",
                                       "Order.CheckoutStarted"]  # fmt: skip
    order = app.order(order_id)
    assert order.checkouts == ["pi_1", "pi_2"] and order.failed_payments == []
    assert [e.__class__.__name__ for e in app.events.get(order_id)] == ["Placed", "CheckoutStarted", "CheckoutStarted"]
    # The thread's next round loads the order as the store has it, not as the failed command left it.
    (seen,) = app.run_together([lambda: list(app.order(order_id).failed_payments)]) or []
    assert seen.value == []


def test_a_registration_refused_after_listing_in_the_directory_ends_the_round_without_the_listing(
    app: Marketplace, cast: Cast
) -> None:
    head = app.position

    def register(serial: int, **extra: Any) -> Callable[[], Any]:
        return lambda: app.register_organisation(name=f"Org {serial}", role=Role.BUYER,
                                                 org_number=org_number(serial), municipality="Botkyrka", **extra)  # fmt: skip

    jobs = [register(9101), register(9102, api_key="not-a-key"), register(9103)]
    outcomes = app.run_together(jobs)

    # The directory listed the second organisation before its key was refused.
    assert outcomes is not None and kinds(outcomes) == ["ok", "RuleViolationError"]
    rest = app.run_together(jobs[2:])
    assert rest is not None and kinds(rest) == ["ok"]
    again = app.run_together([register(9102)])  # the refused number was never taken
    assert again is not None and kinds(again) == ["ok"]
    listed = {item.org_number for item in app.directory().listings.values()}
    assert {org_number(9101), org_number(9102), org_number(9103)} <= listed
    assert topics_since(app, head).count("Directory.Listed") == 3
    assert len(app.directory().listings) == 5 + 3


# Aggregates kept between rounds.


def test_the_thread_keeps_what_it_loaded_for_the_next_round_until_someone_else_writes(
    app: Marketplace, cast: Cast
) -> None:
    design_id = published_design(app, cast)
    loaded: list[UUID] = []
    get = app.repository.get

    def counted(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        loaded.append(aggregate_id)
        return get(aggregate_id, *args, **kwargs)

    app.repository.get = counted  # type: ignore[method-assign]

    assert app.run_together([order_job(app, cast, design_id)]) is not None
    assert set(loaded) == {cast.buyer, design_id}  # the directory: from the copy the application keeps
    loaded.clear()
    assert app.run_together([order_job(app, cast, design_id), order_job(app, cast, design_id)]) is not None
    assert loaded == []  # nobody else wrote: the buyer, the design and the directory were kept

    app.draft_design(cast.designer, spec(title="Någon annans skrivning"))
    loaded.clear()
    assert app.run_together([order_job(app, cast, design_id)]) is not None
    # Dropped, and loaded afresh; the directory is brought up to date from its newer events instead.
    assert set(loaded) == {cast.buyer, design_id}


def test_a_design_retired_outside_the_rounds_cannot_be_ordered_in_the_next_one(app: Marketplace, cast: Cast) -> None:
    design_id = published_design(app, cast)
    assert kinds(app.run_together([order_job(app, cast, design_id)]) or []) == ["ok"]  # keeps the design

    app.retire_design(cast.designer, design_id)  # an ordinary command, not in a round

    outcomes = app.run_together([order_job(app, cast, design_id)])
    assert outcomes is not None and kinds(outcomes) == ["NotOrderableError"]
    assert "retired" in str(outcomes[0].error)


def test_what_a_round_read_is_not_kept_when_another_writer_wrote_while_it_ran(app: Marketplace, cast: Cast) -> None:
    """The round only read the design, so its commit does not conflict; its copy is stale all the same."""
    design_id = published_design(app, cast)

    def retire_elsewhere() -> None:
        thread = threading.Thread(target=app.retire_design, args=(cast.designer, design_id))  # not in the round
        thread.start()
        thread.join()

    first = app.run_together([order_job(app, cast, design_id), retire_elsewhere])
    assert first is not None and kinds(first) == ["ok", "ok"]
    assert topics_since(app, first[0].position - 2)[-2:] == ["Design.Retired", "Order.Placed"]

    outcomes = app.run_together([order_job(app, cast, design_id)])

    assert outcomes is not None and kinds(outcomes) == ["NotOrderableError"], "the round ordered a retired design"


def test_a_revision_and_a_registration_outside_the_rounds_are_seen_by_the_next_one(
    app: Marketplace, cast: Cast
) -> None:
    design_id = published_design(app, cast)
    assert kinds(app.run_together([order_job(app, cast, design_id)]) or []) == ["ok"]
    elsewhere = SITE.__class__(name="Torget", street="Torget 1", postal_code="141 30", municipality="Huddinge")

    app.revise_design(cast.designer, design_id, spec(production_fee_ore=6_000_00))
    app.publish_design(cast.designer, design_id)
    app.register_organisation(name="Huddinge Områdesföretag", role=Role.AREA_COMPANY, org_number=org_number(9201),
                              municipality="Huddinge", service_area=["Huddinge"])  # fmt: skip

    outcomes = app.run_together([
        order_job(app, cast, design_id),
        lambda: app.place_order(cast.buyer, elsewhere, True, [LineRequest(design_id, 1)]),
    ])  # fmt: skip

    assert outcomes is not None and kinds(outcomes) == ["ok", "ok"]
    for outcome in outcomes:
        line = app.order(outcome.value.id).lines[0]
        assert (line.revision, line.production_fee_ore) == (2, 6_000_00)


def test_an_aggregate_changed_outside_the_rounds_is_changed_again_in_the_next_one_without_a_conflict(
    app: Marketplace, cast: Cast
) -> None:
    design_id = published_design(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id
    assert kinds(app.run_together([lambda: app.start_checkout(cast.buyer, order_id, "pi_1")]) or []) == ["ok"]

    app.record_payment_failure(order_id, "pi_1", "card declined")  # the kept order is now behind

    outcomes = app.run_together([lambda: app.start_checkout(cast.buyer, order_id, "pi_2")])
    assert outcomes is not None, "the round used the order it kept from before the outside write"
    assert kinds(outcomes) == ["ok"]
    versions = [event.originator_version for event in app.events.get(order_id)]
    assert versions == [1, 2, 3, 4] and app.order(order_id).failed_payments == ["pi_1"]


# A commit that loses the race.


def test_a_round_that_loses_a_race_at_commit_records_nothing_and_each_command_then_runs_alone(
    app: Marketplace, cast: Cast
) -> None:
    design_id = published_design(app, cast)
    head = app.position
    announced: list[int] = []
    app.on_saved(announced.append)
    interloped = threading.Event()

    def interloper() -> None:
        """Another writer (a thread not in the round) revises the same design while the round runs."""
        if interloped.is_set():
            return
        interloped.set()
        thread = threading.Thread(
            target=app.revise_design, args=(cast.designer, design_id, spec(title="Från en annan skrivare"))
        )
        thread.start()
        thread.join()

    jobs = [
        order_job(app, cast, design_id),
        lambda: app.revise_design(cast.designer, design_id, spec(title="Från rundan")),
        interloper,
        order_job(app, cast, design_id, 2),
    ]
    outcomes = app.run_together(jobs)

    assert outcomes is None
    assert topics_since(app, head) == ["Design.Revised"]  # only the other writer's event
    assert announced == [head + 1]
    assert latest_title(app, design_id) == "Från en annan skrivare"

    alone = [app.run_alone(job) for job in jobs]

    assert kinds(alone) == ["ok", "ok", "ok", "ok"]
    assert topics_since(app, head) == ["Design.Revised", "Order.Placed", "Design.Revised", "Order.Placed"]
    last = last_positions(app, head)
    assert alone[0].position == alone[0].value.position == last[alone[0].value.id] == head + 2
    assert alone[1].position == head + 3 and alone[3].position == head + 4
    assert latest_title(app, design_id) == "Från rundan"
    # And the next round starts afresh from the store.
    again = app.run_together([lambda: app.revise_design(cast.designer, design_id, spec(title="Sist"))])
    assert again is not None and kinds(again) == ["ok"] and again[0].position == head + 5


def test_a_round_whose_commit_is_refused_once_writes_nothing_and_a_second_round_writes_it_all(
    app: Marketplace, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsourcing.persistence import IntegrityError

    design_id = published_design(app, cast)
    assert app.run_together([order_job(app, cast, design_id)]) is not None  # something is kept
    head = app.position
    record = app._record
    refusals = []

    def refuse_once(processing: Any) -> Any:
        if not refusals:
            refusals.append(len(processing.events))
            raise IntegrityError("another writer got there first")
        return record(processing)

    monkeypatch.setattr(app, "_record", refuse_once)
    jobs = [order_job(app, cast, design_id, q) for q in (1, 2, 3)]

    assert app.run_together(jobs) is None
    assert refusals == [3] and app.position == head
    outcomes = app.run_together(jobs)

    assert outcomes is not None and kinds(outcomes) == ["ok"] * 3
    assert [o.position for o in outcomes] == [head + 1, head + 2, head + 3]
    assert [app.order(o.value.id).lines[0].quantity for o in outcomes] == [1, 2, 3]


# Positions of commands that record nothing themselves.


def test_a_command_that_records_nothing_answers_a_position_covering_what_it_saw_in_the_round(
    app: Marketplace, cast: Cast
) -> None:
    """Run alone, a no-op answers the head, which holds everything before it; in a round it must too.

    ``refund_order`` with nothing due returns ``Recorded(order, self.position)``.
    In a round ``self.position`` is the store's head before the round, so its
    result names a position before the order's own checkout recorded earlier
    in the same round, and disagrees with the outcome's position.
    """
    design_id = published_design(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id
    head = app.position

    outcomes = app.run_together([
        lambda: app.start_checkout(cast.buyer, order_id, "pi_1"),
        lambda: app.refund_order(order_id),  # nothing is due: records nothing
    ])  # fmt: skip

    assert outcomes is not None and kinds(outcomes) == ["ok", "ok"]
    assert outcomes[1].position == head + 1  # the outcome covers the checkout before it
    assert outcomes[1].value.position == outcomes[1].position, (
        f"the command's own result says {outcomes[1].value.position}, before the checkout at {head + 1} it saw"
    )


# Any commands, any rounds: the same as one by one.


class Script:
    """Commands over a cast and two designs, as jobs; orders are named by the order they were placed in."""

    def __init__(self, app: Marketplace) -> None:
        self.app = app
        self.cast = register_cast(app)
        self.designs = [published_design(app, self.cast), published_design(app, self.cast, spec(title="Stol"))]
        self.workshops = [self.cast.workshop, self.cast.other_workshop]
        self.placed: list[UUID] = []

    def order_id(self, index: int) -> UUID:
        if not self.placed:
            raise LookupError("no order placed yet")
        return self.placed[index % len(self.placed)]

    def job(self, kind: str, a: int, b: int) -> Callable[[], Any]:
        app, cast = self.app, self.cast

        def place() -> Recorded:
            recorded = app.place_order(cast.buyer, SITE, b % 2 == 0, [LineRequest(self.designs[a % 2], 1 + b % 3)])
            self.placed.append(recorded.id)
            return recorded

        def pay() -> Recorded:
            order = app.order(self.order_id(a))
            intent = order.checkouts[-1] if order.checkouts else "pi_none"
            return app.record_payment(order.id, intent, order.total_ore - (b == 3), "sek")

        def production(command: str) -> Callable[[], Any]:
            arguments = (1.0 + b, "klar") if command == "complete_production" else ()
            return lambda: getattr(app, command)(self.workshops[b % 2], production_order_id(self.order_id(a), 1),
                                                 *arguments)  # fmt: skip

        def half_done() -> None:
            app.order(self.order_id(a)).record_payment_failure(f"pi_half_{b}", "never saved")
            raise RuntimeError("failed half-way")

        def register() -> Any:
            return app.register_organisation(
                name=f"Verkstad {a}", role=Role.WORKSHOP, org_number=org_number(9300 + a), municipality="Huddinge",
                capabilities=["carpentry", "welding"], service_area=["Botkyrka"],
                api_key=None if b % 2 else "vk_short_key",
            )  # fmt: skip

        jobs: dict[str, Callable[[], Any]] = {
            "place": place,
            "checkout": lambda: app.start_checkout(cast.buyer, self.order_id(a), f"pi_{a}_{b}"),
            "pay": pay,
            "cancel": lambda: app.cancel_order(cast.buyer, self.order_id(a), "ångrat"),
            "refund": lambda: app.refund_order(self.order_id(a)),
            "accept": production("accept_production"),
            "start": production("start_production"),
            "complete": production("complete_production"),
            "revise": lambda: app.revise_design(cast.designer, self.designs[a % 2],
                                                spec(production_fee_ore=1_000_00 * (1 + b))),  # fmt: skip
            "publish": lambda: app.publish_design(cast.designer, self.designs[a % 2]),
            "retire": lambda: app.retire_design(cast.designer, self.designs[a % 2]),
            "register": register,
            "half_done": half_done,
        }
        return jobs[kind]

    def money(self) -> list[tuple[str, int, int, int, int]]:
        found = []
        for order_id in self.placed:
            order: Order = self.app.order(order_id)
            found.append((order.status.value, order.total_ore, order.paid_ore, order.refunded_ore, order.refund_due_ore))
        return found


KINDS = ["place", "place", "checkout", "pay", "cancel", "refund", "accept", "start", "complete",
         "revise", "publish", "retire", "register", "half_done"]  # fmt: skip


def run_in_rounds(script: Script, steps_: list[tuple[str, int, int, bool]],
                  sizes: list[int]) -> tuple[list[Outcome], int]:  # fmt: skip
    """Run the steps in rounds of the given sizes, as the command writer does; an outside step runs on its own.

    A round that ends early leaves the rest for the next; one that records
    nothing (it lost a race) has its commands run one by one. Returns the
    outcomes and how many rounds were lost.
    """
    app, outcomes, lost = script.app, [], 0
    size = iter(sizes * (len(steps_) + 1))
    pending: list[Callable[[], Any]] = []

    def flush() -> None:
        nonlocal lost
        while pending:
            placed = list(script.placed)
            taken = pending[:next(size)]
            done = app.run_together(taken)
            if done is None:
                lost += 1
                script.placed[:] = placed  # the round recorded nothing: forget what it placed
                done = [app.run_alone(job) for job in taken]
            outcomes.extend(done)
            del pending[:len(done)]

    for kind, a, b, outside in steps_:
        if outside:  # another writer, between rounds
            flush()
            outcomes.append(app.run_alone(script.job(kind, a, b)))
        else:
            pending.append(script.job(kind, a, b))
    flush()
    return outcomes, lost


def answered_positions(outcomes: Sequence[Outcome]) -> list[tuple[int, int | None]]:
    """Each successful command's position, and the one its own result names (if it names one)."""
    return [(o.position, getattr(o.value, "position", None)) for o in outcomes if o.error is None]


@settings(max_examples=30, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(
    steps=st.lists(st.tuples(st.sampled_from(KINDS), st.integers(0, 2), st.integers(0, 3),
                             st.sampled_from([False, False, False, True])), min_size=1, max_size=30),
    sizes=st.lists(st.integers(1, 8), min_size=1, max_size=6),
)  # fmt: skip
# A change left half-done, then the same order saved later in the same round, or in a later one.
@example(steps=[("place", 0, 0, False), ("checkout", 0, 0, False), ("half_done", 0, 1, False),
                ("checkout", 0, 1, False)], sizes=[8])  # fmt: skip
@example(steps=[("place", 0, 0, False), ("checkout", 0, 0, False), ("half_done", 0, 1, False),
                ("checkout", 0, 1, False)], sizes=[2, 1])  # fmt: skip
# Something the thread keeps is changed by another writer between rounds.
@example(steps=[("place", 0, 0, False), ("retire", 0, 0, True), ("place", 0, 1, False)], sizes=[1])
@example(steps=[("place", 0, 0, False), ("checkout", 0, 0, False), ("pay", 0, 0, True),
                ("cancel", 0, 0, False), ("refund", 0, 0, False)], sizes=[2])  # fmt: skip
# Commands of one round changing the same aggregates one after another.
@example(steps=[("place", 0, 0, False), ("checkout", 0, 0, False), ("pay", 0, 0, False), ("accept", 0, 0, False),
                ("accept", 0, 1, False), ("start", 0, 0, False), ("complete", 0, 0, False),
                ("cancel", 0, 0, False), ("refund", 0, 0, False)], sizes=[8])  # fmt: skip
@example(steps=[("register", 1, 1, False), ("register", 2, 0, False), ("register", 1, 1, False),
                ("place", 0, 0, False)], sizes=[4])  # fmt: skip
def test_any_commands_in_rounds_of_any_size_end_as_they_would_one_by_one(
    steps: list[tuple[str, int, int, bool]], sizes: list[int]
) -> None:
    alone_refunds, rounds_refunds = RecordingRefunds(), RecordingRefunds()
    alone_app = Marketplace(MEMORY, payments=alone_refunds)
    rounds_app = Marketplace(MEMORY, payments=rounds_refunds)
    try:
        alone, rounds = Script(alone_app), Script(rounds_app)
        alone_outcomes = [alone_app.run_alone(alone.job(kind, a, b)) for kind, a, b, _ in steps]
        round_outcomes, lost = run_in_rounds(rounds, steps, sizes)

        assert lost == 0, "a round lost a race with no other writer about"
        assert kinds(round_outcomes) == kinds(alone_outcomes)
        assert answered_positions(round_outcomes) == answered_positions(alone_outcomes)
        assert history(rounds_app) == history(alone_app)
        assert rounds.money() == alone.money()
        assert [call[:2] for call in rounds_refunds.calls] == [call[:2] for call in alone_refunds.calls]
        assert len(rounds_app.directory().listings) == len(alone_app.directory().listings)
    finally:
        alone_app.close()
        rounds_app.close()


def test_the_round_application_is_a_plain_marketplace_between_rounds(app: Marketplace, cast: Cast) -> None:
    """Outside a round nothing is held back: every save is its own transaction at once."""
    design_id = published_design(app, cast)
    assert app.run_together([order_job(app, cast, design_id)]) is not None
    transactions = Transactions(app)

    recorded = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)])

    assert transactions.count == 1 and recorded.position == app.position
    assert isinstance(app.directory(), Directory)
