"""Requests per second and latency of the HTTP API: one uvicorn worker on SQLite, 16 connections.

Measured in the same run, one after the other, each over real loopback HTTP/1.1
keep-alive connections after a warm-up:

- baseline: a bare FastAPI endpoint that inserts one SQLite row (WAL), served the
  same way (bench/baseline/sqlite_insert_app.py);
- command: POST /v1/orders, a buyer placing an order (``vardekedja serve`` on a
  fresh data folder seeded by ``vardekedja demo``);
- read: GET /v1/catalogue, the first page of published designs (after the first
  request it is answered from memory until the catalogue changes);
- read, nothing kept: the same page under a new query string each time
  (``max_unit_price_ore`` counting up, above every price), so every request is
  routed, validated and read from the views.

Goals: the command at least 1,000 requests/s with p99 at most 50 ms and at least
40 % of the baseline; the catalogue at least 2,000 requests/s.

    .venv/bin/python bench/api_throughput.py [--duration 10] [--warmup 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import uvloop

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import HOST, ServerProcess, clean_environment, free_port, vardekedja  # noqa: E402

OPERATOR_KEY = "vk_benchoperator_" + "b" * 43
SITE = {"name": "Fittja gård 3", "street": "Krögarvägen 12", "postal_code": "145 57", "municipality": "Botkyrka"}


@dataclass
class Measurement:
    name: str
    seconds: float
    latencies: list[float] = field(default_factory=list)
    unexpected: Counter[int] = field(default_factory=Counter)
    server_cpu_seconds: float | None = None
    client_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000

    def row(self) -> str:
        cpu = (f"{self.server_cpu_seconds / len(self.latencies) * 1000:7.2f}"
               if self.server_cpu_seconds is not None and self.latencies else "      -")  # fmt: skip
        client = f"{self.client_cpu_seconds / self.seconds:7.0%}"
        errors = sum(self.unexpected.values())
        return (f"{self.name:46} {self.rate:9,.0f} {self.percentile(0.50):8.1f} {self.percentile(0.99):8.1f} "
                f"{cpu} {client} {errors:7}")  # fmt: skip


def request(method: str, path: str, port: int, *, key: str | None = None, body: object = None) -> bytes:
    """One HTTP/1.1 keep-alive request, ready to send again and again."""
    payload = json.dumps(body).encode() if body is not None else b""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json"]
    if key:
        lines.append(f"Authorization: Bearer {key}")
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


async def _response(reader: asyncio.StreamReader) -> int:
    """Read one response; return its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    if length:
        await reader.readexactly(int(length.group(1)))
    elif re.search(rb"(?im)^transfer-encoding:\s*chunked", head):
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


Request = bytes | Callable[[], bytes]


async def _load(port: int, raw: Request, expect: int, seconds: float, connections: int, into: Measurement) -> None:
    stop_at = time.perf_counter() + seconds

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(HOST, port)
        try:
            while time.perf_counter() < stop_at:
                started = time.perf_counter()
                writer.write(raw if isinstance(raw, bytes) else raw())
                status = await _response(reader)
                into.latencies.append(time.perf_counter() - started)
                if status != expect:
                    into.unexpected[status] += 1
        finally:
            writer.close()

    await asyncio.gather(*(connection() for _ in range(connections)))


