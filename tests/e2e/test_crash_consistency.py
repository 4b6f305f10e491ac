"""Crash consistency of a real ``vardekedja serve``: a burst of concurrent orders with Idempotency-Keys,
SIGKILL in the middle of it, a restart, and a retry of every key that got no answer.

Afterwards every order that was answered 201 exists exactly once, every retried key resolves to one order
(the same on every repeat), and the views equal a rebuild from the events. ``CRASH_ROUNDS`` sets how many
rounds run (a few in the suite; ``make crash`` and ``make soak`` run many), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import os
import random
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.chain import ORG_NUMBERS
from tests.conftest import create_postgres_schema, drop_postgres_schema
from tests.e2e.server import ServerProcess, clean_environment, free_port, vardekedja
from tests.e2e.test_server import DESIGN, OPERATOR_KEY, SITE, bearer, cli, ok, register
from tests.soak import soak

ROUNDS = int(os.environ.get("CRASH_ROUNDS", soak(2, 20)))  # on SQLite; half as many (at least one) on PostgreSQL
# Killed once a third has answered, a burst of 24 leaves 16 unanswered, up to 8 of them in flight (8 at a time).
BURST = int(os.environ.get("CRASH_BURST", soak(24, 48)))
CONCURRENCY = 8


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def environment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    settings = {"VARDEKEDJA_OPERATOR_KEY": OPERATOR_KEY}
    schema = None
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        schema = create_postgres_schema(url)
        settings |= {"VARDEKEDJA_DATABASE_URL": url, "VARDEKEDJA_DATABASE_SCHEMA": schema}
    env = clean_environment(tmp_path / "var", **settings)
    cli("init", env=env)
    yield env
    if schema is not None:
        drop_postgres_schema(request.getfixturevalue("postgres_url"), schema)


def serve(env: dict[str, str], log: Path) -> ServerProcess:
    port = free_port()
    server = ServerProcess([vardekedja(), "serve", "--port", str(port)], env=env, port=port, log=log)
    server.__enter__()
    server.wait_until_ready()
    return server


def set_up(url: str) -> tuple[str, str]:
    """A buyer's key and a published design, through the API."""
    with httpx.Client(base_url=url, timeout=30) as http:
        numbers = iter(ORG_NUMBERS)
        designer = register(http, next(numbers), "Studio Allmänning", "designer")
        register(http, next(numbers), "Fittja Snickeri", "workshop", capabilities=["carpentry", "welding"],
                 service_area=["Botkyrka"])  # fmt: skip
        register(http, next(numbers), "Botkyrka Områdesföretag", "area_company", service_area=["Botkyrka"])
        buyer = register(http, next(numbers), "Botkyrkabyggen", "buyer")
        design = ok(http.post("/v1/designs", json=DESIGN, headers=bearer(designer)), 201)["id"]
        ok(http.post(f"/v1/designs/{design}/publish", headers=bearer(designer)))
    return buyer, design


def place(url: str, buyer: str, design: str, key: str, quantity: int) -> tuple[int, Any]:
    order = {"delivery_site": SITE, "install": True, "lines": [{"design_id": design, "quantity": quantity}]}
    try:
        response = httpx.post(url + "/v1/orders", json=order, timeout=30,
                              headers=bearer(buyer, **{"Idempotency-Key": key}))  # fmt: skip
    except httpx.TransportError:
        return 0, None  # no answer: the server died
    return response.status_code, response.json() if response.content else None


def burst(url: str, buyer: str, design: str, keys: list[str], quantities: dict[str, int],
          kill: threading.Event) -> dict[str, tuple[int, Any]]:  # fmt: skip
    answers: dict[str, tuple[int, Any]] = {}
    lock = threading.Lock()

    def one(key: str) -> None:
        answer = place(url, buyer, design, key, quantities[key])
        with lock:
            answers[key] = answer
            if len([a for a in answers.values() if a[0] == 201]) >= len(keys) // 3:
                kill.set()  # a third answered: time to pull the plug, with the rest in flight

    with ThreadPoolExecutor(CONCURRENCY) as pool:
        list(pool.map(one, keys))
    return answers


