"""Deliveries: opened by a completed production order, carried by its workshop, installed on site."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from tests.chain import published_design as publish_through
from tests.chain import register_cast, window
from tests.unit.builders import pending_delivery
from tests.unit.flow import place_and_pay, produce
from vardekedja.domain.delivery import Delivery, DeliveryStatus
from vardekedja.domain.errors import InvalidTransitionError, NotFoundError, NotOwnerError, RuleViolationError
from vardekedja.domain.order import LineRequest, OrderStatus
from vardekedja.domain.production import production_order_id

WORKSHOP, AREA_COMPANY = uuid4(), uuid4()
NOW = datetime.now(timezone.utc)  # what the application passes in: the domain reads no clock


def delivery_in(status: str, *, install: bool = True) -> Delivery:
    """A delivery walked to ``status`` by its workshop, with its events collected."""
    delivery = pending_delivery(WORKSHOP, install=install, area_company_id=AREA_COMPANY)
    steps = {
        "scheduled": ["schedule"],
        "dispatched": ["schedule", "dispatch"],
        "delivered": ["schedule", "dispatch", "deliver"],
        "failed": ["schedule", "dispatch", "fail"],
    }.get(status, [])
    for step in steps:
        if step == "schedule":
            delivery.schedule(WORKSHOP, *window(), now=NOW)
        elif step == "dispatch":
            delivery.dispatch(WORKSHOP)
        elif step == "deliver":
            delivery.deliver(WORKSHOP, "Anna Svensson")
        else:
            delivery.fail(WORKSHOP, "gate locked")
    delivery.collect_events()
    assert delivery.status == status
    return delivery


def test_completing_production_opens_a_pending_delivery_for_its_line(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 2)])
    with pytest.raises(NotFoundError):
        app.delivery_for(order_id, 1)

    delivery_id = produce(app, cast.other_workshop, order_id, 1)

    delivery = app.delivery(delivery_id)
    assert delivery.status is DeliveryStatus.PENDING
    assert (delivery.order_id, delivery.line_no) == (order_id, 1)
    assert delivery.production_order_id == production_order_id(order_id, 1)
    assert delivery.workshop_id == cast.other_workshop
    assert delivery.install is True and delivery.area_company_id == cast.area_company


def test_the_workshop_schedules_a_window_with_offsets() -> None:
    delivery = delivery_in("pending")
    earliest, latest = window()

    delivery.schedule(WORKSHOP, earliest, latest, now=NOW)

    [scheduled] = delivery.collect_events()
    assert isinstance(scheduled, Delivery.Scheduled)
    assert (scheduled.earliest, scheduled.latest) == (earliest, latest)
    assert delivery.status is DeliveryStatus.SCHEDULED


def test_rescheduling_a_scheduled_delivery_replaces_its_window() -> None:
    delivery = delivery_in("scheduled")
    earliest, latest = (moment + timedelta(days=1) for moment in window())

    delivery.schedule(WORKSHOP, earliest, latest, now=NOW)

    [scheduled] = delivery.collect_events()
    assert isinstance(scheduled, Delivery.Scheduled)
    assert delivery.window == (earliest, latest) and delivery.status is DeliveryStatus.SCHEDULED


@pytest.mark.parametrize("status", ["dispatched", "delivered"])
def test_a_dispatched_or_delivered_delivery_cannot_be_rescheduled(status: str) -> None:
    delivery = delivery_in(status)

    with pytest.raises(InvalidTransitionError):
        delivery.schedule(WORKSHOP, *window(), now=NOW)
    assert delivery.collect_events() == []


@pytest.mark.parametrize(
    ("shift", "field"),
    [(timedelta(0), "latest"), (timedelta(hours=-1), "latest")],
    ids=["empty", "backwards"],
)
def test_a_window_must_end_after_it_starts(shift: timedelta, field: str) -> None:
    delivery = delivery_in("pending")
    earliest, _ = window()

    with pytest.raises(RuleViolationError) as refused:
        delivery.schedule(WORKSHOP, earliest, earliest + shift, now=NOW)
    assert refused.value.field == field
    assert delivery.collect_events() == []


@pytest.mark.parametrize("naive", ["earliest", "latest", "both"])
def test_a_window_needs_times_with_an_offset(naive: str) -> None:
    delivery = delivery_in("pending")
    earliest, latest = window()
    if naive in ("earliest", "both"):
        earliest = earliest.replace(tzinfo=None)
    if naive in ("latest", "both"):
        latest = latest.replace(tzinfo=None)

    with pytest.raises(RuleViolationError, match="offset"):
        delivery.schedule(WORKSHOP, earliest, latest, now=NOW)
    assert delivery.collect_events() == []


def test_a_window_is_compared_as_instants_not_wall_clock_times() -> None:
    delivery = delivery_in("pending")
    earliest, _ = window()  # 08:00+01:00, which is 07:00 UTC
    later_on_the_clock = earliest.replace(hour=9, tzinfo=timezone(timedelta(hours=3)))  # 06:00 UTC

    with pytest.raises(RuleViolationError):
        delivery.schedule(WORKSHOP, earliest, later_on_the_clock, now=NOW)
    assert delivery.collect_events() == []


def test_dispatching_needs_a_scheduled_delivery() -> None:
    pending = delivery_in("pending")
    with pytest.raises(InvalidTransitionError):
        pending.dispatch(WORKSHOP)
    assert pending.collect_events() == []

    scheduled = delivery_in("scheduled")
    scheduled.dispatch(WORKSHOP)
    assert [type(e) for e in scheduled.collect_events()] == [Delivery.Dispatched]


@pytest.mark.parametrize("status", ["pending", "scheduled"])
def test_delivering_needs_a_dispatched_delivery(status: str) -> None:
    delivery = delivery_in(status)

    with pytest.raises(InvalidTransitionError):
        delivery.deliver(WORKSHOP, "Anna Svensson")
    assert delivery.collect_events() == []


def test_delivering_records_who_received_it() -> None:
    delivery = delivery_in("dispatched")

    delivery.deliver(WORKSHOP, "  Anna Svensson ")

    [delivered] = delivery.collect_events()
    assert isinstance(delivered, Delivery.Delivered) and delivered.received_by == "Anna Svensson"
    assert delivery.status is DeliveryStatus.DELIVERED


def test_delivering_needs_someone_who_received_it() -> None:
    delivery = delivery_in("dispatched")

    with pytest.raises(RuleViolationError) as refused:
        delivery.deliver(WORKSHOP, "   ")
    assert refused.value.field == "received_by"
    assert delivery.collect_events() == []


@pytest.mark.parametrize("status", ["scheduled", "dispatched"])
def test_a_failed_delivery_can_be_scheduled_again(status: str) -> None:
    delivery = delivery_in(status)

    delivery.fail(WORKSHOP, "gate locked")
    delivery.schedule(WORKSHOP, *window(), now=NOW)
    delivery.dispatch(WORKSHOP)
    delivery.deliver(WORKSHOP, "Anna Svensson")

    events = delivery.collect_events()
    assert [type(e) for e in events] == [Delivery.Failed, Delivery.Scheduled, Delivery.Dispatched, Delivery.Delivered]
    assert events[0].reason == "gate locked" and delivery.failures == 1


@pytest.mark.parametrize("status", ["pending", "failed", "delivered"])
def test_only_a_scheduled_or_dispatched_delivery_can_fail(status: str) -> None:
    delivery = delivery_in(status)

    with pytest.raises(InvalidTransitionError):
        delivery.fail(WORKSHOP, "again")
    assert delivery.collect_events() == []


def test_a_failed_delivery_cannot_be_dispatched_before_it_is_rescheduled() -> None:
    delivery = delivery_in("failed")

    with pytest.raises(InvalidTransitionError):
        delivery.dispatch(WORKSHOP)
    assert delivery.collect_events() == []


@pytest.mark.parametrize(
    ("status", "command"),
    [
        ("pending", lambda d, who: d.schedule(who, *window(), now=NOW)),
        ("scheduled", lambda d, who: d.dispatch(who)),
        ("dispatched", lambda d, who: d.deliver(who, "Anna")),
        ("dispatched", lambda d, who: d.fail(who, "no")),
    ],
    ids=["schedule", "dispatch", "deliver", "fail"],
)
def test_only_the_delivering_workshop_moves_the_delivery(status: str, command) -> None:
    delivery = delivery_in(status)

    for stranger in (uuid4(), AREA_COMPANY):
        with pytest.raises(NotOwnerError):
            command(delivery, stranger)
    assert delivery.collect_events() == []
    assert delivery.status == status


def test_the_area_company_installs_a_delivered_piece() -> None:
    delivery = delivery_in("delivered")

    delivery.install_piece(AREA_COMPANY)

    [installed] = delivery.collect_events()
    assert isinstance(installed, Delivery.Installed) and installed.area_company_id == AREA_COMPANY
    assert delivery.status is DeliveryStatus.INSTALLED


@pytest.mark.parametrize("installer", [WORKSHOP, uuid4()], ids=["the-workshop", "another-area-company"])
def test_only_the_orders_area_company_may_install(installer) -> None:
    delivery = delivery_in("delivered")

    with pytest.raises(NotOwnerError):
        delivery.install_piece(installer)
    assert delivery.collect_events() == []


@pytest.mark.parametrize("status", ["pending", "scheduled", "dispatched", "failed"])
def test_a_piece_is_installed_only_after_it_is_delivered(status: str) -> None:
    delivery = delivery_in(status)

    with pytest.raises(InvalidTransitionError):
        delivery.install_piece(AREA_COMPANY)
    assert delivery.collect_events() == []


def test_a_piece_is_installed_only_once() -> None:
    delivery = delivery_in("delivered")
    delivery.install_piece(AREA_COMPANY)
    delivery.collect_events()

    with pytest.raises(InvalidTransitionError):
        delivery.install_piece(AREA_COMPANY)
    assert delivery.collect_events() == []


def test_a_piece_is_not_installed_when_the_order_did_not_ask() -> None:
    delivery = delivery_in("delivered", install=False)

    with pytest.raises(InvalidTransitionError, match="not to be installed"):
        delivery.install_piece(AREA_COMPANY)
    assert delivery.collect_events() == []


def test_a_failed_delivery_through_the_application_is_rescheduled_and_delivered(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 1)], install=False)
    delivery_id = produce(app, cast.workshop, order_id, 1)
    app.schedule_delivery(cast.workshop, delivery_id, *window())
    app.dispatch_delivery(cast.workshop, delivery_id)

    app.fail_delivery(cast.workshop, delivery_id, "nobody on site")
    assert app.delivery(delivery_id).status is DeliveryStatus.FAILED
    app.schedule_delivery(cast.workshop, delivery_id, *window())
    app.dispatch_delivery(cast.workshop, delivery_id)
    app.deliver(cast.workshop, delivery_id, "Anna Svensson")

    assert app.delivery(delivery_id).failures == 1
    assert app.order(order_id).status is OrderStatus.FULFILLED


def test_installing_without_installation_through_the_application_writes_nothing(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 1)], install=False)
    delivery_id = produce(app, cast.workshop, order_id, 1)
    app.schedule_delivery(cast.workshop, delivery_id, *window())
    app.dispatch_delivery(cast.workshop, delivery_id)
    app.deliver(cast.workshop, delivery_id, "Anna Svensson")
    before = app.recorder.max_notification_id()

    with pytest.raises(InvalidTransitionError):
        app.install(cast.area_company, delivery_id)
    assert app.recorder.max_notification_id() == before
    assert app.order(order_id).status is OrderStatus.FULFILLED


def test_a_window_that_is_over_before_it_is_set_is_refused() -> None:
    delivery = delivery_in("pending")
    earliest = datetime(2020, 3, 2, 8, tzinfo=timezone.utc)

    with pytest.raises(RuleViolationError, match="over") as refused:
        delivery.schedule(WORKSHOP, earliest, earliest + timedelta(hours=4), now=NOW)
    assert refused.value.field == "latest"
    assert delivery.collect_events() == []


def test_a_window_under_way_may_still_be_set() -> None:
    delivery = delivery_in("pending")

    delivery.schedule(WORKSHOP, NOW - timedelta(hours=1), NOW + timedelta(hours=2), now=NOW)

    assert delivery.status is DeliveryStatus.SCHEDULED
