"""PostgreSQL scale mode end to end: ``vardekedja serve --workers 2`` and a separate ``vardekedja project``.

Clients place orders concurrently while workshops race to accept production orders, and the projector is
killed (SIGKILL) and restarted in the middle of it. Every acknowledged order becomes visible, each race has
exactly one winner, and the projector applied every event exactly once: the views equal a rebuild, and the
audit chain covers every event once, in order.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest

from tests.chain import ORG_NUMBERS
from tests.conftest import create_postgres_schema, drop_postgres_schema
from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja
from tests.e2e.test_server import DESIGN, OPERATOR_KEY, SITE, bearer, cli, ok, register
from tests.soak import soak
from vardekedja.application import Marketplace
from vardekedja.domain.production import production_order_id
from vardekedja.settings import Settings

pytestmark = pytest.mark.postgres
# A quarter of the orders are raced for by every workshop: four races in the suite, ten under ``make soak``.
ORDERS = int(os.environ.get("SCALE_ORDERS", soak(16, 40)))
WORKSHOPS = 4


@pytest.fixture
def environment(postgres_url: str, tmp_path: Path) -> Any:
    schema = create_postgres_schema(postgres_url)
    env = clean_environment(tmp_path / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY, VARDEKEDJA_DATABASE_URL=postgres_url,
                            VARDEKEDJA_DATABASE_SCHEMA=schema, VARDEKEDJA_EMBEDDED_PROJECTOR="false")  # fmt: skip
    cli("init", env=env)
    yield env
    drop_postgres_schema(postgres_url, schema)


def projector(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen([vardekedja(), "project", "--poll-interval", "0.05"], env=env, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip


def wait_caught_up(url: str, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = httpx.get(url + "/readyz", timeout=10).json()
        if ready["views_position"] >= ready["event_store_position"]:
            return int(ready["event_store_position"])
        time.sleep(0.1)
    raise AssertionError(f"the views never caught up: {ready}")


def dump(url: str, key: str, path: str) -> list[Any]:
    items, cursor = [], None
    while True:
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = ok(httpx.get(url + path, params=params, headers=bearer(key), timeout=30))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return sorted(items, key=lambda item: item["id"])


def test_two_workers_and_a_separate_projector_killed_mid_load_lose_nothing(environment: dict[str, str],
                                                                          tmp_path: Path) -> None:  # fmt: skip
    env = environment
    port = free_port()
    follower = projector(env, tmp_path / "projector.log")
    server = ServerProcess([vardekedja(), "serve", "--port", str(port), "--workers", "2"], env=env, port=port,
                           log=tmp_path / "server.log")  # fmt: skip
    settings = Settings(database_url=env["VARDEKEDJA_DATABASE_URL"], database_schema=env["VARDEKEDJA_DATABASE_SCHEMA"],
                        data_dir=Path(env["VARDEKEDJA_DATA_DIR"]))  # fmt: skip
    payer = Marketplace(settings.event_store_env())  # another writer, standing in for the payment webhook
    try:
        with server:
            server.wait_until_ready()
            url = server.url
            with httpx.Client(base_url=url, timeout=30) as http:
                numbers = iter(ORG_NUMBERS)
                designer = register(http, next(numbers), "Studio Allmänning", "designer")
                workshops = [register(http, next(numbers), f"Verkstad {n}", "workshop",
                                      capabilities=["carpentry", "welding"], service_area=["Botkyrka"])
                             for n in range(WORKSHOPS)]  # fmt: skip
                register(http, next(numbers), "Botkyrka Områdesföretag", "area_company", service_area=["Botkyrka"])
                buyer = register(http, next(numbers), "Botkyrkabyggen", "buyer")
                design = ok(http.post("/v1/designs", json=DESIGN, headers=bearer(designer)), 201)["id"]
                ok(http.post(f"/v1/designs/{design}/publish", headers=bearer(designer)))
            wait_caught_up(url)

            placed: list[dict[str, Any]] = []
            lock = threading.Lock()

            def place(n: int) -> None:
                order = {"delivery_site": SITE, "install": True, "lines": [{"design_id": design, "quantity": 1 + n % 3}]}
                answer = httpx.post(url + "/v1/orders", json=order, timeout=30,
                                    headers=bearer(buyer, **{"Idempotency-Key": f"scale-{n}"}))  # fmt: skip
                body = ok(answer, 201)
                with lock:
                    placed.append({**body, "position": int(answer.headers["Vardekedja-Position"])})

            def race(order: dict[str, Any]) -> list[int]:
                payer.start_checkout(UUID(buyer_id(url, buyer)), UUID(order["id"]), f"pi_{order['id'][:8]}")
                payer.record_payment(UUID(order["id"]), f"pi_{order['id'][:8]}", order["total_ore"], "sek")
                production = production_order_id(UUID(order["id"]), 1)
                with ThreadPoolExecutor(len(workshops)) as pool:
                    return list(pool.map(lambda key: httpx.post(f"{url}/v1/production-orders/{production}/accept",
                                                                headers=bearer(key), timeout=30).status_code,
                                         workshops))  # fmt: skip

            with ThreadPoolExecutor(6) as pool:
                list(pool.map(place, range(ORDERS // 2)))
                follower.kill()  # SIGKILL the projector mid-load
                follower.wait(10)
                later = pool.map(place, range(ORDERS // 2, ORDERS))
                time.sleep(0.5)
                follower = projector(env, tmp_path / "projector.log")
                list(later)
            outcomes = [race(order) for order in placed[: len(placed) // 4]]

            for statuses in outcomes:
                assert sorted(statuses) == [200] + [409] * (len(workshops) - 1), statuses
            head = wait_caught_up(url)
            for order in placed:  # every acknowledged order is visible
                seen = httpx.get(f"{url}/v1/orders/{order['id']}", timeout=30,
                                 headers=bearer(buyer, **{"Vardekedja-Min-Position": str(order["position"])}))  # fmt: skip
                assert seen.status_code == 200, seen.text
            views = {path: dump(url, OPERATOR_KEY, path) for path in ("/v1/orders", "/v1/production-orders")}
            assert len(views["/v1/orders"]) == ORDERS
        follower.terminate()
        follower.wait(10)
        cli("projections", "rebuild", env=env)
        exported = tmp_path / "audit.jsonl"
        cli("audit", "export", str(exported), env=env)
        cli("audit", "verify", str(exported), env=env)  # exits 0: the chain covers every event once, in order
        chained = [json.loads(line)["event"]["position"] for line in exported.read_text(encoding="utf-8").splitlines()
                   if line.startswith('{"event"')]  # fmt: skip
        assert chained == sorted(set(chained)) == stored_positions(env) and chained[-1] == head
        with ServerProcess([vardekedja(), "serve", "--port", str(port)], env=env, port=port,
                           log=tmp_path / "server-rebuilt.log") as again:  # fmt: skip
            follower = projector(env, tmp_path / "projector.log")
            again.wait_until_ready()
            wait_caught_up(again.url)
            assert {path: dump(again.url, OPERATOR_KEY, path) for path in views} == views
    finally:
        payer.close()
        if follower.poll() is None:
            follower.terminate()
            follower.wait(10)


def stored_positions(env: dict[str, str]) -> list[int]:
    """Every event's position in the store (PostgreSQL leaves gaps where a transaction rolled back)."""
    import psycopg

    with psycopg.connect(env["VARDEKEDJA_DATABASE_URL"]) as connection:
        rows = connection.execute(f'SELECT notification_id FROM "{env["VARDEKEDJA_DATABASE_SCHEMA"]}".'
                                  "marketplace_events ORDER BY notification_id").fetchall()  # fmt: skip
    return [int(row[0]) for row in rows]


def buyer_id(url: str, key: str) -> str:
    return str(ok(httpx.get(url + "/v1/me", headers=bearer(key), timeout=30))["id"])
