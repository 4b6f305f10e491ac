"""Settlement: who is owed what once a line is delivered and installed, and that it adds up."""

from __future__ import annotations

from uuid import uuid4

import pytest

from tests.chain import BENCH, register_cast, spec
from tests.chain import published_design as publish_through
from tests.unit.builders import paid, placed_order, published_design
from tests.unit.flow import deliver_line, place_and_pay, settle
from vardekedja.domain.errors import InvalidOrderError, InvalidTransitionError
from vardekedja.domain.order import LineRequest, Order, OrderStatus
from vardekedja.domain.organisation import Role
from vardekedja.domain.payout import Payout, payout_id, payout_on_installation, payouts_on_delivery
from vardekedja.domain.production import production_order_id


def owed(app, order_id) -> set[tuple[int, str, object, int]]:
    return {(p.line_no, p.role.value, p.party_id, p.amount_ore) for p in app.payouts(app.order(order_id))}


def test_a_delivered_line_owes_the_designer_royalty_and_the_workshop_its_fee_per_unit() -> None:
    design = published_design()
    order = paid(placed_order((design, 3)))
    workshop_id = uuid4()

    designer, workshop = payouts_on_delivery(order, 1, workshop_id)

    [owed_designer], [owed_workshop] = designer.collect_events(), workshop.collect_events()
    assert isinstance(owed_designer, Payout.Owed) and isinstance(owed_workshop, Payout.Owed)
    assert (owed_designer.party_id, owed_designer.role, owed_designer.amount_ore) == (design.designer_id, "designer", 3 * 150_00)
    assert (owed_workshop.party_id, owed_workshop.role, owed_workshop.amount_ore) == (workshop_id, "workshop", 3 * 4_200_00)
    assert designer.id == payout_id(order.id, 1, Role.DESIGNER) and "royalty" in designer.reason


def test_an_installed_line_owes_the_area_company_its_fee_per_unit() -> None:
    order = paid(placed_order((published_design(), 4)))

    payout = payout_on_installation(order, 1)

    [event] = payout.collect_events()
    assert (event.party_id, event.role, event.amount_ore) == (order.area_company_id, "area_company", 4 * 800_00)
    assert payout.id == payout_id(order.id, 1, Role.AREA_COMPANY)


def test_nothing_is_owed_for_installation_the_order_did_not_ask_for() -> None:
    order = paid(placed_order((published_design(), 1), install=False))

    with pytest.raises(InvalidTransitionError):
        payout_on_installation(order, 1)


def test_a_payout_takes_one_transfer_only() -> None:
    [payout, _] = payouts_on_delivery(paid(placed_order((published_design(), 1))), 1, uuid4())
    payout.collect_events()

    payout.attach_transfer("tr_1")
    with pytest.raises(InvalidTransitionError):
        payout.attach_transfer("tr_2")

    [attached] = payout.collect_events()
    assert isinstance(attached, Payout.TransferAttached) and payout.transfer_id == "tr_1"


def test_delivering_a_line_settles_it_and_owes_its_designer_and_workshop(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 2)])

    deliver_line(app, cast.other_workshop, order_id, 1)

    order = app.order(order_id)
    assert order.delivered_lines == {1} and order.status is OrderStatus.IN_PRODUCTION
    assert owed(app, order_id) == {
        (1, "designer", cast.designer, 2 * 150_00),
        (1, "workshop", cast.other_workshop, 2 * 4_200_00),
    }
    assert isinstance(list(app.repository.event_store.get(order_id))[-1], Order.LineDelivered)


def test_the_workshop_that_delivers_after_a_release_is_the_one_paid(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 1)])
    app.accept_production(cast.workshop, production_order_id(order_id, 1))
    app.release_production(cast.workshop, production_order_id(order_id, 1), "too busy")

    deliver_line(app, cast.other_workshop, order_id, 1)

    assert (1, "workshop", cast.other_workshop, 4_200_00) in owed(app, order_id)
    assert all(party != cast.workshop for _, _, party, _ in owed(app, order_id))


