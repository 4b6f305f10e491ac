"""Paying for an order and cancelling it: exact payments only, full refunds before production."""

from __future__ import annotations

import pytest

from tests.chain import SITE, paid_order, register_cast
from tests.chain import published_design as publish_through
from tests.unit.builders import paid, placed_order, published_design
from vardekedja.application import Marketplace, PaymentsUnavailableError
from vardekedja.domain.errors import InvalidTransitionError, NotFoundError, NotOwnerError
from vardekedja.domain.order import LineRequest, Order, OrderStatus
from vardekedja.domain.production import ProductionOrder, ProductionStatus, production_order_id


@pytest.fixture
def order() -> Order:
    return placed_order((published_design(), 2))


def test_checkout_records_the_payment_intent_and_the_total_to_pay(order: Order) -> None:
    order.start_checkout("pi_1")
    order.start_checkout("pi_1")

    [started] = order.collect_events()
    assert isinstance(started, Order.CheckoutStarted)
    assert (started.payment_intent_id, started.amount_ore) == ("pi_1", order.total_ore)


def test_a_payment_of_the_exact_total_in_sek_marks_the_order_paid(order: Order) -> None:
    order.start_checkout("pi_1")
    order.collect_events()

    assert order.receive_payment("pi_1", order.total_ore, "SEK") is True

    [received] = order.collect_events()
    assert isinstance(received, Order.PaymentReceived)
    assert (received.payment_intent_id, received.amount_ore, received.currency) == ("pi_1", order.total_ore, "sek")
    assert order.status is OrderStatus.PAID and order.paid_ore == order.total_ore


@pytest.mark.parametrize(("delta", "currency"), [(-1, "sek"), (1, "sek"), (0, "eur")])
def test_a_payment_of_another_amount_or_currency_is_recorded_as_a_mismatch(order: Order, delta, currency) -> None:
    order.start_checkout("pi_1")
    order.collect_events()

    assert order.receive_payment("pi_1", order.total_ore + delta, currency) is False

    [mismatched] = order.collect_events()
    assert isinstance(mismatched, Order.PaymentMismatched)
    assert (mismatched.amount_ore, mismatched.currency) == (order.total_ore + delta, currency)
    assert order.status is OrderStatus.PLACED and order.paid_ore == 0


def test_a_failed_payment_is_recorded_and_a_later_checkout_can_still_pay(order: Order) -> None:
    order.start_checkout("pi_1")
    order.collect_events()

    order.record_payment_failure("pi_1", "card_declined")
    order.start_checkout("pi_2")
    order.receive_payment("pi_2", order.total_ore, "sek")

    events = order.collect_events()
    assert [type(e) for e in events] == [Order.PaymentFailed, Order.CheckoutStarted, Order.PaymentReceived]
    assert events[0].reason == "card_declined"
    assert order.status is OrderStatus.PAID and order.paid_payment_intent_id == "pi_2"


@pytest.mark.parametrize(
    "command",
    [lambda o: o.receive_payment("pi_1", o.total_ore, "sek"), lambda o: o.start_checkout("pi_2")],
    ids=["same-payment-again", "checkout-again"],
)
def test_a_paid_order_cannot_be_paid_by_the_same_payment_or_checked_out_again(order: Order, command) -> None:
    paid(order)

    with pytest.raises(InvalidTransitionError):
        command(order)
    assert order.collect_events() == []
    assert order.paid_payment_intent_id == "pi_1"


def test_a_second_payment_of_a_paid_order_is_recorded_and_owed_back(order: Order) -> None:
    paid(order)

    assert order.receive_payment("pi_2", order.total_ore, "sek") is False

    [received] = order.collect_events()
    assert isinstance(received, Order.PaymentReceived) and received.payment_intent_id == "pi_2"
    assert order.status is OrderStatus.PAID and order.paid_payment_intent_id == "pi_1"
    assert order.refunds_due() == [("pi_2", order.total_ore)]


def test_a_payment_arriving_after_cancellation_is_recorded_and_owed_back(order: Order) -> None:
    order.start_checkout("pi_1")
    order.cancel("changed our minds")
    order.collect_events()

    assert order.receive_payment("pi_1", order.total_ore, "sek") is False

    assert [type(e) for e in order.collect_events()] == [Order.PaymentReceived]
    assert order.status is OrderStatus.CANCELLED
    assert order.refunds_due() == [("pi_1", order.total_ore)]


def test_a_placed_order_can_be_cancelled_and_owes_no_refund(order: Order) -> None:
    order.cancel("changed our minds")

    [cancelled] = order.collect_events()
    assert isinstance(cancelled, Order.Cancelled) and cancelled.reason == "changed our minds"
    assert order.status is OrderStatus.CANCELLED and order.refund_due_ore == 0


