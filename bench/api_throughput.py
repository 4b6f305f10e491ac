"""Requests per second and latency of the HTTP API: one uvicorn worker on SQLite, 16 connections.

Measured in the same run, one after the other, each over real loopback HTTP/1.1
keep-alive connections after a warm-up, by two load generators: ``wrk`` (an
independent C load generator, the Debian package, installed when missing) and
this script's own asyncio generator. Each endpoint is measured by both on the
same server, so every ratio compares figures from one run and one generator:

- baseline: a bare FastAPI endpoint that inserts one SQLite row (WAL), served the
  same way (bench/baseline/sqlite_insert_app.py);
- command: POST /v1/orders, a buyer placing an order (``vardekedja serve`` on a
  fresh data folder seeded by ``vardekedja demo``);
- read: GET /v1/catalogue, the first page of published designs (after the first
  request it is answered from memory until the catalogue changes);
- read, nothing kept: the same page under a new query string each time
  (``max_unit_price_ore`` counting up, above every price), so every request is
  routed, validated and read from the views.

Goals, under wrk: placing an order at least 0.5 of the bare insert with p99 at
most 50 ms; the catalogue read with nothing kept at least 0.6 of the bare insert.
(Earlier goals, for the asyncio generator: the command at least 1,000 requests/s
and 40 % of the baseline; the catalogue at least 2,000 requests/s.)

    .venv/bin/python bench/api_throughput.py [--duration 10] [--warmup 2] [--connections 16] [--generator both]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


@dataclass
class WrkResult:
    name: str
    rate: float
    p50: float
    p99: float
    errors: int
    server_cpu_ms: float | None = None  # the server process's CPU time per request

    def row(self) -> str:
        cpu = f"{self.server_cpu_ms:7.2f}" if self.server_cpu_ms is not None else f"{'-':>7}"
        return f"{self.name:46} {self.rate:9,.0f} {self.p50:8.1f} {self.p99:8.1f} {cpu} {'':>7} {self.errors:7}"


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian (apt-get update first) when missing."""
    found = shutil.which("wrk")
    if found is None:
        print("installing wrk (Debian package) ...", flush=True)
        subprocess.run(["apt-get", "update", "-qq"], check=True, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})  # fmt: skip
        found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not installed and could not be installed")
    return found


