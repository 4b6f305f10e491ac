"""Placing an order with 10 organisations registered, and with 10,000, on SQLite.

The directory (every organisation's role and reach) is one stream that grows
with each registration, and placing an order reads it. Reads use a copy kept
in memory and brought up to date with the events recorded since (one small
query), lookups go through an index by role and municipality, and snapshots
bound what a full load replays. This bench places the same orders against two
stores measured in the same run, interleaved and repeated:

- small: the four organisations an order needs, and six more (10 in all);
- large: the same four and 9,996 more (workshops, area companies, buyers and
  designers across 50 municipalities), registered in rounds before timing.

Each order is one command on its own (its own transaction), as the CLI or a
command retried after a lost race runs it, and in rounds of 16 as the server's
command thread runs them. Goal: with 10,000 organisations, placing an order is
at most 20 % slower than with 10: CPU time per order at most 1.2 times, and
orders per second at least 0.8 times, the small store's. For contrast it also
times loading the large directory through the library's repository, as each
order outside a round did before (a deep copy from its aggregate cache), and
replaying every one of its events.

    .venv/bin/python bench/directory_scale.py [--orders 1000] [--repeat 3] [--organisations 10000]
"""

from __future__ import annotations

import argparse
import functools
import itertools
import statistics
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.workload import _org_numbers, specification  # noqa: E402
from vardekedja.application import Marketplace  # noqa: E402
from vardekedja.domain.directory import DIRECTORY_ID  # noqa: E402
from vardekedja.domain.order import DeliverySite, LineRequest  # noqa: E402
from vardekedja.settings import Settings  # noqa: E402

SITE = DeliverySite(name="Gården", street="Torget 1", postal_code="145 51", municipality="Botkyrka")
ROUND = 16
ROLES = ["workshop", "area_company", "buyer", "designer"]


class Store:
    def __init__(self, folder: Path, organisations: int) -> None:
        self.app = Marketplace(Settings(data_dir=folder, database_url=None).event_store_env())
        numbers = _org_numbers()
        register = self.app.register_organisation
        self.designer = register(name="Studio", role="designer", org_number=next(numbers),
                                 municipality="Stockholm").organisation_id  # fmt: skip
        register(name="Verkstad", role="workshop", org_number=next(numbers), municipality="Botkyrka",
                 capabilities=["carpentry", "welding", "cnc"], service_area=["Botkyrka"])  # fmt: skip
        register(name="Områdesbolaget", role="area_company", org_number=next(numbers), municipality="Botkyrka",
                 service_area=["Botkyrka"])  # fmt: skip
        self.buyer = register(name="Bostadsbolaget", role="buyer", org_number=next(numbers),
                              municipality="Botkyrka").organisation_id  # fmt: skip
        others = [functools.partial(self._register_other, index, next(numbers)) for index in range(organisations - 4)]
        for start in range(0, len(others), 500):
            outcomes = self.app.run_together(others[start : start + 500])
            assert outcomes is not None and all(outcome.error is None for outcome in outcomes)
        self.designs: list[UUID] = []
        for index in range(10):
            self.designs.append(self.app.draft_design(self.designer, specification(index)).id)
            self.app.publish_design(self.designer, self.designs[-1])
        self.lines = itertools.cycle([LineRequest(design_id, 1) for design_id in self.designs])

    def _register_other(self, index: int, org_number: str) -> None:
        role = ROLES[index % len(ROLES)]
        municipality = f"Kommun {index % 50}"
        reach = {"capabilities": ["carpentry", f"skill {index % 9}"]} if role == "workshop" else {}
        self.app.register_organisation(name=f"Organisation {index}", role=role, org_number=org_number,
                                       municipality=municipality, service_area=[municipality, f"Kommun {index % 7}"],
                                       **reach)  # fmt: skip

    def place(self) -> None:
        self.app.place_order(self.buyer, SITE, True, [next(self.lines)])

    def alone(self, orders: int) -> tuple[float, float]:
        """(orders per second, CPU milliseconds per order) placing each order on its own."""
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(orders):
            self.place()
        return orders / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / orders

    def in_rounds(self, orders: int) -> tuple[float, float]:
        """The same, in rounds of ``ROUND`` orders committed together."""
        started, cpu = time.perf_counter(), time.process_time()
        for _ in range(orders // ROUND):
            outcomes = self.app.run_together([self.place] * ROUND)
            assert outcomes is not None and all(outcome.error is None for outcome in outcomes)
        done = orders // ROUND * ROUND
        return done / (time.perf_counter() - started), (time.process_time() - cpu) * 1000 / done

    def replay_directory_seconds(self) -> float:
        started = time.perf_counter()
        events = self.app.repository.event_store.get(DIRECTORY_ID)
        functools.reduce(lambda aggregate, event: event.mutate(aggregate), events, None)
        return time.perf_counter() - started

    def repository_get_seconds(self) -> float:
        """Loading the directory as every order outside a round did before: through the library's repository
        (a deep copy from its aggregate cache, or the latest snapshot and the events since)."""
        self.app.repository.get(DIRECTORY_ID)
        started = time.perf_counter()
        self.app.repository.get(DIRECTORY_ID)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--organisations", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as small_dir, tempfile.TemporaryDirectory() as large_dir:
        started = time.perf_counter()
        small, large = Store(Path(small_dir), 10), Store(Path(large_dir), args.organisations)
        print(f"stores ready in {time.perf_counter() - started:.1f} s "
              f"(directory versions {small.app.listed().version} and {large.app.listed().version})")  # fmt: skip
        small.alone(100), large.alone(100)  # warm-up
        results: dict[tuple[str, str], list[tuple[float, float]]] = {}
        stores = [("10", small), (f"{args.organisations:,}", large)]
        for run in range(args.repeat):
            for how in ("alone", "in rounds"):
                # Alternate which store goes first, so neither always follows the other's disk writes.
                for name, store in stores if run % 2 == 0 else stores[::-1]:
                    measured = store.alone(args.orders) if how == "alone" else store.in_rounds(args.orders)
                    results.setdefault((how, name), []).append(measured)
            print(f"  run {run + 1} of {args.repeat} done")
        print(f"\nplacing an order on SQLite, {args.orders:,} orders per run, {args.repeat} runs interleaved"
              " (medians; each run's orders/s in brackets). Commits wait for the disk, which this machine's")
        print("other users share, so the CPU time per order is the steadier measure of what the directory costs.\n")
        print(f"{'how':10} {'organisations':>13} {'CPU ms/order':>12} {'of 10':>6} {'orders/s':>9} {'of 10':>6}   runs")
        for how in ("alone", "in rounds"):
            base_rate = statistics.median(rate for rate, _ in results[(how, "10")])
            base_cpu = statistics.median(cpu for _, cpu in results[(how, "10")])
            for name, _ in stores:
                rate = statistics.median(rate for rate, _ in results[(how, name)])
                cpu = statistics.median(cpu for _, cpu in results[(how, name)])
                print(f"{how:10} {name:>13} {cpu:12.3f} {cpu / base_cpu:6.2f} {rate:9,.0f} {rate / base_rate:6.2f}   "
                      + ", ".join(f"{r:,.0f}" for r, _ in results[(how, name)]))
        print(f"\nfor contrast, with {large.app.listed().version - 1:,} organisations: loading the directory through "
              f"the repository, as each order outside a round did before, {large.repository_get_seconds() * 1000:,.0f} "
              f"ms; replaying all its events {large.replay_directory_seconds() * 1000:,.0f} ms")

if __name__ == "__main__":
    main()
