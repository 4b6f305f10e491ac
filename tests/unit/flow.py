"""Steps along the chain through the application, for tests that need an order further on."""

from __future__ import annotations

from uuid import UUID

from tests.chain import SITE, Cast, window
from vardekedja.application import Marketplace
from vardekedja.domain.order import LineRequest, Order
from vardekedja.domain.production import production_order_id


def place_and_pay(
    app: Marketplace, cast: Cast, lines: list[LineRequest], *, install: bool = True, payment_intent_id: str = "pi_1"
) -> UUID:
    order_id = app.place_order(cast.buyer, SITE, install, lines).id
    app.start_checkout(cast.buyer, order_id, payment_intent_id)
    app.record_payment(order_id, payment_intent_id, app.order(order_id).total_ore, "sek")
    return order_id


def produce(app: Marketplace, workshop_id: UUID, order_id: UUID, line_no: int) -> UUID:
    """Accept, start and complete a line's production order; return the delivery it opens."""
    production_id = production_order_id(order_id, line_no)
    app.accept_production(workshop_id, production_id)
    app.start_production(workshop_id, production_id)
    app.complete_production(workshop_id, production_id, 6.0, "done")
    return app.delivery_for(order_id, line_no).id


def deliver_line(app: Marketplace, workshop_id: UUID, order_id: UUID, line_no: int) -> UUID:
    delivery_id = produce(app, workshop_id, order_id, line_no)
    app.schedule_delivery(workshop_id, delivery_id, *window())
    app.dispatch_delivery(workshop_id, delivery_id)
    app.deliver(workshop_id, delivery_id, "Anna Svensson")
    return delivery_id


def settle(app: Marketplace, cast: Cast, order_id: UUID) -> Order:
    """Deliver every line, and install it where the order asks."""
    order = app.order(order_id)
    for line in order.lines:
        delivery_id = deliver_line(app, cast.workshop, order_id, line.line_no)
        if order.install:
            app.install(cast.area_company, delivery_id)
    return app.order(order_id)
