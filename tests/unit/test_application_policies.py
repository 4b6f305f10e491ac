"""The application: who may give each command, and the policies saved with the command that triggers them."""

from __future__ import annotations

from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError

from tests.chain import BENCH, ORG_NUMBERS, SITE, paid_order, published_design, register_cast, window
from tests.conftest import RecordingRefunds
from tests.unit.flow import place_and_pay, produce, settle
from vardekedja.application import Marketplace, PaymentsUnavailableError
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.design import Design
from vardekedja.domain.errors import ConcurrentUpdateError, ForbiddenError, NotFoundError, RuleViolationError
from vardekedja.domain.order import LineRequest, Order, OrderStatus
from vardekedja.domain.payout import Payout
from vardekedja.domain.production import ProductionOrder, production_order_id

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}


def written_since(app: Marketplace, position: int) -> list[str]:
    """Topics of the events recorded after ``position``, in order."""
    return [n.topic.split(":")[-1] for n in app.recorder.select_notifications(start=position + 1, limit=1000)]


def test_only_a_designer_drafts_and_only_a_buyer_orders(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = published_design(app, cast)
    before = app.position

    with pytest.raises(ForbiddenError):
        app.draft_design(cast.buyer, BENCH)
    with pytest.raises(ForbiddenError):
        app.place_order(cast.workshop, SITE, True, [LineRequest(design_id, 1)])
    assert app.position == before


def test_unknown_or_mistyped_ids_are_not_found(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = published_design(app, cast)

    with pytest.raises(NotFoundError):
        app.draft_design(uuid4(), BENCH)
    with pytest.raises(NotFoundError):
        app.order(design_id)
    with pytest.raises(NotFoundError):
        app.publish_design(cast.designer, uuid4())


def test_a_payment_and_the_production_orders_it_opens_are_written_together(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = published_design(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1), LineRequest(design_id, 4)]).id
    app.start_checkout(cast.buyer, order_id, "pi_1")
    before = app.position

    recorded = app.record_payment(order_id, "pi_1", app.order(order_id).total_ore, "sek")

    assert written_since(app, before) == ["Order.PaymentReceived", "ProductionOrder.Opened", "ProductionOrder.Opened"]
    assert recorded.id == order_id and recorded.position == app.position


def test_starting_and_completing_production_write_the_order_and_the_delivery_with_it(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = paid_order(app, cast, published_design(app, cast))
    production_id = production_order_id(order_id, 1)
    app.accept_production(cast.workshop, production_id)
    before = app.position

    app.start_production(cast.workshop, production_id)
    recorded = app.complete_production(cast.workshop, production_id, 4.0, "")

    assert written_since(app, before) == [
        "ProductionOrder.Started", "Order.ProductionStarted", "ProductionOrder.Completed", "Delivery.Opened",
    ]
    assert recorded.id == production_id and recorded.position == app.position


def test_delivering_and_installing_write_the_settlement_with_them(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = paid_order(app, cast, published_design(app, cast), quantity=1)
    delivery_id = produce(app, cast.workshop, order_id, 1)
    app.schedule_delivery(cast.workshop, delivery_id, *window())
    app.dispatch_delivery(cast.workshop, delivery_id)
    before = app.position

    app.deliver(cast.workshop, delivery_id, "Anna Svensson")
    app.install(cast.area_company, delivery_id)

    assert written_since(app, before) == [
        "Delivery.Delivered", "Order.LineDelivered", "Payout.Owed", "Payout.Owed", "Asset.Registered",
        "Delivery.Installed", "Order.LineInstalled", "Order.Fulfilled", "Payout.Owed",
    ]


def test_a_refund_interrupted_after_the_cancellation_is_finished_later_with_the_same_key() -> None:
    class Failing(RecordingRefunds):
        def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
            super().refund(payment_intent_id, amount_ore, idempotency_key)
            raise ConnectionError("Stripe unreachable")

    refunds = Failing()
    app = Marketplace(MEMORY, payments=refunds)
    try:
        cast = register_cast(app)
        order_id = paid_order(app, cast, published_design(app, cast))
        total = app.order(order_id).total_ore

        with pytest.raises(ConnectionError):
            app.cancel_order(cast.buyer, order_id)
        assert app.order(order_id).status is OrderStatus.CANCELLED
        assert app.order(order_id).refund_due_ore == total

        app.payments = None
        with pytest.raises(PaymentsUnavailableError):
            app.refund_order(order_id)
        app.payments = working = RecordingRefunds()
        app.refund_order(order_id)
        before = app.position
        app.refund_order(order_id)

        assert refunds.calls[0][2] == working.calls[0][2] == f"refund-{order_id}-pi_test_1-0"
        assert working.calls == [("pi_test_1", total, f"refund-{order_id}-pi_test_1-0")]
        assert app.order(order_id).refund_due_ore == 0 and app.position == before
    finally:
        app.close()


def test_a_given_operator_key_is_registered_once(memory_marketplace) -> None:
    app = memory_marketplace
    key = f"vk_op1_{'s' * 40}"
    first = app.ensure_operator(name="Värdekedja AB", org_number=ORG_NUMBERS[0], municipality="Stockholm", api_key=key)
    before = app.position

    again = app.ensure_operator(name="Värdekedja AB", org_number=ORG_NUMBERS[0], municipality="Stockholm", api_key=key)

    assert first is not None and first.api_key == key and first.key_id == "op1"
    assert again is None and app.position == before
    assert app.operators() == [first.organisation_id]
    fresh = app.ensure_operator(name="Värdekedja AB", org_number=ORG_NUMBERS[0], municipality="Stockholm")
    assert fresh is not None and fresh.organisation_id == first.organisation_id and fresh.key_id != "op1"


@pytest.mark.parametrize("key", ["secret", "vk_id_short", "xx_id_" + "s" * 40, "vk__" + "s" * 40])
def test_a_malformed_given_key_is_refused_and_nothing_is_written(memory_marketplace, key: str) -> None:
    with pytest.raises(RuleViolationError) as refused:
        memory_marketplace.register_organisation(
            name="Värdekedja AB", role="operator", org_number=ORG_NUMBERS[0], municipality="Stockholm", api_key=key
        )
    assert refused.value.field == "api_key"
    assert memory_marketplace.position == 0


class Contended(Marketplace):
    """Loses the next ``conflicts`` races to save, as if another worker had written first."""

    conflicts = 0

    def save(self, *aggregates, **kwargs):
        if self.conflicts:
            self.conflicts -= 1
            raise IntegrityError("version conflict")
        return super().save(*aggregates, **kwargs)


def test_a_command_that_loses_a_race_is_rerun_on_fresh_state() -> None:
    app = Contended(MEMORY)
    try:
        cast = register_cast(app)
        app.conflicts = 2

        design_id = app.draft_design(cast.designer, BENCH).id

        assert isinstance(app.design(design_id), Design) and app.conflicts == 0
    finally:
        app.close()


def test_a_command_that_keeps_losing_is_a_conflict_and_writes_nothing() -> None:
    app = Contended(MEMORY)
    try:
        cast = register_cast(app)
        before = app.position
        app.conflicts = 1_000

        with pytest.raises(ConcurrentUpdateError):
            app.draft_design(cast.designer, BENCH)
        assert app.position == before
    finally:
        app.close()


@pytest.mark.parametrize("kind", [Order, ProductionOrder, Delivery, Payout])
def test_replaying_the_stored_events_rebuilds_what_the_commands_built(memory_marketplace, kind) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(published_design(app, cast), 2)])
    order = settle(app, cast, order_id)
    ids = {
        Order: order_id,
        ProductionOrder: production_order_id(order_id, 1),
        Delivery: app.delivery_for(order_id, 1).id,
        Payout: app.payouts(order)[0].id,
    }

    replayed = None
    for event in app.repository.event_store.get(ids[kind]):
        replayed = event.mutate(replayed)

    assert isinstance(replayed, kind)
    assert replayed == app.repository.get(ids[kind])


def test_a_payment_arriving_after_cancellation_is_refunded_at_once(memory_marketplace, refunds) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = published_design(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id
    app.start_checkout(cast.buyer, order_id, "pi_late")
    app.cancel_order(cast.buyer, order_id, "changed our minds")
    total = app.order(order_id).total_ore

    app.record_payment(order_id, "pi_late", total, "sek")

    order = app.order(order_id)
    assert refunds.calls == [("pi_late", total, f"refund-{order_id}-pi_late-0")]
    assert order.status.value == "cancelled" and order.paid_ore == order.refunded_ore == total
    assert order.refunds_due() == []
