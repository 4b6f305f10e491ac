"""A realistic event history for benchmarks: many orders taken through the whole chain.

Commands go through the application, as the API would send them, in waves of
orders so that their events interleave as they would in a live marketplace.
"""

from __future__ import annotations

import itertools
import sys
import time
from datetime import datetime, timedelta, timezone
from uuid import UUID

from vardekedja.application import Marketplace
from vardekedja.domain.design import Specification
from vardekedja.domain.order import DeliverySite, LineRequest
from vardekedja.domain.production import production_order_id

WAVE = 50
EVENTS_PER_ORDER = 19  # one line, installed: placed … fulfilled, with three payouts


def _org_numbers() -> itertools.chain[str]:
    """Valid Swedish organisation numbers, as many as wanted."""
    for serial in itertools.count(1):
        body = f"55{serial:07d}"
        for check in range(10):
            digits = body + str(check)
            total = sum((d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d
                        for i, d in enumerate(map(int, digits)))  # fmt: skip
            if total % 10 == 0:
                yield f"{digits[:6]}-{digits[6:]}"
                break


def specification(index: int) -> Specification:
    kinds = [("bänk", "bench", ("carpentry",)), ("planteringslåda", "planter", ("welding",)),
             ("pergola", "pergola", ("carpentry", "welding")), ("cykeltak", "bike shelter", ("welding", "cnc"))]  # fmt: skip
    title, category, capabilities = kinds[index % len(kinds)]
    return Specification(
        title=f"{title.capitalize()} modell {index}", description=f"En {title} för gården, modell {index}",
        category=category, materials=("oak", "steel"), width_mm=1200 + index, depth_mm=600, height_mm=800,
        weight_kg=40.0, required_capabilities=capabilities, lead_time_days=14, licence="CC-BY-4.0",
        royalty_ore=100_00 + index, production_fee_ore=3_000_00 + 7 * index, installation_fee_ore=500_00, co2e_kg=20.0,
    )  # fmt: skip


def generate(app: Marketplace, events: int, *, progress: bool | None = None) -> int:
    """Append about ``events`` events to the store; return the head position.

    Progress is redrawn in place on a terminal only (the default when stdout is one): written to a file or
    a pipe, carriage returns would make one endless line, so the caller's summary is all that is printed.
    """
    if progress is None:
        progress = sys.stdout.isatty()
    numbers = _org_numbers()
    register = app.register_organisation
    designer = register(name="Studio", role="designer", org_number=next(numbers), municipality="Stockholm").organisation_id
    workshop = register(name="Verkstad", role="workshop", org_number=next(numbers), municipality="Botkyrka",
                        capabilities=["carpentry", "welding", "cnc"], service_area=["Botkyrka"]).organisation_id  # fmt: skip
    area_company = register(name="Områdesbolaget", role="area_company", org_number=next(numbers),
                            municipality="Botkyrka", service_area=["Botkyrka"]).organisation_id  # fmt: skip
    buyer = register(name="Bostadsbolaget", role="buyer", org_number=next(numbers), municipality="Botkyrka").organisation_id
    designs: list[UUID] = []
    for index in range(40):
        designs.append(app.draft_design(designer, specification(index)).id)
        app.publish_design(designer, designs[-1])
    site = DeliverySite(name="Gården", street="Torget 1", postal_code="145 51", municipality="Botkyrka")
    # Delivery windows lie ahead (a window already past is refused): tomorrow, 08:00-12:00 UTC.
    start = (datetime.now(timezone.utc) + timedelta(days=1)).replace(hour=8, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    wave_number = 0
    while app.position < events:
        wave_number += 1
        orders = [
            app.place_order(buyer, site, True, [LineRequest(designs[(wave_number + i) % len(designs)], 1 + i % 3)]).id
            for i in range(WAVE)
        ]
        for order_id in orders:
            app.start_checkout(buyer, order_id, f"pi_{order_id.hex}")
        for order_id in orders:
            app.record_payment(order_id, f"pi_{order_id.hex}", app.order(order_id).total_ore, "sek")
        for step in ("accept", "start", "complete"):
            for order_id in orders:
                po = production_order_id(order_id, 1)
                if step == "accept":
                    app.accept_production(workshop, po)
                elif step == "start":
                    app.start_production(workshop, po)
                else:
                    app.complete_production(workshop, po, 6.5, "klar")
        for order_id in orders:
            delivery = app.delivery_for(order_id, 1).id
            app.schedule_delivery(workshop, delivery, start, start + timedelta(hours=4))
            app.dispatch_delivery(workshop, delivery)
            app.deliver(workshop, delivery, "Fastighetsskötaren")
            app.install(area_company, delivery)
        if progress:
            rate = app.position / (time.perf_counter() - started)
            print(f"\r  generating: {app.position:,} / {events:,} events ({rate:,.0f}/s)", end="", flush=True)
    if progress:
        print()
    return app.position
