"""A request authenticated by a session against the same request authenticated by an API key, same run.

``vardekedja serve`` (one worker, SQLite) on a fresh data folder; a buyer
organisation with an API key, and a member of it who joined through the invite
page and signed in. Then GET /v1/me, over and over on keep-alive connections,
alternately with ``Authorization: Bearer <key>`` (the baseline) and with the
session cookie, several rounds each, with wrk (16 connections, one thread).
The ratio is session time per request over key time per request (median over
rounds); the goal is at most 1.10. Beside it, the server's CPU time per request
(from /proc), which a machine shared with other work disturbs far less than
throughput. The same comparison in process follows
(httpx over the ASGI app, no network, one request at a time), since wrk and an
in-process loader have given different ratios on these machines.

    .venv/bin/python bench/session_requests.py [--duration 5] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja  # noqa: E402

OPERATOR_KEY = "vk_benchoperator_" + "b" * 43
PASSWORD = "kvarnstugan mot ängen 17"
GOAL = 1.10


def prepare(server: ServerProcess) -> tuple[str, str]:
    """(the buyer's API key, a signed-in member's session cookie)."""
    operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
    with httpx.Client(base_url=server.url, timeout=30.0, follow_redirects=True) as client:
        created = client.post("/v1/organisations", headers=operator, json={
            "name": "Botkyrkabyggen", "role": "buyer", "org_number": "556036-0793", "municipality": "Botkyrka"})
        created.raise_for_status()
        organisation, key = created.json()["id"], created.json()["api_key"]
        invited = client.post(f"/v1/organisations/{organisation}/people", headers=operator,
                              json={"name": "Anna Berg", "email": "anna@example.se"})  # fmt: skip
        invited.raise_for_status()
        path = invited.json()["invite_url"].removeprefix(server.url)
        page = client.get(path).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        client.post(path, data={"password": PASSWORD, "csrf_token": token.group(1)}).raise_for_status()
        session = client.cookies["vardekedja_session"]
        assert client.get("/v1/me").status_code == 200
    return key, session


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(url: str, header: str, seconds: int, connections: int, pid: int | None = None) -> tuple[float, float, float]:
    """(requests per second, p99 in ms, server CPU ms per request) for GET ``url`` with one extra header."""
    cpu_before = cpu_seconds(pid) if pid is not None else 0.0
    done = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-H", header, url],
                          capture_output=True, text=True, check=True)  # fmt: skip
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", done.stdout).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", done.stdout)
    assert p99 is not None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    if non_2xx:
        raise RuntimeError(f"{non_2xx.group(1)} requests failed:\n{done.stdout}")
    total = int(re.search(r"(\d+) requests in", done.stdout).group(1))  # type: ignore[union-attr]
    cpu = (cpu_seconds(pid) - cpu_before) / total * 1000 if pid is not None else 0.0
    return rate, float(p99.group(1)) * scale, cpu


def in_process(key: str, session: str, data_dir: Path, requests: int, rounds: int) -> dict[str, list[float]]:
    """Seconds per request for GET /v1/me through the ASGI app in this process, interleaved rounds."""
    import asyncio

    from vardekedja.api import create_app
    from vardekedja.runtime import Runtime
    from vardekedja.settings import Settings

    async def run() -> dict[str, list[float]]:
        runtime = Runtime(Settings(data_dir=data_dir, operator_key=OPERATOR_KEY))
        app = create_app(runtime=runtime)
        times: dict[str, list[float]] = {"API key": [], "session": []}
        headers = {"API key": {"Authorization": f"Bearer {key}"},
                   "session": {"Cookie": f"vardekedja_session={session}"}}  # fmt: skip
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
                for name in headers:  # warm-up
                    for _ in range(200):
                        assert (await client.get("/v1/me", headers=headers[name])).status_code == 200
                for _ in range(rounds):
                    for name, sent in headers.items():
                        started = time.perf_counter()
                        for _ in range(requests):
                            await client.get("/v1/me", headers=sent)
                        times[name].append((time.perf_counter() - started) / requests)
        runtime.close()
        return times

    return asyncio.run(run())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--requests", type=int, default=2000, help="per round, in process")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        env = clean_environment(Path(folder) / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY)
        subprocess.run([vardekedja(), "init"], env=env, capture_output=True, check=True)
        port = free_port()
        with ServerProcess([vardekedja(), "serve", "--host", "127.0.0.1", "--port", str(port)], env=env,
                           port=port, log=Path(folder) / "server.log") as server:  # fmt: skip
            server.wait_until_ready()
            key, session = prepare(server)
            url = server.url + "/v1/me"
            headers = {"API key": f"Authorization: Bearer {key}", "session": f"Cookie: vardekedja_session={session}"}
            for header in headers.values():  # warm-up
                wrk(url, header, 1, args.connections)
            results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in headers}
            assert server.process is not None
            for _ in range(args.rounds):
                for name, header in headers.items():
                    results[name].append(wrk(url, header, args.duration, args.connections, server.process.pid))
                    time.sleep(0.2)
        # The server has stopped: the same data folder, now in this process.
        local = in_process(key, session, Path(folder) / "var", args.requests, args.rounds)
    rates = {name: statistics.median(rate for rate, _, _ in runs) for name, runs in results.items()}
    cpus = {name: statistics.median(cpu for _, _, cpu in runs) for name, runs in results.items()}
    ratio = rates["API key"] / rates["session"]  # time per request, session over key
    cpu_ratio = cpus["session"] / cpus["API key"]
    print(f"ratio {ratio:.3f} (wrk: session / API key, time per request; goal ≤ {GOAL:.2f}) "
          f"{'met' if ratio <= GOAL else 'NOT met'}; server CPU per request {cpu_ratio:.3f} "
          f"{'met' if cpu_ratio <= GOAL else 'NOT met'}")
    print(f"{'GET /v1/me, wrk -t1 -c' + str(args.connections):28} {'req/s (median)':>15} {'CPU ms/req':>11} "
          f"{'p99 ms per round':>24}")
    for name, runs in results.items():
        print(f"{name:28} {rates[name]:15,.0f} {cpus[name]:11.3f} "
              f"{'  '.join(f'{p99:6.1f}' for _, p99, _ in runs):>24}")
    print("rounds (req/s): " + "; ".join(f"{name}: " + ", ".join(f"{r:,.0f}" for r, _, _ in runs)
                                         for name, runs in results.items()))  # fmt: skip
    local_ratio = statistics.median(local["session"]) / statistics.median(local["API key"])
    print(f"in process: ratio {local_ratio:.3f} (goal ≤ {GOAL:.2f}) {'met' if local_ratio <= GOAL else 'NOT met'}; "
          + "; ".join(f"{name} {statistics.median(t) * 1e6:,.0f} µs per request" for name, t in local.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
