"""Aggregates built directly, with no application or storage, as the "given" of domain tests.

Every builder clears the pending events of what it returns, so a test's own
command is the only thing left to collect.
"""

from __future__ import annotations

import itertools
from fractions import Fraction
from uuid import UUID, uuid4

from tests.chain import BENCH, SITE
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.design import Design, Specification
from vardekedja.domain.directory import Directory
from vardekedja.domain.order import DeliverySite, LineRequest, Order
from vardekedja.domain.organisation import Organisation
from vardekedja.domain.production import ProductionOrder

_serials = itertools.count(1)


def org_number(serial: int) -> str:
    """A fresh organisation number with its Luhn check digit, so directories never see a duplicate."""
    body = f"5560{serial:05d}"
    total = 0
    for index, digit in enumerate(body):
        product = int(digit) * (2 if index % 2 == 0 else 1)
        total += product // 10 + product % 10
    digits = body + str(-total % 10)
    return f"{digits[:6]}-{digits[6:]}"


def organisation(
    role: str,
    *,
    capabilities: tuple[str, ...] = (),
    service_area: tuple[str, ...] = (),
    municipality: str = "Botkyrka",
) -> Organisation:
    serial = next(_serials)
    member = Organisation.register(
        name=f"{role} {serial}",
        role=role,
        org_number=org_number(serial),
        municipality=municipality,
        capabilities=list(capabilities),
        service_area=list(service_area),
    )
    member.collect_events()
    return member


def workshop(
    capabilities: tuple[str, ...] = ("carpentry", "welding"), service_area: tuple[str, ...] = ("Botkyrka",)
) -> Organisation:
    return organisation("workshop", capabilities=capabilities, service_area=service_area)


def area_company(service_area: tuple[str, ...] = ("Botkyrka",)) -> Organisation:
    return organisation("area_company", service_area=service_area)


def directory_of(*members: Organisation) -> Directory:
    directory = Directory()
    for member in members:
        directory.list(member)
    directory.collect_events()
    return directory


def published_design(designer_id: UUID | None = None, specification: Specification = BENCH) -> Design:
    designer_id = designer_id or uuid4()
    design = Design.draft(designer_id, specification)
    design.publish(designer_id)
    design.collect_events()
    return design


def placed_order(
    *lines: tuple[Design, int],
    directory: Directory | None = None,
    install: bool = True,
    site: DeliverySite = SITE,
    rate: Fraction = Fraction(10, 100),
) -> Order:
    """An order for (design, quantity) lines, placed where a workshop and an area company serve the site."""
    order = Order.place(
        buyer_id=uuid4(),
        delivery_site=site,
        install=install,
        lines=[(LineRequest(design.id, quantity), design) for design, quantity in lines],
        directory=directory or directory_of(workshop(), area_company()),
        platform_fee_rate=rate,
    )
    order.collect_events()
    return order


def paid(order: Order, payment_intent_id: str = "pi_1") -> Order:
    order.start_checkout(payment_intent_id)
    order.receive_payment(payment_intent_id, order.total_ore, "sek")
    order.collect_events()
    return order


def open_production_order(
    required_capabilities: tuple[str, ...] = ("carpentry", "welding"), municipality: str = "Botkyrka"
) -> ProductionOrder:
    production = ProductionOrder(
        order_id=uuid4(),
        line_no=1,
        design_id=uuid4(),
        revision=1,
        title=BENCH.title,
        required_capabilities=list(required_capabilities),
        municipality=municipality,
        quantity=2,
        production_fee_ore=BENCH.production_fee_ore,
    )
    production.collect_events()
    return production


def pending_delivery(workshop_id: UUID, *, install: bool = True, area_company_id: UUID | None = None) -> Delivery:
    delivery = Delivery(
        order_id=uuid4(),
        line_no=1,
        production_order_id=uuid4(),
        workshop_id=workshop_id,
        install=install,
        area_company_id=area_company_id if install else None,
    )
    delivery.collect_events()
    return delivery
