"""Throughput of the audit export and of offline verification over a long history on SQLite.

Baseline, measured in the same run over the same events: the SHA-256 chain
alone (``hashlib``), over the canonical bytes of every event encoded
beforehand. That is the least any verifier must do; the rest of ``verify_file``
is reading the JSON Lines, re-encoding each event and checking the money.
Goal: ``verify_file`` at least 50,000 events/s.

    .venv/bin/python bench/audit_throughput.py [--events 100000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))

from workload import generate  # noqa: E402

from vardekedja.audit.encoding import GENESIS, canonical  # noqa: E402
from vardekedja.audit.log import export, verify_file  # noqa: E402
from vardekedja.projections.projector import Projector  # noqa: E402
from vardekedja.runtime import Runtime  # noqa: E402
from vardekedja.settings import Settings  # noqa: E402

GOAL = 50_000


def best_of(repeat: int, work: Callable[[], Any]) -> tuple[float, Any]:
    """The shortest of ``repeat`` runs, and what the last one returned."""
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - started)
    return min(times), result


def encoded_events(path: Path) -> list[tuple[bytes, str]]:
    """Every event of an export as its canonical bytes and recorded hash (encoded outside any timing)."""
    found = []
    with path.open(encoding="utf-8") as handle:
        handle.readline()
        for line in handle:
            item = json.loads(line)
            if "event" in item:
                e = item["event"]
                found.append((canonical(e["position"], e["stream_id"], e["version"], e["type"], e["time"], e["data"]),
                              e["hash"]))  # fmt: skip
    return found


def hash_chain(encoded: list[tuple[bytes, str]]) -> str:
    """The baseline: chain SHA-256 over the pre-encoded bytes, as the verifier must, with nothing else."""
    sha256, previous = hashlib.sha256, GENESIS
    for data, _ in encoded:
        previous = sha256(previous.encode() + data).hexdigest()
    return previous


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="Runs of each timed step; the best counts.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder) / "data", database_url=None, embedded_projector=False)
        runtime = Runtime(settings)
        try:
            started = time.perf_counter()
            head = generate(runtime.marketplace, args.events)
            print(f"history: {head:,} events generated in {time.perf_counter() - started:.1f}s")

            chainer = Projector(runtime.marketplace, runtime.database, [], followers=[runtime.chain])
            chain_seconds, chained = best_of(1, chainer.catch_up)
            assert chained == head, (chained, head)

            path = Path(folder) / "export.jsonl"

            def write_export() -> tuple[int, int]:
                with path.open("w", encoding="utf-8") as out:
                    return export(runtime.audited_log, out)

            export_seconds, (written, checkpoints) = best_of(args.repeat, write_export)
            assert written == head, (written, head)
            size = path.stat().st_size

            verify_seconds, report = best_of(args.repeat, lambda: verify_file(path, None))
            assert report.ok and report.events_checked == head, report.as_dict()

            encoded = encoded_events(path)
            baseline_seconds, last = best_of(args.repeat, lambda: hash_chain(encoded))
            assert last == encoded[-1][1] == report.head_hash, "the baseline must compute the same chain"
        finally:
            runtime.close()

    rows = [
        ("baseline: hashlib sha256 chain over pre-encoded bytes", baseline_seconds),
        ("chain as recorded by the projector (read, encode, hash, insert)", chain_seconds),
        (f"export to JSON Lines ({size / 2**20:,.0f} MiB, {checkpoints} checkpoints)", export_seconds),
        ("verify_file: chain + checkpoints + money, offline", verify_seconds),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"\n{'step':<{width}}  {'seconds':>8}  {'events/s':>10}  {'× baseline':>10}")
    for name, seconds in rows:
        print(f"{name:<{width}}  {seconds:8.2f}  {head / seconds:10,.0f}  {baseline_seconds / seconds:10.2f}")
    rate = head / verify_seconds
    print(f"\n{head:,} events, best of {args.repeat}; verify_file {rate:,.0f} events/s: "
          f"{'meets' if rate >= GOAL else 'MISSES'} the {GOAL:,} events/s goal")  # fmt: skip


if __name__ == "__main__":
    main()
