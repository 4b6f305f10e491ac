"""A long Schemathesis run: every phase, every operation, as every role, over the demo world.

The same world, schema and checks as tests/api/test_schemathesis.py (no server
errors; status codes, content types and bodies as documented), with more
examples and the stateful phase, and a time budget per role: fuzzing and
stateful testing repeat until it is spent. Deterministic for a given seed and
budget. Exits 1 if anything failed.

    .venv/bin/python bench/schemathesis_long.py [--max-time 60] [--examples 100] [--roles operator,buyer]
    make fuzz
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.api.conftest import OPERATOR_KEY  # noqa: E402
from tests.api.fuzzing import ROLES, Report, build_schema, config, run, seed_world  # noqa: E402

PHASES = ("examples", "coverage", "fuzzing", "stateful")


def fuzz(role: str, examples: int, max_time: int) -> Report:
    with tempfile.TemporaryDirectory(prefix="vardekedja-fuzz-") as folder:
        world = seed_world(Path(folder), OPERATOR_KEY)
        try:
            return run(build_schema(world, role, config(max_examples=examples, phases=PHASES, max_time=max_time)), role)
        finally:
            world.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-time", type=int, default=60, help="seconds per role (default 60)")
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and round (default 100)")
    parser.add_argument("--roles", default=",".join(ROLES), help=f"comma-separated (default {','.join(ROLES)})")
    args = parser.parse_args()
    roles = [role for role in args.roles.split(",") if role]
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        parser.error(f"unknown roles {unknown}; there are {list(ROLES)}")
    print(f"{len(roles)} roles, phases {', '.join(PHASES)}, {args.examples} examples per operation, "
          f"up to {args.max_time}s per role", flush=True)  # fmt: skip
    started = time.perf_counter()
    reports = []
    for role in roles:
        report = fuzz(role, args.examples, args.max_time)
        reports.append(report)
        print(report.summary(), flush=True)
    failed = [report for report in reports if not report.passed]
    for report in failed:
        print(f"\n== {report.role}\n{report.details()}")
    print(f"\n{'FAILED' if failed else 'passed'} in {time.perf_counter() - started:.0f}s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
