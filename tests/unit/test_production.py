"""Production orders: one per paid line, taken by exactly one eligible workshop."""

from __future__ import annotations

import pytest

from tests.chain import BENCH, SITE, register_cast, spec
from tests.chain import published_design as publish_through
from tests.unit.builders import open_production_order, organisation, workshop
from tests.unit.flow import place_and_pay
from vardekedja.domain.errors import (
    AlreadyTakenError,
    ConflictError,
    InvalidTransitionError,
    NotEligibleError,
    NotFoundError,
    NotOwnerError,
    RuleViolationError,
)
from vardekedja.domain.order import LineRequest, OrderStatus
from vardekedja.domain.production import MAX_HOURS, ProductionOrder, ProductionStatus, production_order_id


def accepted_by(holder) -> ProductionOrder:
    production = open_production_order()
    production.accept(holder)
    production.collect_events()
    return production


def in_progress_by(holder) -> ProductionOrder:
    production = accepted_by(holder)
    production.start(holder.id)
    production.collect_events()
    return production


def test_paying_an_order_opens_one_production_order_per_line(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    bench = publish_through(app, cast)
    table = publish_through(app, cast, spec(title="Bord", production_fee_ore=900_00, required_capabilities=("cnc",)))

    order_id = place_and_pay(app, cast, [LineRequest(bench, 2), LineRequest(table, 7)])

    first, second = (app.production_order(production_order_id(order_id, n)) for n in (1, 2))
    assert (first.line_no, first.design_id, first.quantity, first.production_fee_ore) == (1, bench, 2, BENCH.production_fee_ore)
    assert (second.line_no, second.design_id, second.quantity, second.production_fee_ore) == (2, table, 7, 900_00)
    assert second.required_capabilities == ["cnc"] and second.municipality == SITE.municipality
    assert {first.status, second.status} == {ProductionStatus.OPEN}
    assert all(p.order_id == order_id and p.revision == 1 for p in (first, second))
    with pytest.raises(NotFoundError):
        app.production_order(production_order_id(order_id, 3))


def test_an_eligible_workshop_accepts_an_open_production_order() -> None:
    production = open_production_order()
    maker = workshop(capabilities=("Carpentry", "welding", "cnc"), service_area=("botkyrka", "Huddinge"))

    production.accept(maker)

    [accepted] = production.collect_events()
    assert isinstance(accepted, ProductionOrder.Accepted) and accepted.workshop_id == maker.id
    assert production.status is ProductionStatus.ACCEPTED and production.workshop_id == maker.id


@pytest.mark.parametrize(
    "make",
    [
        lambda: workshop(capabilities=("carpentry",)),
        lambda: workshop(service_area=("Huddinge",)),
        lambda: organisation("designer", capabilities=("carpentry", "welding"), service_area=("Botkyrka",)),
        lambda: organisation("area_company", capabilities=("carpentry", "welding"), service_area=("Botkyrka",)),
    ],
    ids=["wrong-capabilities", "wrong-service-area", "designer", "area-company"],
)
def test_only_an_eligible_workshop_can_accept(make) -> None:
    production = open_production_order()

    with pytest.raises(NotEligibleError):
        production.accept(make())
    assert production.collect_events() == []
    assert production.status is ProductionStatus.OPEN


@pytest.mark.parametrize("advance", ["accepted", "in_progress", "completed"])
def test_a_second_workshop_finds_the_production_order_taken(advance: str) -> None:
    first = workshop()
    production = accepted_by(first)
    if advance != "accepted":
        production.start(first.id)
    if advance == "completed":
        production.complete(first.id, 3, "")
    production.collect_events()

    with pytest.raises(AlreadyTakenError):
        production.accept(workshop())
    assert production.collect_events() == []
    assert production.workshop_id == first.id


def test_the_holder_accepting_again_is_refused() -> None:
    holder = workshop()
    production = accepted_by(holder)

    with pytest.raises(InvalidTransitionError):
        production.accept(holder)
    assert production.collect_events() == []


def test_the_holder_starts_an_accepted_production_order() -> None:
    holder = workshop()
    production = accepted_by(holder)

    production.start(holder.id)

    assert [type(e) for e in production.collect_events()] == [ProductionOrder.Started]
    assert production.status is ProductionStatus.IN_PROGRESS


def test_a_production_order_in_progress_cannot_start_again() -> None:
    holder = workshop()
    production = in_progress_by(holder)

    with pytest.raises(InvalidTransitionError):
        production.start(holder.id)
    assert production.collect_events() == []


def test_the_holder_completes_with_hours_and_notes() -> None:
    holder = workshop()
    production = in_progress_by(holder)

    production.complete(holder.id, 12.5, "oiled twice")

    [completed] = production.collect_events()
    assert isinstance(completed, ProductionOrder.Completed)
    assert (completed.hours_worked, completed.notes) == (12.5, "oiled twice")
    assert production.status is ProductionStatus.COMPLETED and production.hours_worked == 12.5


@pytest.mark.parametrize(
    "command",
    [
        lambda p, who: p.start(who),
        lambda p, who: p.complete(who, 1, ""),
        lambda p, who: p.release(who, "busy"),
    ],
    ids=["start", "complete", "release"],
)
def test_only_the_holder_may_start_complete_or_release(command) -> None:
    holder = workshop()
    production = accepted_by(holder)

    with pytest.raises(NotOwnerError):
        command(production, workshop().id)
    assert production.collect_events() == []
    assert production.status is ProductionStatus.ACCEPTED


def test_completing_needs_the_work_in_progress() -> None:
    holder = workshop()
    production = accepted_by(holder)

    with pytest.raises(InvalidTransitionError):
        production.complete(holder.id, 1, "")
    assert production.collect_events() == []


@pytest.mark.parametrize("hours", [-0.5, MAX_HOURS + 1, float("nan")])
def test_hours_worked_out_of_range_are_refused(hours: float) -> None:
    holder = workshop()
    production = in_progress_by(holder)

    with pytest.raises(RuleViolationError) as refused:
        production.complete(holder.id, hours, "")
    assert refused.value.field == "hours_worked"
    assert production.collect_events() == []
    assert production.status is ProductionStatus.IN_PROGRESS


@pytest.mark.parametrize("hours", [0, MAX_HOURS])
def test_hours_worked_at_the_edges_are_accepted(hours: float) -> None:
    holder = workshop()
    production = in_progress_by(holder)

    production.complete(holder.id, hours, "")

    assert production.hours_worked == hours


@pytest.mark.parametrize("started", [False, True])
def test_releasing_returns_the_order_to_the_pool_for_another_workshop(started: bool) -> None:
    holder, other = workshop(), workshop()
    production = in_progress_by(holder) if started else accepted_by(holder)

    production.release(holder.id, "saw broke")
    production.accept(other)

    released, accepted = production.collect_events()
    assert isinstance(released, ProductionOrder.Released)
    assert (released.workshop_id, released.reason) == (holder.id, "saw broke")
    assert isinstance(accepted, ProductionOrder.Accepted) and accepted.workshop_id == other.id
    assert production.status is ProductionStatus.ACCEPTED


def test_an_open_or_completed_production_order_cannot_be_released() -> None:
    holder = workshop()
    production = in_progress_by(holder)
    production.complete(holder.id, 2, "")
    production.collect_events()

    with pytest.raises(InvalidTransitionError):
        production.release(holder.id, "too late")
    with pytest.raises(NotOwnerError):
        open_production_order().release(holder.id, "never held")
    assert production.collect_events() == []


def test_a_started_production_order_cannot_be_cancelled() -> None:
    production = in_progress_by(workshop())

    with pytest.raises(InvalidTransitionError):
        production.cancel("order cancelled")
    assert production.collect_events() == []


def test_starting_production_puts_the_order_in_production_once(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = publish_through(app, cast)
    order_id = place_and_pay(app, cast, [LineRequest(design_id, 1), LineRequest(design_id, 1)])
    first, second = production_order_id(order_id, 1), production_order_id(order_id, 2)
    app.accept_production(cast.workshop, first)
    app.accept_production(cast.other_workshop, second)
    assert app.order(order_id).status is OrderStatus.PAID

    app.start_production(cast.workshop, first)
    app.start_production(cast.other_workshop, second)

    events = list(app.repository.event_store.get(order_id))
    assert app.order(order_id).status is OrderStatus.IN_PRODUCTION
    assert sum(type(e).__name__ == "ProductionStarted" for e in events) == 1


def test_a_lost_race_to_accept_through_the_application_writes_nothing(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 1)])
    production_id = production_order_id(order_id, 1)
    app.accept_production(cast.workshop, production_id)
    before = app.recorder.max_notification_id()

    with pytest.raises(AlreadyTakenError):
        app.accept_production(cast.other_workshop, production_id)
    assert app.recorder.max_notification_id() == before


@pytest.mark.parametrize("held", [False, True])
def test_a_cancelled_production_order_cannot_be_accepted(held: bool) -> None:
    holder = workshop()
    production = accepted_by(holder) if held else open_production_order()
    production.cancel("order cancelled")
    production.collect_events()

    with pytest.raises(ConflictError):
        production.accept(workshop())
    assert production.collect_events() == []
    assert production.status is ProductionStatus.CANCELLED