def test_an_installed_order_is_fulfilled_only_when_every_line_is_installed(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    design_id = publish_through(app, cast)
    order_id = place_and_pay(app, cast, [LineRequest(design_id, 1), LineRequest(design_id, 2)])
    first = deliver_line(app, cast.workshop, order_id, 1)
    second = deliver_line(app, cast.workshop, order_id, 2)
    assert app.order(order_id).status is OrderStatus.IN_PRODUCTION

    app.install(cast.area_company, first)
    assert app.order(order_id).status is OrderStatus.IN_PRODUCTION
    app.install(cast.area_company, second)

    assert app.order(order_id).status is OrderStatus.FULFILLED
    assert {(n, amount) for n, role, _, amount in owed(app, order_id) if role == "area_company"} == {
        (1, 800_00), (2, 2 * 800_00)
    }
    fulfilled = [e for e in app.repository.event_store.get(order_id) if isinstance(e, Order.Fulfilled)]
    assert len(fulfilled) == 1


def test_an_order_without_installation_is_fulfilled_once_every_line_is_delivered(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    bench = publish_through(app, cast)
    table = publish_through(app, cast, spec(title="Bord", royalty_ore=77_77, required_capabilities=("carpentry",)))
    order_id = place_and_pay(app, cast, [LineRequest(bench, 3), LineRequest(table, 5)], install=False)

    deliver_line(app, cast.workshop, order_id, 1)
    assert app.order(order_id).status is OrderStatus.IN_PRODUCTION
    deliver_line(app, cast.workshop, order_id, 2)

    order = app.order(order_id)
    assert order.status is OrderStatus.FULFILLED and order.installed_lines == set()
    assert {role for _, role, _, _ in owed(app, order_id)} == {"designer", "workshop"}
    assert sum(p.amount_ore for p in app.payouts(order)) + order.platform_fee_ore == order.subtotal_ore


@pytest.mark.parametrize(
    ("prices", "quantities", "install"),
    [
        ([(150_00, 4_200_00, 800_00)], [1], True),
        ([(150_00, 4_200_00, 800_00), (1, 4, 0), (33_33, 1_234_57, 99_99)], [100, 3, 7], True),
        ([(1, 1, 1), (2, 2, 3), (5, 0, 0)], [1, 99, 13], True),
        ([(12_345, 67_891, 23_456), (1, 4, 5)], [17, 1], False),
    ],
    ids=["one-line", "three-odd-lines", "tiny-amounts", "no-install"],
)
def test_payouts_and_platform_fee_add_up_to_the_subtotal_to_the_ore(memory_marketplace, prices, quantities, install) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    lines = [
        LineRequest(publish_through(app, cast, spec(royalty_ore=r, production_fee_ore=p, installation_fee_ore=i)), q)
        for (r, p, i), q in zip(prices, quantities, strict=True)
    ]
    order_id = place_and_pay(app, cast, lines, install=install)

    order = settle(app, cast, order_id)

    assert order.status is OrderStatus.FULFILLED
    payouts = app.payouts(order)
    assert len(payouts) == len(lines) * (3 if install else 2)
    assert sum(p.amount_ore for p in payouts) + order.platform_fee_ore == order.subtotal_ore
    assert order.paid_ore == order.total_ore == order.subtotal_ore + order.vat_ore
    for line, ((royalty, production, installation), quantity) in zip(order.lines, zip(prices, quantities, strict=True), strict=True):
        expected = {
            (line.line_no, "designer", cast.designer, royalty * quantity),
            (line.line_no, "workshop", cast.workshop, production * quantity),
        }
        if install:
            expected.add((line.line_no, "area_company", cast.area_company, installation * quantity))
        assert expected <= owed(app, order_id)
    assert all(type(p.amount_ore) is int for p in payouts)


def test_a_line_is_delivered_and_paid_for_only_once(memory_marketplace) -> None:
    app = memory_marketplace
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(publish_through(app, cast), 1)])
    delivery_id = deliver_line(app, cast.workshop, order_id, 1)
    before = app.recorder.max_notification_id()

    with pytest.raises(InvalidTransitionError):
        app.deliver(cast.workshop, delivery_id, "Anna Svensson")
    assert app.recorder.max_notification_id() == before
    assert len(app.payouts(app.order(order_id))) == 2


def test_the_payout_reason_names_the_quantity_the_design_and_its_revision() -> None:
    order = paid(placed_order((published_design(), 2)))

    designer, workshop = payouts_on_delivery(order, 1, uuid4())

    assert designer.reason == f"royalty: 2 × {BENCH.title} rev 1"
    assert workshop.reason == f"production: 2 × {BENCH.title}"


def in_production(*, install: bool = True, lines: int = 1) -> Order:
    design = published_design()
    order = paid(placed_order(*[(design, 1)] * lines, install=install))
    order.note_production_started()
    order.collect_events()
    return order


def test_a_line_is_settled_only_while_the_order_is_in_production() -> None:
    order = paid(placed_order((published_design(), 1)))

    with pytest.raises(InvalidTransitionError, match="takes no deliveries"):
        order.note_line_delivered(1)
    with pytest.raises(InvalidTransitionError):
        placed_order((published_design(), 1)).note_production_started()
    assert order.collect_events() == []


@pytest.mark.parametrize(
    ("given", "command"),
    [
        ([("delivered", 1)], lambda o: o.note_line_delivered(1)),
        ([], lambda o: o.note_line_installed(1)),
        ([("delivered", 1), ("installed", 1)], lambda o: o.note_line_installed(1)),
    ],
    ids=["delivered-twice", "installed-before-delivery", "installed-twice"],
)
def test_each_line_is_delivered_then_installed_once(given, command) -> None:
    order = in_production(lines=2)
    for step, line_no in given:
        if step == "delivered":
            order.note_line_delivered(line_no)
        else:
            order.note_line_installed(line_no)
    order.collect_events()

    with pytest.raises(InvalidTransitionError):
        command(order)
    assert order.collect_events() == []


def test_an_order_that_did_not_ask_for_installation_takes_none() -> None:
    order = in_production(install=False, lines=2)
    order.note_line_delivered(1)
    order.collect_events()

    with pytest.raises(InvalidTransitionError, match="installation"):
        order.note_line_installed(1)
    assert order.collect_events() == []


def test_settling_names_an_existing_line() -> None:
    order = in_production()

    with pytest.raises(InvalidOrderError):
        order.note_line_delivered(2)
    assert order.collect_events() == []


def test_the_last_settled_line_fulfils_the_order_in_the_same_command() -> None:
    order = in_production(install=False, lines=2)
    order.note_line_delivered(2)
    assert [type(e) for e in order.collect_events()] == [Order.LineDelivered]

    order.note_line_delivered(1)

    assert [type(e) for e in order.collect_events()] == [Order.LineDelivered, Order.Fulfilled]
    assert order.status is OrderStatus.FULFILLED
