"""Impact over random chains (Hypothesis): what the view says is what the events say.

Each example registers parties in and out of the sites' municipalities, then
runs random orders as far along the chain as drawn: paid or cancelled, made
with some hours, dispatched by some vehicle over some distance (or unsaid),
delivered, installed with or without hours, reported and repaired. Then:
the local share is between 0 and 1; money paid to parties equals the payout
ledger; hours equal the sum of the hours reported; and for every scope, at
every moment drawn, the view's report equals the one recomputed from an export.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from uuid import UUID

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.chain import ORG_NUMBERS, spec, window
from tests.integration.audit_support import audited_runtime
from vardekedja.audit.impact import recompute
from vardekedja.audit.log import export
from vardekedja.domain.delivery import Vehicle, delivery_id
from vardekedja.domain.maintenance import ServiceCode
from vardekedja.domain.order import DeliverySite, LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.impact.report import Query, baseline_from, summarise
from vardekedja.projections.impact import ImpactView
from vardekedja.projections.payouts import PayoutsView
from vardekedja.runtime import Runtime

MUNICIPALITIES = ("Botkyrka", "Huddinge")
HOURS = st.sampled_from([0, 0.25, 1.5, 4, 7.75])


@dataclass(frozen=True)
class Plan:
    municipality: int
    install: bool
    lines: list[tuple[int, int]]  # (design, quantity)
    depth: int  # 0 placed, 1 paid, 2 made, 3 dispatched, 4 delivered, 5 installed, 6 repaired
    cancel: bool
    workshop: int
    hours: float
    transport: tuple[float, str] | None
    installation_hours: float | None
    repair_hours: float


plans = st.builds(
    Plan, municipality=st.integers(0, 1), install=st.booleans(),
    lines=st.lists(st.tuples(st.integers(0, 1), st.integers(1, 3)), min_size=1, max_size=2),
    depth=st.integers(0, 6), cancel=st.booleans(), workshop=st.integers(0, 1), hours=HOURS,
    transport=st.none() | st.tuples(st.sampled_from([0.0, 3.5, 12.0, 140.0]), st.sampled_from(list(Vehicle))),
    installation_hours=st.none() | HOURS, repair_hours=HOURS,
)  # fmt: skip


@dataclass
class World:
    workshops: list[UUID]
    area_companies: list[UUID]
    buyer: UUID
    designs: list[UUID]


def world(runtime: Runtime) -> World:
    app, numbers = runtime.marketplace, iter(ORG_NUMBERS)

    def register(role: str, municipality: str, **extra: object) -> UUID:
        return app.register_organisation(name=f"{role} {municipality}", role=role, org_number=next(numbers),
                                         municipality=municipality, **extra).organisation_id  # fmt: skip

    crafts = {"capabilities": ["carpentry", "welding"], "service_area": list(MUNICIPALITIES)}
    designers = [register("designer", "Botkyrka"), register("designer", "Stockholm")]
    made = World(
        workshops=[register("workshop", "Botkyrka", **crafts), register("workshop", "Stockholm", **crafts)],
        area_companies=[register("area_company", "Botkyrka", service_area=["Botkyrka"]),
                        register("area_company", "Solna", service_area=["Huddinge"])],
        buyer=register("buyer", "Botkyrka"), designs=[],
    )  # fmt: skip
    for designer, co2e in zip(designers, (38.2, 12.5), strict=True):
        design = app.draft_design(designer, spec(co2e_kg=co2e)).id
        app.publish_design(designer, design)
        made.designs.append(design)
    return made


def run(runtime: Runtime, made: World, plan: Plan) -> float:
    """Carry one order as far as planned; the hours reported on the way."""
    app, reported = runtime.marketplace, 0.0
    site = DeliverySite("Gården", "Torget 1", "145 51", MUNICIPALITIES[plan.municipality])
    order_id = app.place_order(made.buyer, site, plan.install,
                               [LineRequest(made.designs[d], q) for d, q in plan.lines]).id  # fmt: skip
    if plan.depth == 0:
        return 0.0
    app.start_checkout(made.buyer, order_id, f"pi_{order_id.hex}")
    app.record_payment(order_id, f"pi_{order_id.hex}", app.order(order_id).total_ore, "sek")
    if plan.cancel or plan.depth == 1:
        if plan.cancel:
            app.cancel_order(made.buyer, order_id, "changed our minds")
        return 0.0
    workshop = made.workshops[plan.workshop]
    area_company = made.area_companies[plan.municipality]
    for line_no in range(1, len(plan.lines) + 1):
        production, delivery = production_order_id(order_id, line_no), delivery_id(order_id, line_no)
        app.accept_production(workshop, production)
        app.start_production(workshop, production)
        app.complete_production(workshop, production, plan.hours, "")
        reported += plan.hours
        if plan.depth < 3:
            continue
        app.schedule_delivery(workshop, delivery, *window())
        distance, vehicle = plan.transport or (None, None)
        app.dispatch_delivery(workshop, delivery, distance, vehicle)
        if plan.depth < 4:
            continue
        app.deliver(workshop, delivery, "Gården")
        if plan.depth >= 5 and plan.install:
            app.install(area_company, delivery, plan.installation_hours)
            reported += plan.installation_hours or 0
        if plan.depth >= 6:
            asset = next(iter(runtime.marketplace.asset(a) for a in _assets(order_id, line_no)))
            report = app.report_fault(asset.id, ServiceCode.DAMAGE, "A loose slat").id
            app.start_maintenance(area_company, report)
            app.resolve_maintenance(area_company, report, plan.repair_hours, 1200, "")
            reported += plan.repair_hours
    return reported


def _assets(order_id: UUID, line_no: int) -> list[UUID]:
    from vardekedja.domain.asset import asset_id

    return [asset_id(order_id, line_no, 1)]


def from_view(runtime: Runtime, query: Query) -> dict:
    with runtime.database.reader.connect() as connection:
        sums = runtime.view(ImpactView).sums(connection, query)
    return summarise(query, sums, baseline_from(runtime.settings))


# No shrinking: each example builds a whole store, and a failing run already names its plans.
@settings(max_examples=12, deadline=None, derandomize=True, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(plans=st.lists(plans, min_size=1, max_size=5), cut=st.floats(0, 1))
def test_impact_adds_up_and_the_view_equals_the_recomputation_from_an_export(plans: list[Plan], cut: float) -> None:
    with tempfile.TemporaryDirectory() as folder, audited_runtime("sqlite", Path(folder) / "data") as runtime:
        made = world(runtime)
        reported = sum(run(runtime, made, plan) for plan in plans)
        runtime.projector.catch_up()
        path = Path(folder) / "export.jsonl"
        with path.open("w", encoding="utf-8") as out:
            export(runtime.audited_log, out)

        platform = from_view(runtime, Query("platform", None, None, None))
        money = platform["money"]
        with runtime.database.reader.connect() as connection:
            ledger = sum(runtime.view(PayoutsView).totals(connection).values())
        assert money["paid_to_parties_ore"] == ledger
        assert money["local_share"] is None or 0 <= money["local_share"] <= 1
        assert platform["work_hours"]["total"]["all"] == round(reported, 3)

        # As of a moment part-way through the run, and at its end, for every kind of scope.
        events = runtime.marketplace.recorder.select_notifications(1, 100_000)
        moment = runtime.marketplace.mapper.to_domain_event(events[int(cut * (len(events) - 1))]).timestamp
        first_order = next(iter(runtime.marketplace.recorder.select_notifications(
            1, 100_000, topics=["vardekedja:Order.Placed"]))).originator_id  # fmt: skip
        for end in (moment + timedelta(microseconds=1), None):
            for scope, id_ in (("platform", None), ("municipality", "Botkyrka"), ("municipality", "huddinge"),
                               ("organisation", str(made.workshops[0])), ("organisation", str(made.buyer)),
                               ("order", str(first_order))):  # fmt: skip
                query = Query(scope, id_, None, end)
                seen = from_view(runtime, query)
                assert seen == recompute(path, seen), (scope, id_, end)
                share = seen["money"]["local_share"]
                assert share is None or 0 <= share <= 1