def _lua_string(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid Lua string literal for this ASCII-safe text


def wrk_script(method: str, path: str, *, key: str | None = None, body: object = None,
               counting_query: str | None = None) -> str:  # fmt: skip
    """A wrk Lua script: one fixed request, or a GET whose query parameter counts up (nothing kept)."""
    lines = [f"wrk.method = {_lua_string(method)}", f"wrk.path = {_lua_string(path)}",
             'wrk.headers["Accept"] = "application/json"']  # fmt: skip
    if key:
        lines.append(f'wrk.headers["Authorization"] = {_lua_string("Bearer " + key)}')
    if body is not None:
        lines += ['wrk.headers["Content-Type"] = "application/json"',
                  f"wrk.body = {_lua_string(json.dumps(body, ensure_ascii=True))}"]  # fmt: skip
    if counting_query:
        lines += ["counter = 999000000000 + math.random(0, 1000000) * 1000",
                  "request = function()",
                  "  counter = counter + 1",
                  f'  return wrk.format(nil, {_lua_string(path + "?" + counting_query + "=")} .. '
                  'string.format("%d", counter))',
                  "end"]  # fmt: skip
    return "\n".join(lines) + "\n"


def _milliseconds(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def measure_wrk(name: str, server: ServerProcess, script: str, args: argparse.Namespace, folder: Path) -> WrkResult:
    """Warm up, then load the server with wrk -t1 -c<connections> for ``args.duration`` seconds."""
    path = folder / f"wrk-{re.sub(r'[^a-z]+', '-', name.lower())[:40]}.lua"
    path.write_text(script, encoding="utf-8")
    base = [args.wrk, "-t1", f"-c{args.connections}", "--latency", "-s", str(path), server.url]
    subprocess.run([*base[:1], f"-d{max(1, round(args.warmup))}s", *base[1:]], capture_output=True, check=True)
    assert server.process is not None
    before = _cpu_seconds(server.process.pid)
    done = subprocess.run([*base[:1], f"-d{round(args.duration)}s", *base[1:]], capture_output=True, text=True,
                          check=True).stdout  # fmt: skip
    after = _cpu_seconds(server.process.pid)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done).group(1))  # type: ignore[union-attr]
    percentiles = dict(re.findall(r"^\s+(\d+)%\s+(\S+)\s*$", done, flags=re.MULTILINE))  # "1.51s " ends in a space
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", done)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", done)
    failed = (int(errors.group(1)) if errors else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    requests = int(re.search(r"(\d+) requests in", done).group(1))  # type: ignore[union-attr]
    cpu = (after - before) * 1000 / requests if before is not None and after is not None and requests else None
    result = WrkResult(name, rate, _milliseconds(percentiles["50"]), _milliseconds(percentiles["99"]), failed, cpu)
    print(result.row(), flush=True)
    return result


def baseline(folder: Path, args: argparse.Namespace) -> Measurement:
    port = free_port()
    env = clean_environment(folder / "var", BASELINE_SQLITE=str(folder / "rows.sqlite3"))
    argv = [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "bench" / "baseline"),
            "sqlite_insert_app:create_app", "--factory", "--host", HOST, "--port", str(port),
            "--loop", "uvloop", "--http", "httptools", "--workers", "1"]  # fmt: skip
    with ServerProcess(argv, env=env, port=port, log=folder / "baseline.log") as server:
        server.wait_until_ready("/docs")
        row = {"name": "Parkbänk Fittja", "quantity": 1}
        name = "baseline: bare FastAPI, one SQLite insert (WAL)"
        if args.wrk:
            args.results["wrk", "baseline"] = measure_wrk(name, server, wrk_script("POST", "/rows", body=row), args,
                                                          folder)  # fmt: skip
        if args.python:
            args.results["python", "baseline"] = measure(name, server, request("POST", "/rows", port, body=row),
                                                         201, args)  # fmt: skip
        return args.results.get(("python", "baseline"))


