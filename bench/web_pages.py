"""The web UI's catalogue page beside the JSON catalogue, and what a design page weighs on first view.

Measured in the same run against one ``vardekedja serve`` worker on SQLite seeded by
``vardekedja demo`` (with its pictures), with wrk over 16 keep-alive connections,
the two endpoints taking turns (``--rounds`` of each):

- baseline: GET /v1/catalogue, the first page, as a buyer's API key reads it;
- GET /catalogue, the first page of the HTML catalogue (Swedish, no cookies).

Goals: the HTML page at least 0.6 of the JSON page's requests per second, p99 at
most 50 ms. Then a design page's first view: the HTML and everything it loads
(stylesheet, htmx, pictures), fetched as a browser with an empty cache would,
at most 200 KB.

    .venv/bin/python bench/web_pages.py [--duration 10] [--rounds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja  # noqa: E402

BUYER = "Botkyrkabyggen"
PAGE_BUDGET = 200 * 1024


def wrk(url: str, seconds: int, connections: int, headers: dict[str, str]) -> tuple[float, float]:
    """(requests per second, p99 in ms) as wrk measures them; fails on any non-2xx answer."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run([*argv, url], capture_output=True, text=True, check=True).stdout
    assert "Non-2xx" not in out, out
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
    return rate, float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def first_view(base: str, path: str) -> tuple[int, dict[str, int]]:
    """Bytes of a page and of everything it loads, as an empty browser cache would fetch them."""
    with httpx.Client(base_url=base) as client:
        html = client.get(path).text
        sizes = {path: len(html.encode())}
        for url in re.findall(r'(?:href|src)="(/(?:static|v1)/[^"]+)"', html):
            if url.endswith(("size=large",)):
                continue  # a link to the large picture, not loaded by the page
            response = client.get(url.replace("&amp;", "&"))
            assert response.status_code == 200, url
            sizes[url] = len(response.content)
    return sum(sizes.values()), sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder)
        env = clean_environment(data)
        subprocess.run([vardekedja(), "init"], env=env, check=True, capture_output=True)
        demo = subprocess.run([vardekedja(), "demo"], env=env, check=True, capture_output=True, text=True).stdout
        key = re.search(rf"^\s+{BUYER}\s+buyer\s+(vk_\S+)\s*$", demo, re.MULTILINE).group(1)  # type: ignore[union-attr]
        port = free_port()
        with ServerProcess([vardekedja(), "serve", "--port", str(port)], env=env, port=port,
                           log=data / "serve.log") as server:  # fmt: skip
            server.wait_until_ready()
            json_headers = {"Authorization": f"Bearer {key}"}
            targets = {"GET /v1/catalogue (JSON, baseline)": (server.url + "/v1/catalogue", json_headers),
                       "GET /catalogue (HTML)": (server.url + "/catalogue", {})}  # fmt: skip
            for url, headers in targets.values():  # warm up: the first answer is read, later ones kept
                wrk(url, 2, args.connections, headers)
            runs: dict[str, list[tuple[float, float]]] = {name: [] for name in targets}
            for _ in range(args.rounds):
                for name, (url, headers) in targets.items():
                    runs[name].append(wrk(url, args.duration, args.connections, headers))
            design = re.search(r'href="(/designs/[0-9a-f-]{36})"', httpx.get(server.url + "/catalogue").text)
            total, sizes = first_view(server.url, design.group(1))  # type: ignore[union-attr]
    base, html = (statistics.median(r for r, _ in runs[name]) for name in targets)
    html_p99 = max(p for _, p in runs["GET /catalogue (HTML)"])
    print(f"HTML catalogue / JSON catalogue: {html / base:.2f} (goal ≥ 0.60); HTML p99 {html_p99:.1f} ms "
          f"(goal ≤ 50 ms); design page first view {total / 1024:.0f} KB (goal ≤ 200 KB)")
    print(f"\n{'endpoint (wrk, ' + str(args.connections) + ' connections)':46} {'requests/s (median)':>20} {'runs':>24} {'p99 (worst)':>12}")
    for name, measured in runs.items():
        rates = ", ".join(f"{r:,.0f}" for r, _ in measured)
        print(f"{name:46} {statistics.median(r for r, _ in measured):>20,.0f} {rates:>24} "
              f"{max(p for _, p in measured):>9.1f} ms")
    print("\ndesign page, first view:")
    for url, size in sizes.items():
        print(f"  {size / 1024:8.1f} KB  {url}")
    ok = html / base >= 0.6 and html_p99 <= 50 and total <= PAGE_BUDGET
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