def placed_orders(env: dict[str, str]) -> Counter[str]:
    """How often each order id was placed, read from the event store itself."""
    topic = "vardekedja:Order.Placed"
    if "VARDEKEDJA_DATABASE_URL" in env:
        import psycopg

        with psycopg.connect(env["VARDEKEDJA_DATABASE_URL"]) as connection:
            rows = connection.execute(f'SELECT originator_id FROM "{env["VARDEKEDJA_DATABASE_SCHEMA"]}".'
                                      "marketplace_events WHERE topic = %s", (topic,)).fetchall()  # fmt: skip
        return Counter(str(row[0]) for row in rows)
    connection = sqlite3.connect(Path(env["VARDEKEDJA_DATA_DIR"]) / "events.sqlite3")
    try:
        rows = connection.execute("SELECT originator_id FROM stored_events WHERE topic = ?", (topic,)).fetchall()
    finally:
        connection.close()
    from uuid import UUID

    return Counter(str(UUID(row[0])) for row in rows)


def views_dump(url: str, buyer: str) -> list[Any]:
    items, cursor = [], None
    with httpx.Client(base_url=url, timeout=30) as http:
        head = http.get("/readyz").json()["event_store_position"]
        while True:
            params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
            page = ok(http.get("/v1/orders", params=params, headers=bearer(buyer, **{"Vardekedja-Min-Position": str(head)})))
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return sorted(items, key=lambda item: item["id"])


def _kill_when(kill: threading.Event, server: ServerProcess) -> None:
    kill.wait(60)
    assert server.process is not None
    server.process.kill()  # SIGKILL: no shutdown, no flush beyond what was committed


def test_orders_survive_sigkill_mid_burst_exactly_once_and_every_key_resolves(environment: dict[str, str],
                                                                             tmp_path: Path) -> None:  # fmt: skip
    env = environment
    server = serve(env, tmp_path / "server-0.log")
    try:
        buyer, design = set_up(server.url)
        answered: dict[str, Any] = {}
        quantities: dict[str, int] = {}
        rounds = ROUNDS if "VARDEKEDJA_DATABASE_URL" not in env else max(1, ROUNDS // 2)
        for round_ in range(rounds):
            keys = [f"r{round_}-k{n}" for n in range(BURST)]
            quantities |= {key: random.randint(1, 5) for key in keys}
            kill = threading.Event()
            killer = threading.Thread(target=_kill_when, args=(kill, server))
            killer.start()
            answers = burst(server.url, buyer, design, keys, quantities, kill)
            killer.join(70)
            server.stop()
            server = serve(env, tmp_path / f"server-{round_ + 1}.log")
            unanswered = [key for key in keys if answers[key][0] != 201]
            assert unanswered, "the server was killed after the burst, not in the middle of it"
            for key in keys:
                status, body = answers[key]
                if status != 201:  # no answer, or refused while dying: the client retries with the same key
                    status, body = place(server.url, buyer, design, key, quantities[key])
                assert status == 201, (key, status, body)
                assert body["lines"][0]["quantity"] == quantities[key]
                answered[key] = body["id"]
            # Every key resolves to one order, the same on every repeat.
            for key in random.sample(keys, 10):
                assert place(server.url, buyer, design, key, quantities[key])[1]["id"] == answered[key]

        placed = placed_orders(env)
        assert len(set(answered.values())) == len(answered), "two keys answered with one order"
        assert {order: placed[order] for order in answered.values()} == {order: 1 for order in answered.values()}
        assert set(placed) == set(answered.values()), "an order was placed that no key answered for"
        before = views_dump(server.url, buyer)
        assert {item["id"] for item in before} == set(answered.values())
    finally:
        server.stop()
    cli("projections", "rebuild", env=env)
    server = serve(env, tmp_path / "server-rebuilt.log")
    try:
        assert views_dump(server.url, buyer) == before
    finally:
        server.stop()
