"""A small cast for tests: organisations, a published design, and steps along the chain."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from uuid import UUID

from vardekedja.application import Marketplace
from vardekedja.domain.design import Specification
from vardekedja.domain.order import DeliverySite, LineRequest

# Valid Swedish organisation numbers (Luhn-checked), one per party.
ORG_NUMBERS = [
    "556016-0680", "556036-0793", "556000-0753", "556012-5790", "556056-6258",
    "556074-3089", "556125-4433", "556006-8420", "556030-7885", "556101-6600",
]

BENCH = Specification(
    title="Parkbänk Fittja",
    description="Oak slat bench on a welded steel frame",
    category="bench",
    materials=("oak", "steel"),
    width_mm=1800,
    depth_mm=600,
    height_mm=800,
    weight_kg=45.5,
    required_capabilities=("carpentry", "welding"),
    lead_time_days=21,
    licence="CC-BY-4.0",
    royalty_ore=150_00,
    production_fee_ore=4_200_00,
    installation_fee_ore=800_00,
    co2e_kg=38.2,
)

SITE = DeliverySite(name="Gården vid Fittja torg", street="Fittja torg 1", postal_code="145 51", municipality="Botkyrka")


def spec(**changes: object) -> Specification:
    return replace(BENCH, **changes)


def window() -> tuple[datetime, datetime]:
    """Tomorrow 08:00-12:00 at +01:00: a delivery window still ahead (one already over is refused)."""
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=1)
    start = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 8, tzinfo=timezone(timedelta(hours=1)))
    return start, start + timedelta(hours=4)


@dataclass
class Cast:
    designer: UUID
    workshop: UUID
    other_workshop: UUID
    area_company: UUID
    buyer: UUID


def register_cast(app: Marketplace) -> Cast:
    numbers = iter(ORG_NUMBERS)

    def register(name: str, role: str, **extra: object) -> UUID:
        return app.register_organisation(
            name=name, role=role, org_number=next(numbers), municipality="Botkyrka", **extra
        ).organisation_id

    return Cast(
        designer=register("Studio Allmänning", "designer"),
        workshop=register("Fittja Snickeri", "workshop", capabilities=["carpentry", "welding"], service_area=["Botkyrka", "Huddinge"]),
        other_workshop=register("Alby Smide", "workshop", capabilities=["welding", "carpentry", "cnc"], service_area=["Botkyrka"]),
        area_company=register("Botkyrka Områdesföretag", "area_company", service_area=["Botkyrka"]),
        buyer=register("Botkyrkabyggen", "buyer"),
    )


def published_design(app: Marketplace, cast: Cast, specification: Specification = BENCH) -> UUID:
    design_id = app.draft_design(cast.designer, specification).id
    app.publish_design(cast.designer, design_id)
    return design_id


def paid_order(app: Marketplace, cast: Cast, design_id: UUID, *, quantity: int = 2, install: bool = True) -> UUID:
    order_id = app.place_order(cast.buyer, SITE, install, [LineRequest(design_id, quantity)]).id
    order = app.order(order_id)
    app.start_checkout(cast.buyer, order_id, "pi_test_1")
    app.record_payment(order_id, "pi_test_1", order.total_ore, "sek")
    return order_id
