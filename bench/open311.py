"""Open311 fault reports per second against a bare insert, measured in the same run.

- baseline: a bare FastAPI endpoint that inserts one SQLite row (WAL)
  (bench/baseline/sqlite_insert_app.py), as in api_throughput.py;
- report: POST /open311/v2/requests.json, form-encoded as GeoReport v2 clients
  send it, on ``vardekedja serve`` over a demo marketplace (the per-client rate
  limit raised out of the way: one address sends everything here).

Goal: a report at least 0.5 of the baseline's requests per second. One uvicorn
worker each, loaded over keep-alive connections by two generators, each against
both in the same run: ``wrk`` (installed from Debian when missing, as
api_throughput.py does) and this process's asyncio generator. The ratios come
first in the output, then the figures they come from.

    .venv/bin/python bench/open311.py [--duration 10] [--warmup 2] [--connections 16] [--generator both|wrk|python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlencode

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from api_throughput import OPERATOR_KEY, Measurement, baseline, ensure_wrk, measure, measure_wrk  # noqa: E402

from tests.e2e.server import HOST, ServerProcess, clean_environment, free_port, vardekedja  # noqa: E402


def form_request(path: str, port: int, fields: dict[str, str]) -> bytes:
    payload = urlencode(fields).encode()
    head = [f"POST {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json",
            "Content-Type: application/x-www-form-urlencoded", f"Content-Length: {len(payload)}"]  # fmt: skip
    return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


def form_script(path: str, fields: dict[str, str]) -> str:
    """A wrk Lua script posting the same form each time."""
    quoted = {name: json.dumps(value) for name, value in (("path", path), ("body", urlencode(fields)))}
    return "\n".join(['wrk.method = "POST"', f"wrk.path = {quoted['path']}", 'wrk.headers["Accept"] = "application/json"',
                      'wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"',
                      f"wrk.body = {quoted['body']}"]) + "\n"  # fmt: skip


def reports(folder: Path, args: argparse.Namespace) -> None:
    env = clean_environment(folder / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY,
                            VARDEKEDJA_REPORT_RATE_LIMIT="100000000/minute")  # fmt: skip
    subprocess.run([vardekedja(), "demo"], env=env, capture_output=True, text=True, timeout=120, check=True)
    port = free_port()
    argv = [vardekedja(), "serve", "--host", HOST, "--port", str(port), "--workers", "1"]
    with ServerProcess(argv, env=env, port=port, log=folder / "server.log") as server:
        server.wait_until_ready()
        assets = httpx.get(f"{server.url}/v1/assets", headers={"Authorization": f"Bearer {OPERATOR_KEY}"},
                           timeout=10).json()["items"]  # fmt: skip
        if not assets:
            raise RuntimeError("the demo marketplace has no delivered piece to report on")
        fields = {"service_code": "damage", "description": "En lös ribba i sitsen",
                  "attribute[asset]": assets[0]["code"], "jurisdiction_id": "botkyrka.se",
                  "lat": "59.2466", "long": "17.8241"}  # fmt: skip
        name = "report: POST /open311/v2/requests.json"
        if args.wrk:
            args.results["wrk", "report"] = measure_wrk(name + " [wrk]", server,
                                                        form_script("/open311/v2/requests.json", fields), args, folder)
        if args.python:
            args.results["python", "report"] = measure(name, server, form_request("/open311/v2/requests.json", port,
                                                                                 fields), 201, args)  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--generator", choices=["both", "wrk", "python"], default="both",
                        help="wrk, this script's asyncio generator, or both (default)")  # fmt: skip
    args = parser.parse_args()
    args.python = args.generator in ("both", "python")
    args.wrk = ensure_wrk() if args.generator in ("both", "wrk") else None
    args.results = {}
    print(f"{args.connections} keep-alive connections, {args.warmup:g}s warm-up, {args.duration:g}s measured; "
          f"one uvicorn worker each on SQLite; generators: {args.generator}\n")  # fmt: skip
    print(f"{'':46} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'cpu ms':>7} {'client':>7} {'errors':>7}")
    with tempfile.TemporaryDirectory(prefix="vardekedja-open311-") as temporary:
        folder = Path(temporary)
        baseline(folder, args)
        reports(folder, args)
    results, lines, failed = args.results, [], []
    for generator in ("wrk", "python"):
        if (generator, "baseline") not in results:
            continue
        bare, report = results[generator, "baseline"], results[generator, "report"]
        ratio = report.rate / bare.rate
        lines.append(f"{ratio:.2f} × the bare insert under {generator:6} ({report.rate:,.0f} reports/s against "
                     f"{bare.rate:,.0f} inserts/s): {'meets' if ratio >= 0.5 else 'MISSES'} the goal of 0.5")  # fmt: skip
        failed += [m for m in (bare, report) if (m.unexpected if isinstance(m, Measurement) else m.errors)]
    print("\nratios to the bare insert, same run, same generator (the figures above):")
    print("\n".join(lines))
    for m in failed:
        print(f"unexpected answers from {m.name}: {dict(m.unexpected) if isinstance(m, Measurement) else m.errors}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
