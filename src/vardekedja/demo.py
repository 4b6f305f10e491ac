"""Demo data: a small Stockholm-suburb marketplace with orders in several states.

Everything goes through the application's commands, as the API would send
them. Payments in the demo history are recorded with payment ids marked
``pi_demo_…``: they stand for checkouts made before this data set begins and
were never sent to a payment provider, so no money can be transferred from
them. ``vardekedja demo --local-stripe`` pays instead (``seed``'s ``pay``) by
card at the local Stripe stand-in (cli_demo.py). Seeding twice changes nothing; a
second run hands out the demo organisations' keys it was given back (those
still active), and issues a key only where there is none to reuse.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

from vardekedja.application import Marketplace, split_api_key
from vardekedja.demo_pictures import store_demo_picture
from vardekedja.domain.design import Specification
from vardekedja.domain.order import DeliverySite, LineRequest
from vardekedja.domain.organisation import Role
from vardekedja.domain.production import production_order_id
from vardekedja.media import MediaStore

ORGANISATIONS = [
    # name, role, org number, municipality, capabilities, service area
    ("Studio Allmänning", "designer", "556016-0680", "Stockholm", [], []),
    ("Form för Gården", "designer", "556036-0793", "Huddinge", [], []),
    ("Fittja Snickeri & Smide", "workshop", "556000-0753", "Botkyrka", ["carpentry", "welding"], ["Botkyrka", "Huddinge"]),
    ("Järva Verkstad", "workshop", "556012-5790", "Stockholm", ["carpentry", "cnc", "upholstery", "welding"], ["Stockholm", "Sundbyberg"]),
    ("Ronna Betong", "workshop", "556056-6258", "Södertälje", ["concrete", "welding"], ["Södertälje", "Botkyrka"]),
    ("Botkyrka Områdesföretag", "area_company", "556074-3089", "Botkyrka", [], ["Botkyrka"]),
    ("Järvalyftet Områdesbolag", "area_company", "556125-4433", "Stockholm", [], ["Stockholm"]),
    ("Hovsjö Gårdar", "area_company", "556006-8420", "Södertälje", [], ["Södertälje"]),
    ("Botkyrkabyggen", "buyer", "556030-7885", "Botkyrka", [], []),
    ("Revisionsbyrån Granskning", "auditor", "556101-6600", "Stockholm", [], []),
]  # fmt: skip


def _spec(title: str, description: str, category: str, materials: tuple[str, ...], size: tuple[int, int, int],
          weight: float, capabilities: tuple[str, ...], lead: int, prices: tuple[int, int, int], co2e: float) -> Specification:  # fmt: skip
    return Specification(
        title=title, description=description, category=category, materials=materials, width_mm=size[0],
        depth_mm=size[1], height_mm=size[2], weight_kg=weight, required_capabilities=capabilities,
        lead_time_days=lead, licence="CC-BY-SA-4.0", royalty_ore=prices[0], production_fee_ore=prices[1],
        installation_fee_ore=prices[2], co2e_kg=co2e,
    )  # fmt: skip


DESIGNS = [
    (0, _spec("Parkbänk Fittja", "Bänk i ek med svetsad stålram, ryggstöd och armstöd för äldre.", "bench",
              ("oak", "steel"), (1800, 620, 820), 48.0, ("carpentry", "welding"), 21, (250_00, 6_400_00, 900_00), 41.5)),
    (0, _spec("Odlingslåda Alby", "Upphöjd odlingslåda i lärk, rullstolsanpassad höjd.", "planter",
              ("larch",), (1200, 800, 750), 60.0, ("carpentry",), 14, (150_00, 3_200_00, 600_00), 18.0)),
    (1, _spec("Cykeltak Tensta", "Cykeltak för tio cyklar med sedumtak.", "bike shelter",
              ("steel", "sedum"), (5000, 2200, 2400), 420.0, ("welding", "cnc"), 35, (900_00, 38_000_00, 6_500_00), 310.0)),
    (1, _spec("Samlingsbord Hovsjö", "Långbord i gjuten betong med bänkar för tolv personer.", "table",
              ("concrete",), (3000, 900, 740), 900.0, ("concrete",), 28, (600_00, 14_500_00, 3_800_00), 520.0)),
]  # fmt: skip

BUYER_ORG_NUMBER = "556030-7885"

SITES = [
    DeliverySite("Fittja gård 3", "Krögarvägen 12", "145 57", "Botkyrka"),
    DeliverySite("Rinkeby torg", "Rinkebytorget 1", "163 73", "Stockholm"),
    DeliverySite("Ronna centrum", "Ronnavägen 2", "151 45", "Södertälje"),
]


def place_demo_order(app: Marketplace, buyer: UUID) -> UUID | None:
    """A fresh order from the demo buyer for the first published demo design it can get made."""
    from vardekedja.domain.errors import DomainError

    for site in SITES:
        for notification in app.recorder.select_notifications(1, 500, topics=["vardekedja:Design.Published"]):
            try:
                return app.place_order(buyer, site, True, [LineRequest(notification.originator_id, 1)]).id
            except DomainError:
                continue
    return None


@dataclass(frozen=True)
class DemoKey:
    """A demo organisation's API key, with what a person needs to pick the right one."""

    name: str
    role: Role
    org_number: str
    api_key: str
    reused: bool


