"""What sealing personal data costs: commands and projector catch-up, with sealing and without, same run.

Two event stores on SQLite, filled by the same workload (bench/workload.py:
orders placed, paid, made with production notes, delivered to a named
recipient and installed). One seals personal data as the product does (AES-GCM
under a key per subject, keys in their own SQLite file); the baseline stores it
in plain text (``PlainText`` below, for this measurement only). Measured,
interleaved, best of ``--repeat``:

- placing an order (``place_order``), alone;
- the whole workload's commands (events/s), which seal each delivery's
  recipient and each production order's notes;
- projector catch-up over each store's history (views hold the sealed form:
  readers open it, so the projector never decrypts).

Rates are per second of this process's CPU time (``time.process_time``), not of
the wall clock: on a machine shared with other work the wall clock measured the
neighbours more than the code. Goal: sealing adds at most 10 % to placing an
order and to catch-up.

    .venv/bin/python bench/personal_data_cost.py [--events 20000] [--orders 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from uuid import UUID

sys.path.insert(0, str(Path(__file__).parent))

from projection_catchup import catch_up  # noqa: E402
from workload import _org_numbers, generate, specification  # noqa: E402

from vardekedja.application import Marketplace  # noqa: E402
from vardekedja.domain.order import DeliverySite, LineRequest  # noqa: E402
from vardekedja.personal_data import PersonalData  # noqa: E402
from vardekedja.settings import Settings  # noqa: E402
from vardekedja.storage.engines import sqlite_engine  # noqa: E402

GOAL = 1.10


class PlainText(PersonalData):
    """The baseline: personal data stored as given (what the product did before sealing)."""

    def seal(self, subject: UUID, text: str) -> str:
        return text


def marketplace(folder: Path, sealed: bool) -> Marketplace:
    settings = Settings(data_dir=folder)
    vault = (PersonalData(sqlite_engine(str(folder / "keys.sqlite3"), begin="BEGIN IMMEDIATE")) if sealed
             else PlainText.in_memory())  # fmt: skip
    return Marketplace(settings.event_store_env(), personal_data=vault)


def place_orders(app: Marketplace, count: int) -> float:
    """Orders placed per second (a buyer, a published design, a site), after a few to warm up."""
    numbers = _org_numbers()
    designer = app.register_organisation(name="Studio", role="designer", org_number=next(numbers),
                                         municipality="Stockholm").organisation_id  # fmt: skip
    app.register_organisation(name="Verkstad", role="workshop", org_number=next(numbers), municipality="Botkyrka",
                              capabilities=["carpentry", "welding", "cnc"], service_area=["Botkyrka"])  # fmt: skip
    app.register_organisation(name="Områdesbolaget", role="area_company", org_number=next(numbers),
                              municipality="Botkyrka", service_area=["Botkyrka"])  # fmt: skip
    buyer = app.register_organisation(name="Bostadsbolaget", role="buyer", org_number=next(numbers),
                                      municipality="Botkyrka").organisation_id  # fmt: skip
    design = app.draft_design(designer, specification(0)).id
    app.publish_design(designer, design)
    site = DeliverySite(name="Gården", street="Torget 1", postal_code="145 51", municipality="Botkyrka")
    for _ in range(20):
        app.place_order(buyer, site, True, [LineRequest(design, 1)])
    started = time.process_time()
    for _ in range(count):
        app.place_order(buyer, site, True, [LineRequest(design, 1)])
    return count / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1000)
    args = parser.parse_args()
    results: dict[str, dict[bool, list[float]]] = {name: {True: [], False: []}
                                                   for name in ("orders", "workload", "catch-up")}  # fmt: skip
    with tempfile.TemporaryDirectory() as root:
        for run in range(args.repeat):
            for sealed in (False, True) if run % 2 == 0 else (True, False):  # interleaved, alternating order
                folder = Path(root) / f"{run}-{sealed}"
                (folder / "orders").mkdir(parents=True)
                (folder / "workload").mkdir()
                app = marketplace(folder / "orders", sealed)
                results["orders"][sealed].append(place_orders(app, args.orders))
                app.close()
                app = marketplace(folder / "workload", sealed)
                started = time.process_time()
                head = generate(app, args.events, progress=False)
                results["workload"][sealed].append(head / (time.process_time() - started))
                started = time.process_time()
                catch_up(app, head, args.batch, chained=False)
                results["catch-up"][sealed].append(head / (time.process_time() - started))
                app.close()
    print(f"{'per CPU second, best of ' + str(args.repeat):40} {'plain':>12} {'sealed':>12} {'time ratio':>11}")
    for name, label in (("orders", "place_order, orders/s"), ("workload", "workload commands, events/s"),
                        ("catch-up", "projector catch-up, events/s")):  # fmt: skip
        plain, sealed_rate = max(results[name][False]), max(results[name][True])
        ratio = plain / sealed_rate
        goal = f"(goal ≤ {GOAL:.2f}: {'met' if ratio <= GOAL else 'NOT met'})" if name != "workload" else ""
        print(f"{label:40} {plain:12,.0f} {sealed_rate:12,.0f} {ratio:11.3f} {goal}")


if __name__ == "__main__":
    main()