def test_a_cancelled_paid_order_owes_its_full_total_back_once(order: Order) -> None:
    paid(order)
    assert order.refund_due_ore == 0  # a paid order that stands owes nothing back
    order.cancel("budget cut")
    order.collect_events()
    assert order.refund_due_ore == order.total_ore

    order.record_refund("re_1", "pi_1", order.total_ore)

    [refunded] = order.collect_events()
    assert isinstance(refunded, Order.Refunded) and refunded.amount_ore == order.total_ore
    assert refunded.payment_intent_id == "pi_1"
    assert order.refund_due_ore == 0
    with pytest.raises(InvalidTransitionError):
        order.record_refund("re_2", "pi_1", 1)
    assert order.collect_events() == []


@pytest.mark.parametrize("status", ["cancelled", "in_production"])
def test_an_order_past_paid_cannot_be_cancelled(order: Order, status: str) -> None:
    paid(order)
    if status == "cancelled":
        order.cancel("first")
    else:
        order.note_production_started()
    order.collect_events()

    with pytest.raises(InvalidTransitionError):
        order.cancel("again")
    assert order.collect_events() == []


def test_cancelling_a_paid_order_refunds_the_full_total_through_the_gateway(memory_marketplace, refunds) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = paid_order(app, cast, publish_through(app, cast), quantity=3)
    total = app.order(order_id).total_ore

    app.cancel_order(cast.buyer, order_id, "budget cut")

    order = app.order(order_id)
    assert refunds.calls == [("pi_test_1", total, f"refund-{order_id}-pi_test_1-0")]
    assert order.status is OrderStatus.CANCELLED
    assert order.refunded_ore == total and order.refund_ids == ["re_1"] and order.refund_due_ore == 0


def test_cancelling_a_paid_order_cancels_its_production_orders(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = publish_through(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1), LineRequest(design_id, 2)]).id
    app.start_checkout(cast.buyer, order_id, "pi_1")
    app.record_payment(order_id, "pi_1", app.order(order_id).total_ore, "sek")
    app.accept_production(cast.workshop, production_order_id(order_id, 1))

    app.cancel_order(cast.buyer, order_id)

    for line_no in (1, 2):
        production = app.production_order(production_order_id(order_id, line_no))
        assert production.status is ProductionStatus.CANCELLED
        last = list(app.repository.event_store.get(production.id))[-1]
        assert isinstance(last, ProductionOrder.Cancelled)


def test_an_order_cannot_be_cancelled_once_production_has_started(memory_marketplace, refunds) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = paid_order(app, cast, publish_through(app, cast))
    production_id = production_order_id(order_id, 1)
    app.accept_production(cast.workshop, production_id)
    app.start_production(cast.workshop, production_id)
    before = app.recorder.max_notification_id()

    with pytest.raises(InvalidTransitionError, match="production has started"):
        app.cancel_order(cast.buyer, order_id)
    assert app.recorder.max_notification_id() == before
    assert refunds.calls == []
    assert app.order(order_id).status is OrderStatus.IN_PRODUCTION


@pytest.mark.parametrize("command", ["checkout", "cancel"])
def test_only_the_buyer_may_check_out_or_cancel(memory_marketplace, command: str) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(publish_through(app, cast), 1)]).id
    before = app.recorder.max_notification_id()

    with pytest.raises(NotOwnerError):
        if command == "checkout":
            app.start_checkout(cast.designer, order_id, "pi_1")
        else:
            app.cancel_order(cast.designer, order_id)
    assert app.recorder.max_notification_id() == before


def test_a_paid_order_is_not_cancelled_when_no_refund_can_be_made() -> None:
    app = Marketplace({"PERSISTENCE_MODULE": "eventsourcing.popo"}, payments=None)
    try:
        cast = register_cast(app)
        order_id = paid_order(app, cast, publish_through(app, cast))
        before = app.recorder.max_notification_id()

        with pytest.raises(PaymentsUnavailableError):
            app.cancel_order(cast.buyer, order_id)
        assert app.recorder.max_notification_id() == before
        assert app.order(order_id).status is OrderStatus.PAID
    finally:
        app.close()


def test_after_a_failed_payment_the_buyer_checks_out_again_and_pays(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(publish_through(app, cast), 1)]).id
    app.start_checkout(cast.buyer, order_id, "pi_1")

    app.record_payment_failure(order_id, "pi_1", "card_declined")
    assert app.order(order_id).status is OrderStatus.PLACED
    app.start_checkout(cast.buyer, order_id, "pi_2")
    app.record_payment(order_id, "pi_2", app.order(order_id).total_ore, "sek")

    order = app.order(order_id)
    assert order.failed_payments == ["pi_1"] and order.checkouts == ["pi_1", "pi_2"]
    assert order.status is OrderStatus.PAID and order.paid_payment_intent_id == "pi_2"
    assert app.production_order(production_order_id(order_id, 1)).status is ProductionStatus.OPEN


def test_a_mismatched_payment_through_the_application_opens_no_production(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(publish_through(app, cast), 1)]).id
    app.start_checkout(cast.buyer, order_id, "pi_1")

    app.record_payment(order_id, "pi_1", app.order(order_id).total_ore - 1, "sek")

    assert app.order(order_id).status is OrderStatus.PLACED
    assert app.order(order_id).mismatched_payments == ["pi_1"]
    with pytest.raises(NotFoundError):
        app.production_order(production_order_id(order_id, 1))