def _cpu_seconds(pid: int) -> float | None:
    """User plus system CPU time of a process so far (Linux), to tell a busy server from a waiting one."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(name: str, server: ServerProcess, raw: Request, expect: int, args: argparse.Namespace) -> Measurement:
    """Warm up, then load the server with ``raw`` from ``args.connections`` connections for ``args.duration``."""
    uvloop.run(_load(server.port, raw, expect, args.warmup, args.connections, Measurement(name, args.warmup)))
    assert server.process is not None
    before = _cpu_seconds(server.process.pid)
    measurement = Measurement(name, args.duration)
    started, client_started = time.perf_counter(), time.process_time()
    uvloop.run(_load(server.port, raw, expect, args.duration, args.connections, measurement))
    measurement.seconds = time.perf_counter() - started
    measurement.client_cpu_seconds = time.process_time() - client_started
    after = _cpu_seconds(server.process.pid)
    if before is not None and after is not None:
        measurement.server_cpu_seconds = after - before
    print(measurement.row(), flush=True)
    return measurement


def baseline(folder: Path, args: argparse.Namespace) -> Measurement:
    port = free_port()
    env = clean_environment(folder / "var", BASELINE_SQLITE=str(folder / "rows.sqlite3"))
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench" / "baseline"),
            "sqlite_insert_app:create_app", "--factory", "--host", HOST, "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--workers", "1"]  # fmt: skip
    with ServerProcess(argv, env=env, port=port, log=folder / "baseline.log") as server:
        server.wait_until_ready("/docs")
        raw = request("POST", "/rows", port, body={"name": "Parkbänk Fittja", "quantity": 1})
        return measure("baseline: bare FastAPI, one SQLite insert (WAL)", server, raw, 201, args)


def marketplace(folder: Path, args: argparse.Namespace) -> tuple[Measurement, Measurement, Measurement]:
    env = clean_environment(folder / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    printed = subprocess.run([vardekedja(), "demo"], env=env, capture_output=True, text=True, timeout=120, check=True)
    buyer = dict(re.findall(r"^\s+(\S.*?)\s+(vk_\S+)$", printed.stdout, flags=re.MULTILINE))["Botkyrkabyggen"]
    port = free_port()
    argv = [vardekedja(), "serve", "--host", HOST, "--port", str(port), "--workers", "1"]
    with ServerProcess(argv, env=env, port=port, log=folder / "server.log") as server:
        server.wait_until_ready()
        found = httpx.get(f"{server.url}/v1/catalogue", params={"q": "Parkbänk"},
                          headers={"Authorization": f"Bearer {buyer}"}, timeout=10).json()  # fmt: skip
        design = found["items"][0]["id"]
        order = {"delivery_site": SITE, "install": True, "lines": [{"design_id": design, "quantity": 1}]}
        command = measure("command: POST /v1/orders (place an order)", server,
                          request("POST", "/v1/orders", port, key=buyer, body=order), 201, args)  # fmt: skip
        caught_up = _wait_for_views(server)
        print(f"{'':46} (views caught up with the orders {caught_up:.1f}s after the load stopped)", flush=True)
        read = measure("read: GET /v1/catalogue (first page)", server,
                       request("GET", "/v1/catalogue", port, key=buyer), 200, args)  # fmt: skip
        queries = itertools.count(10**12 - 10**9)
        uncached = measure("read, nothing kept: a new query each time", server,
                           lambda: request("GET", f"/v1/catalogue?max_unit_price_ore={next(queries)}", port,
                                           key=buyer), 200, args)  # fmt: skip
    return command, read, uncached


def _wait_for_views(server: ServerProcess, timeout: float = 300.0) -> float:
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        ready = httpx.get(f"{server.url}/readyz", timeout=10).json()
        if ready["views_position"] >= ready["event_store_position"]:
            return time.perf_counter() - started
        time.sleep(0.1)
    raise RuntimeError(f"the views did not catch up within {timeout:.0f}s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each")
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    print(f"{args.connections} keep-alive connections, {args.warmup:g}s warm-up, {args.duration:g}s measured; "
          f"one uvicorn worker (uvloop, httptools) on SQLite, load generator in this process\n")  # fmt: skip
    print(f"{'':46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7} {'client':>7} {'errors':>7}")
    with tempfile.TemporaryDirectory(prefix="vardekedja-bench-") as temporary:
        folder = Path(temporary)
        bare = baseline(folder, args)
        command, read, uncached = marketplace(folder, args)
    print("\n(cpu ms: the server process's CPU time per request; client: the load generator's share of one core)\n")
    goals = [
        ("command ≥ 1,000 req/s", command.rate >= 1_000, f"{command.rate:,.0f}"),
        ("command p99 ≤ 50 ms", command.percentile(0.99) <= 50, f"{command.percentile(0.99):.1f} ms"),
        ("command ≥ 40 % of the bare insert", command.rate >= 0.4 * bare.rate, f"{command.rate / bare.rate:.0%}"),
        ("catalogue ≥ 2,000 req/s", read.rate >= 2_000, f"{read.rate:,.0f}"),
    ]
    for goal, met, value in goals:
        print(f"{'meets ' if met else 'MISSES'} {goal:36} {value}")
    failed = [measurement for measurement in (bare, command, read, uncached) if measurement.unexpected]
    for measurement in failed:
        print(f"unexpected statuses from {measurement.name}: {dict(measurement.unexpected)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