def marketplace(folder: Path, args: argparse.Namespace) -> tuple[Any, Any, Any]:
    env = clean_environment(folder / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
    printed = subprocess.run([vardekedja(), "demo"], env=env, capture_output=True, text=True, timeout=120, check=True)
    keys = re.findall(r"^  (\S.*?)\s{2,}(\S.*?)\s{2,}(vk_\S+)$", printed.stdout, flags=re.MULTILINE)  # name, role, key
    buyer = {name: key for name, _role, key in keys}["Botkyrkabyggen"]
    port = free_port()
    argv = [vardekedja(), "serve", "--host", HOST, "--port", str(port), "--workers", "1"]
    with ServerProcess(argv, env=env, port=port, log=folder / "server.log") as server:
        server.wait_until_ready()
        found = httpx.get(f"{server.url}/v1/catalogue", params={"q": "Parkbänk"},
                          headers={"Authorization": f"Bearer {buyer}"}, timeout=10).json()  # fmt: skip
        design = found["items"][0]["id"]
        order = {"delivery_site": SITE, "install": True, "lines": [{"design_id": design, "quantity": 1}]}
        steps = [
            ("command", "command: POST /v1/orders (place an order)", 201,
             wrk_script("POST", "/v1/orders", key=buyer, body=order),
             request("POST", "/v1/orders", port, key=buyer, body=order)),
            ("read", "read: GET /v1/catalogue (first page)", 200, wrk_script("GET", "/v1/catalogue", key=buyer),
             request("GET", "/v1/catalogue", port, key=buyer)),
            ("uncached", "read, nothing kept: a new query each time", 200,
             wrk_script("GET", "/v1/catalogue", key=buyer, counting_query="max_unit_price_ore"),
             lambda: request("GET", f"/v1/catalogue?max_unit_price_ore={next(queries)}", port, key=buyer)),
        ]  # fmt: skip
        queries = itertools.count(10**12 - 10**9)
        for step, name, status, script, raw in steps:
            if args.wrk:
                args.results["wrk", step] = measure_wrk(name + " [wrk]", server, script, args, folder)
            if args.python:
                args.results["python", step] = measure(name, server, raw, status, args)
            if step == "command":
                caught_up = _wait_for_views(server)
                print(f"{'':46} (views caught up with the orders {caught_up:.1f}s after the load stopped)",
                      flush=True)  # fmt: skip
        command, read, uncached = (args.results.get(("python", step)) for step in ("command", "read", "uncached"))
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
    parser.add_argument("--generator", choices=["both", "wrk", "python"], default="both",
                        help="wrk, this script's asyncio generator, or both (default)")  # fmt: skip
    args = parser.parse_args()
    args.python = args.generator in ("both", "python")
    args.wrk = ensure_wrk() if args.generator in ("both", "wrk") else None
    args.results = {}
    print(f"{args.connections} keep-alive connections, {args.warmup:g}s warm-up, {args.duration:g}s measured; "
          f"one uvicorn worker (uvloop, httptools) on SQLite; generators on the same two cores: "
          f"{args.generator}\n")  # fmt: skip
    print(f"{'':46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7} {'client':>7} {'errors':>7}")
    with tempfile.TemporaryDirectory(prefix="vardekedja-bench-") as temporary:
        folder = Path(temporary)
        baseline(folder, args)
        marketplace(folder, args)
    print("\n(cpu ms: the server process's CPU time per request; client: the load generator's share of one core)\n")
    results = args.results
    print("ratios to the bare insert, same run, same generator:")
    for generator in ("wrk", "python"):
        if (generator, "baseline") not in results:
            continue
        bare = results[generator, "baseline"].rate
        ratios = ", ".join(f"{step} {results[generator, step].rate / bare:.2f}"
                           for step in ("command", "read", "uncached"))  # fmt: skip
        print(f"  {generator:6} {ratios}")
    goals = []
    if ("wrk", "baseline") in results:
        bare, command, uncached = (results["wrk", step] for step in ("baseline", "command", "uncached"))
        goals += [
            ("wrk: order ≥ 0.5 of the bare insert", command.rate >= 0.5 * bare.rate, f"{command.rate / bare.rate:.2f}"),
            ("wrk: order p99 ≤ 50 ms", command.p99 <= 50, f"{command.p99:.1f} ms"),
            ("wrk: catalogue, nothing kept, ≥ 0.6 of the bare insert", uncached.rate >= 0.6 * bare.rate,
             f"{uncached.rate / bare.rate:.2f}"),
        ]  # fmt: skip
    if ("python", "baseline") in results:
        bare, command, read = (results["python", step] for step in ("baseline", "command", "read"))
        goals += [
            ("python: order ≥ 0.4 of the bare insert", command.rate >= 0.4 * bare.rate,
             f"{command.rate / bare.rate:.2f}"),
            ("python: order p99 ≤ 50 ms", command.percentile(0.99) <= 50, f"{command.percentile(0.99):.1f} ms"),
            ("python: catalogue ≥ 2,000 req/s", read.rate >= 2_000, f"{read.rate:,.0f}"),
        ]  # fmt: skip
    for goal, met, value in goals:
        print(f"{'meets ' if met else 'MISSES'} {goal:55} {value}")
    failed = [m for m in results.values() if (m.unexpected if isinstance(m, Measurement) else m.errors)]
    for measurement in failed:
        print(f"unexpected answers from {measurement.name}: "
              f"{dict(measurement.unexpected) if isinstance(measurement, Measurement) else measurement.errors}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
