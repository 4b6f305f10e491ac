"""The server's own cost of one catalogue read with nothing kept, without HTTP or a load generator.

The app as ``vardekedja serve`` builds it, over a data folder seeded by
``vardekedja demo``, is called in this process through ASGI: ``--requests`` times
GET /v1/catalogue as a buyer, each with a new ``max_unit_price_ore`` (above every
price), so every request is routed, validated and read from the views, as in
bench/api_throughput.py's "nothing kept". It prints the CPU time per request.

On a machine shared with other work, time is noisy; instructions are not. Count
them with cachegrind for two numbers of requests and divide the difference by
the difference in requests (start-up cancels out):

    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/catalogue_read.py --requests 100
    valgrind --tool=cachegrind --cache-sim=no .venv/bin/python bench/catalogue_read.py --requests 300
    # (I refs of the second - I refs of the first) / 200 = instructions per request

    .venv/bin/python bench/catalogue_read.py [--requests 3000] [--warmup 300]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import clean_environment, vardekedja  # noqa: E402

OPERATOR_KEY = "vk_benchoperator_" + "b" * 43


def seed(data_dir: Path) -> str:
    """Demo data in ``data_dir``; the buyer Botkyrkabyggen's API key."""
    env = clean_environment(data_dir, VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    printed = subprocess.run([vardekedja(), "demo"], env=env, capture_output=True, text=True, timeout=300, check=True)
    found = re.search(r"^  Botkyrkabyggen\s{2,}\S.*?\s{2,}(vk_\S+)$", printed.stdout, flags=re.MULTILINE)
    assert found is not None, printed.stdout
    os.environ.update({name: value for name, value in env.items() if name.startswith("VARDEKEDJA_")})
    return found.group(1)


async def run(requests: int, warmup: int, key: str) -> None:
    from vardekedja.api.app import serve_app

    app = serve_app()
    headers = [(b"host", b"127.0.0.1"), (b"accept", b"application/json"), (b"authorization", f"Bearer {key}".encode())]

    async def read(number: int) -> None:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
                 "path": "/v1/catalogue", "raw_path": b"/v1/catalogue", "root_path": "",
                 "query_string": f"max_unit_price_ore={999_000_000_000 + number}".encode(), "headers": headers,
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000), "state": {}}  # fmt: skip
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        assert sent[0]["status"] == 200, sent

    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    answers: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await lifespan.put({"type": "lifespan.startup"})
    running = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}},
                                      lifespan.get, answers.put))  # fmt: skip
    started = await answers.get()
    assert started["type"] == "lifespan.startup.complete", started
    for number in range(warmup):
        await read(number)
    cpu, wall = time.process_time(), time.perf_counter()
    for number in range(warmup, warmup + requests):
        await read(number)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    print(f"{requests} catalogue reads, nothing kept: {cpu / requests * 1e6:,.0f} µs of CPU per request "
          f"({wall / requests * 1e6:,.0f} µs wall)")  # fmt: skip
    await lifespan.put({"type": "lifespan.shutdown"})
    await running


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="requests measured")
    parser.add_argument("--warmup", type=int, default=50, help="requests before (the first fill caches)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vardekedja-bench-") as temporary:
        key = seed(Path(temporary) / "var")
        uvloop.run(run(args.requests, args.warmup, key))
    return 0


if __name__ == "__main__":
    sys.exit(main())
