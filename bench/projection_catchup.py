"""Catch-up speed of the projector over a long history on SQLite.

Baseline, measured in the same run over the same events: reading and
decoding them with the eventsourcing library alone. Goals: at least 20,000
events/s, and at least a fifth of the baseline.

    .venv/bin/python bench/projection_catchup.py [--events 100000] [--batch 1000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from workload import generate  # noqa: E402

from vardekedja.application import Marketplace  # noqa: E402
from vardekedja.audit.chain import AuditChain  # noqa: E402
from vardekedja.audit.keys import ensure_signing_key, load_signing_key  # noqa: E402
from vardekedja.projections import all_projections  # noqa: E402
from vardekedja.projections.database import ViewDatabase  # noqa: E402
from vardekedja.projections.projector import BATCH_SIZE, Projector  # noqa: E402
from vardekedja.settings import Settings  # noqa: E402


def read_and_decode(app: Marketplace, batch: int) -> int:
    count, position = 0, 0
    while True:
        notifications = app.recorder.select_notifications(position + 1, batch)
        if not notifications:
            return count
        for notification in notifications:
            app.mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id


def catch_up(app: Marketplace, head: int, batch: int, *, chained: bool) -> float:
    """Catch fresh views (and, if asked, a fresh audit chain) up with the whole history; events/s."""
    with tempfile.TemporaryDirectory() as folder:
        database = ViewDatabase(Settings(data_dir=Path(folder)))
        projections = all_projections()
        database.create(p.view for p in projections)
        chain = None
        if chained:
            chain = AuditChain(load_signing_key(ensure_signing_key(Path(folder))[0]))
            with database.writer.begin() as connection:
                chain.create(connection)
        projector = Projector(app, database, projections, batch_size=batch, followers=[chain] if chain else [])
        started = time.perf_counter()
        processed = projector.catch_up()
        elapsed = time.perf_counter() - started
        assert processed == projector.position == head, (processed, projector.position, head)
        database.dispose()
        return processed / elapsed


def best(runs: list[float]) -> str:
    return f"{max(runs):10,.0f} events/s (best of {len(runs)}; {', '.join(f'{r:,.0f}' for r in runs)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=BATCH_SIZE)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each measurement, interleaved")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        app = Marketplace(settings.event_store_env())
        started = time.perf_counter()
        head = generate(app, args.events)
        print(f"history: {head:,} events generated in {time.perf_counter() - started:.1f}s")

        # Interleaved, so that the machine's drift falls on every measurement alike.
        baseline, views, chained = [], [], []
        for _ in range(args.repeat):
            started = time.perf_counter()
            count = read_and_decode(app, args.batch)
            baseline.append(count / (time.perf_counter() - started))
            views.append(catch_up(app, head, args.batch, chained=False))
            chained.append(catch_up(app, head, args.batch, chained=True))
        app.close()

    rate = max(views)
    print(f"baseline  read + decode with eventsourcing alone: {best(baseline)}")
    print(f"projector catch-up, six views, batch {args.batch}:  {best(views)}")
    print(f"  with the audit chain as well:                  {best(chained)}")
    print(f"ratio     {rate / max(baseline):.2f} of baseline (goal ≥ 0.20); "
          f"{'meets' if rate >= 20_000 else 'MISSES'} the 20,000 events/s goal")  # fmt: skip


if __name__ == "__main__":
    main()
