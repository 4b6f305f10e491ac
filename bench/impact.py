"""Impact: a query from the view at 100,000 events, and a recomputation from an export.

Measured in the same run against baselines on the same history:

- query: ``GET /v1/impact``'s work (the view's sums and the report) for the
  platform, a municipality, an organisation and an order, median of repeated
  runs; baseline: the payout ledger's totals (``GET /v1/payouts``'s sum query).
  Goal: under 50 ms at 100,000 events.
- recomputation: ``audit verify --impact``'s fold over the exported JSON Lines;
  baseline: the audit's own offline check of the same export (chain and money).
  Goal: at least 50,000 events/s.

    .venv/bin/python bench/impact.py [--events 100000] [--repeat 30]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.chain import ORG_NUMBERS, SITE, spec, window  # noqa: E402
from vardekedja.audit.impact import facts_from_export  # noqa: E402
from vardekedja.audit.log import export, verify_file  # noqa: E402
from vardekedja.domain.delivery import Vehicle, delivery_id  # noqa: E402
from vardekedja.domain.order import DeliverySite, LineRequest  # noqa: E402
from vardekedja.domain.production import production_order_id  # noqa: E402
from vardekedja.impact.report import Query, baseline_from, summarise  # noqa: E402
from vardekedja.projections.impact import ImpactView  # noqa: E402
from vardekedja.projections.payouts import PayoutsView  # noqa: E402
from vardekedja.runtime import Runtime  # noqa: E402
from vardekedja.settings import Settings  # noqa: E402

ROUND = 200  # commands committed together (rounds.py), to build the history quickly


def build(runtime: Runtime, events: int) -> tuple[str, str]:
    """Fulfilled, installed orders in two municipalities until ``events`` are recorded; (a workshop, an order)."""
    app, numbers = runtime.marketplace, iter(ORG_NUMBERS)

    def register(role: str, municipality: str, **extra: object):
        return app.register_organisation(name=f"{role} {municipality}", role=role, org_number=next(numbers),
                                         municipality=municipality, **extra).organisation_id  # fmt: skip

    crafts = {"capabilities": ["carpentry", "welding"], "service_area": ["Botkyrka", "Huddinge"]}
    designer, buyer = register("designer", "Botkyrka"), register("buyer", "Botkyrka")
    workshops = [register("workshop", "Botkyrka", **crafts), register("workshop", "Stockholm", **crafts)]
    areas = {"Botkyrka": register("area_company", "Botkyrka", service_area=["Botkyrka"]),
             "Huddinge": register("area_company", "Solna", service_area=["Huddinge"])}  # fmt: skip
    design = app.draft_design(designer, spec()).id
    app.publish_design(designer, design)
    sites = {name: DeliverySite(SITE.name, SITE.street, SITE.postal_code, name) for name in areas}
    first_order = None
    vehicles = list(Vehicle)
    count = 0
    while app.position < events:
        municipalities = ["Botkyrka" if i % 3 else "Huddinge" for i in range(ROUND)]
        placed = app.run_together([
            (lambda m=m: app.place_order(buyer, sites[m], True, [LineRequest(design, 1)]).id) for m in municipalities
        ])  # fmt: skip
        orders = [outcome.result() for outcome in placed]
        first_order = first_order or orders[0]

        def steps(order_id, i, m):
            workshop = workshops[i % 2]
            production, delivery = production_order_id(order_id, 1), delivery_id(order_id, 1)
            yield lambda: app.start_checkout(buyer, order_id, f"pi_{order_id.hex}")
            yield lambda: app.record_payment(order_id, f"pi_{order_id.hex}", app.order(order_id).total_ore, "sek")
            yield lambda: app.accept_production(workshop, production)
            yield lambda: app.start_production(workshop, production)
            yield lambda: app.complete_production(workshop, production, 6.5, "")
            yield lambda: app.schedule_delivery(workshop, delivery, *window())
            yield lambda: app.dispatch_delivery(workshop, delivery, 5.0 + i % 40, vehicles[i % 4])
            yield lambda: app.deliver(workshop, delivery, "Gården")
            yield lambda: app.install(areas[m], delivery, 1.5)

        chains = [list(steps(o, count + i, m)) for i, (o, m) in enumerate(zip(orders, municipalities, strict=True))]
        for step in range(len(chains[0])):
            for outcome in app.run_together([chain[step] for chain in chains]):
                outcome.result()
        count += ROUND
        print(f"\r{app.position:,} events", end="", flush=True)
    print()
    return str(workshops[0]), str(first_order)


def timed(fn, repeat: int) -> float:
    fn()  # warm
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vardekedja-impact-") as folder:
        settings = Settings(data_dir=Path(folder), database_url=None, embedded_projector=False)
        runtime = Runtime(settings)
        try:
            started = time.perf_counter()
            workshop, order = build(runtime, args.events)
            print(f"built {runtime.marketplace.position:,} events in {time.perf_counter() - started:.0f}s; "
                  "projecting …", flush=True)
            runtime.projector.catch_up()
            baseline_ms = timed(lambda: _ledger(runtime), args.repeat)
            rows = [("baseline: payout ledger totals", baseline_ms)]
            end = runtime.clock() + timedelta(days=1)
            for scope, id_ in (("platform", None), ("municipality", "Botkyrka"), ("organisation", workshop),
                               ("order", order)):  # fmt: skip
                rows.append((f"impact, {scope}", timed(lambda s=scope, i=id_: _impact(runtime, Query(s, i, None, end)),
                                                         args.repeat)))  # fmt: skip
            path = Path(folder) / "export.jsonl"
            with path.open("w", encoding="utf-8") as out:
                exported, _ = export(runtime.audited_log, out)
        finally:
            runtime.close()
        started = time.perf_counter()
        verify_file(path, None)
        verify_rate = exported / (time.perf_counter() - started)
        started = time.perf_counter()
        facts_from_export(path)
        recompute_rate = exported / (time.perf_counter() - started)

    worst = max(ms for name, ms in rows[1:])
    print(f"\nquery at {exported:,} events (median of {args.repeat}):")
    for name, ms in rows:
        print(f"  {ms / baseline_ms:6.2f} × baseline   {ms:8.2f} ms   {name}")
    print(f"\nrecomputation from the export:\n  {recompute_rate / verify_rate:6.2f} × baseline   "
          f"{recompute_rate:10,.0f} events/s   (baseline: audit verify of the same export, {verify_rate:,.0f} events/s)")
    goals = [("impact query < 50 ms", worst < 50, f"{worst:.1f} ms"),
             ("recomputation ≥ 50,000 events/s", recompute_rate >= 50_000, f"{recompute_rate:,.0f}")]  # fmt: skip
    for goal, met, value in goals:
        print(f"{'meets ' if met else 'MISSES'} {goal:34} {value}")
    return 0


def _ledger(runtime: Runtime) -> dict:
    with runtime.database.reader.connect() as connection:
        return runtime.view(PayoutsView).totals(connection)


def _impact(runtime: Runtime, query: Query) -> dict:
    with runtime.database.reader.connect() as connection:
        sums = runtime.view(ImpactView).sums(connection, query)
    return summarise(query, sums, baseline_from(runtime.settings))


if __name__ == "__main__":
    sys.exit(main())