@dataclass
class DemoResult:
    keys: list[DemoKey] = field(default_factory=list)
    orders: dict[str, UUID] = field(default_factory=dict)
    seeded: bool = False


def _still_active(app: Marketplace, organisation_id: UUID, api_key: str | None) -> bool:
    parts = split_api_key(api_key) if api_key else None
    return parts is not None and parts[0] in app.organisation(organisation_id).api_keys


def record_demo_payment(app: Marketplace, buyer: UUID, order_id: UUID) -> None:
    """A payment made before the demo's history begins, at no provider (``pi_demo_…``)."""
    intent = f"pi_demo_{order_id.hex[:16]}"
    app.start_checkout(buyer, order_id, intent)
    app.record_payment(order_id, intent, app.order(order_id).total_ore, "sek")


def seed(app: Marketplace, kept: Mapping[str, str] | None = None, pictures: Path | None = None,
         pay: Callable[[Marketplace, UUID, UUID], None] = record_demo_payment) -> DemoResult:  # fmt: skip
    """Seed the demo once. On later runs, reuse the keys in ``kept`` (by organisation number) that are
    still active, and issue a key only to a demo organisation without one, so keys do not pile up.

    With a media folder, each design gets a picture drawn by code (stored there) before it is published.
    ``pay(app, buyer, order_id)`` pays each order that the demo has paid.
    """
    kept = kept or {}
    result = DemoResult()
    listed = {item.org_number: item.organisation_id for item in app.listed().listings.values()}
    if ORGANISATIONS[0][2] in listed:
        for name, role, number, *_ in ORGANISATIONS:
            if number not in listed:
                continue
            key, reused = kept.get(number), True
            if key is None or not _still_active(app, listed[number], key):
                key, reused = app.issue_api_key(listed[number]).api_key, False
            result.keys.append(DemoKey(name, Role(role), number, key, reused))
        return result
    result.seeded = True
    ids: dict[str, UUID] = {}
    for name, role, number, municipality, capabilities, area in ORGANISATIONS:
        issued = app.register_organisation(name=name, role=role, org_number=number, municipality=municipality,
                                           capabilities=capabilities, service_area=area)  # fmt: skip
        ids[name] = issued.organisation_id
        result.keys.append(DemoKey(name, Role(role), number, issued.api_key, False))
    designers = [ids["Studio Allmänning"], ids["Form för Gården"]]
    designs = []
    for designer, spec in DESIGNS:
        design_id = app.draft_design(designers[designer], spec).id
        if pictures is not None:
            picture = store_demo_picture(MediaStore(pictures), spec.category)
            app.attach_media(designers[designer], design_id, kind="picture", filename=f"{spec.title}.webp",
                             sha256=picture.sha256, size=picture.size, content_type="image/webp",
                             variants=picture.variants)  # fmt: skip
        app.publish_design(designers[designer], design_id)
        designs.append(design_id)
    app.draft_design(designers[0], _spec("Pergola Hallunda (utkast)", "Pergola med klätterväxter.", "pergola",
                                         ("larch", "steel"), (4000, 3000, 2600), 350.0, ("carpentry", "welding"),
                                         30, (800_00, 22_000_00, 4_000_00), 190.0))  # fmt: skip
    buyer = ids["Botkyrkabyggen"]
    workshop, area = ids["Fittja Snickeri & Smide"], ids["Botkyrka Områdesföretag"]

    def place(site: DeliverySite, lines: list[tuple[int, int]], install: bool = True) -> UUID:
        return app.place_order(buyer, site, install, [LineRequest(designs[d], q) for d, q in lines]).id

    result.orders["placed"] = place(SITES[1], [(2, 1)])
    result.orders["paid"] = paid = place(SITES[2], [(3, 1)])
    pay(app, buyer, paid)
    result.orders["in production"] = making = place(SITES[0], [(1, 4)], install=False)
    pay(app, buyer, making)
    app.accept_production(workshop, production_order_id(making, 1))
    app.start_production(workshop, production_order_id(making, 1))
    result.orders["fulfilled"] = done = place(SITES[0], [(0, 3), (1, 2)])
    pay(app, buyer, done)
    # The window is under way as the demo runs (a window already over is refused).
    start = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    for line in (1, 2):
        production = production_order_id(done, line)
        app.accept_production(workshop, production)
        app.start_production(workshop, production)
        app.complete_production(workshop, production, 18.5 if line == 1 else 9.0, "Oljad två gånger.")
        delivery = app.delivery_for(done, line).id
        app.schedule_delivery(workshop, delivery, start, start + timedelta(hours=4))
        app.dispatch_delivery(workshop, delivery)
        app.deliver(workshop, delivery, "Fastighetsskötare Leyla Ahmed")
        app.install(area, delivery)
    return result
