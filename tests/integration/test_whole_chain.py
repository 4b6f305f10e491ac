"""The whole value chain on every event store: design to installed, paid and settled."""

from tests.chain import paid_order, published_design, register_cast, window
from vardekedja.domain.delivery import DeliveryStatus
from vardekedja.domain.order import OrderStatus
from vardekedja.domain.production import ProductionStatus, production_order_id


def test_an_installed_order_is_fulfilled_and_its_money_adds_up(marketplace):
    cast = register_cast(marketplace)
    design_id = published_design(marketplace, cast)
    order_id = paid_order(marketplace, cast, design_id, quantity=3)

    production_id = production_order_id(order_id, 1)
    marketplace.accept_production(cast.workshop, production_id)
    marketplace.start_production(cast.workshop, production_id)
    assert marketplace.order(order_id).status is OrderStatus.IN_PRODUCTION
    marketplace.complete_production(cast.workshop, production_id, 12.5, "oiled twice")
    assert marketplace.production_order(production_id).status is ProductionStatus.COMPLETED

    delivery = marketplace.delivery_for(order_id, 1)
    marketplace.schedule_delivery(cast.workshop, delivery.id, *window())
    marketplace.dispatch_delivery(cast.workshop, delivery.id)
    marketplace.deliver(cast.workshop, delivery.id, "Anna Svensson")
    recorded = marketplace.install(cast.area_company, delivery.id)

    order = marketplace.order(order_id)
    assert order.status is OrderStatus.FULFILLED
    assert marketplace.delivery(delivery.id).status is DeliveryStatus.INSTALLED
    payouts = marketplace.payouts(order)
    assert {(p.role.value, p.party_id, p.amount_ore) for p in payouts} == {
        ("designer", cast.designer, 3 * 150_00),
        ("workshop", cast.workshop, 3 * 4_200_00),
        ("area_company", cast.area_company, 3 * 800_00),
    }
    assert sum(p.amount_ore for p in payouts) + order.platform_fee_ore == order.subtotal_ore
    assert order.paid_ore == order.total_ore == order.subtotal_ore + order.vat_ore
    assert recorded.position == marketplace.recorder.max_notification_id()
