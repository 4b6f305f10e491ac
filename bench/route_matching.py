"""Route matching with the guards in front of the included routers, against the routes as declared, same run.

The baseline is FastAPI's own matching over the app's routes as declared (every
included router asked in turn); the measured figure is the same request matched
through the guards (api/route_guards.py). Both choose the same route (a test
checks that); the ratio is how many times faster the guarded table finds it.

    .venv/bin/python bench/route_matching.py [--rounds 3000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.routing import BaseRoute, Match

from vardekedja.api.route_guards import declared_routes
from vardekedja.settings import Settings
from vardekedja.web import create_web_app

REQUESTS = [("POST", "/open311/v2/requests.json"), ("POST", "/v1/orders"), ("GET", "/catalogue"),
            ("GET", "/a/ABCD2345"), ("GET", "/nothing-here")]  # fmt: skip


def match(routes: list[BaseRoute], scope: dict[str, Any]) -> int | None:
    """The index of the entry that takes the request, as the app's router picks it (the first full match)."""
    for index, route in enumerate(routes):
        found, _ = route.matches(scope)
        if found is Match.FULL:
            return index
    return None


def microseconds(routes: list[BaseRoute], method: str, path: str, rounds: int) -> float:
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": [], "query_string": b""}
    started = time.perf_counter()
    for _ in range(rounds):
        match(routes, dict(scope))
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        app = create_web_app(Settings(data_dir=Path(folder), database_url=None))
        declared, guarded = declared_routes(app), app.router.routes
        print(f"{len(declared)} entries in the app's routes; {args.rounds} matches of each request\n")
        print(f"{'request':36} {'guarded, × faster':>18} {'declared µs':>12} {'guarded µs':>11}")
        for method, path in REQUESTS:
            scope = {"type": "http", "method": method, "path": path, "root_path": ""}
            assert match(guarded, dict(scope)) == match(declared, dict(scope)), (method, path)
            before = microseconds(declared, method, path, args.rounds)
            after = microseconds(guarded, method, path, args.rounds)
            print(f"{method + ' ' + path:36} {before / after:17.1f}× {before:12.1f} {after:11.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
