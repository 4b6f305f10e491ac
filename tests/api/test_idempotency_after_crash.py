"""An Idempotency-Key whose first attempt died with its server (or timed out) is not stuck "still being
processed": a retry learns the outcome when the order was written, and runs again when nothing was."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY, api_settings
from tests.api.support import Api, Cast, ok, order_body, publish, register_cast
from vardekedja.api import create_app
from vardekedja.api.idempotency import derived_id, idempotency
from vardekedja.domain.order import LineRequest
from vardekedja.runtime import Runtime

DEAD_OWNER = "a-host-long-gone:4194300:1"


@pytest.fixture
def world(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[tuple[TestClient, Runtime, Cast]]:
    runtime = Runtime(api_settings("sqlite", tmp_path, request).model_copy(update={"command_timeout": 0.5}))
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield client, runtime, register_cast(Api(client, runtime), OPERATOR_KEY)
    finally:
        runtime.close()


def slot_and_fingerprint(key: str, idempotency_key: str, path: str, body: bytes) -> tuple[str, str]:
    """As the middleware computes them (api/idempotency.py)."""
    caller = hashlib.sha256(f"Bearer {key}".encode()).hexdigest()
    slot = hashlib.sha256(caller.encode() + b"\n" + idempotency_key.encode()).hexdigest()
    return slot, hashlib.sha256(b"\n".join([path.encode(), b"", body])).hexdigest()


def claimed_by_a_dead_server(client: TestClient, slot: str, fingerprint: str, *, host: str | None = None) -> None:
    import socket

    owner = DEAD_OWNER if host is None else f"{socket.gethostname()}:4194300:1"
    with client.app.state.idempotency.engine.begin() as connection:
        connection.execute(idempotency.insert().values(scope=slot, fingerprint=fingerprint, state="pending",
                                                       created_at=datetime.now(timezone.utc), owner=owner))  # fmt: skip


def orders_of(runtime: Runtime, buyer_id) -> list:
    return [n for n in runtime.marketplace.recorder.select_notifications(1, 100_000)
            if n.topic.endswith("Order.Placed")]  # fmt: skip


def post_order(cast: Cast, body: bytes, key: str):
    return cast.buyer.post("/v1/orders", content=body,
                           headers={"Content-Type": "application/json", "Idempotency-Key": key})  # fmt: skip


def test_a_key_claimed_by_a_server_that_died_before_writing_runs_again(world) -> None:
    client, runtime, cast = world
    body = json.dumps(order_body((publish(cast.designer)["id"], 1))).encode()
    slot, fingerprint = slot_and_fingerprint(cast.buyer.key, "crash-1", "/v1/orders", body)
    claimed_by_a_dead_server(client, slot, fingerprint, host="this")
    before = len(orders_of(runtime, cast.buyer.id))

    placed = ok(post_order(cast, body, "crash-1"), 201)

    assert placed["id"] == str(derived_id(slot))
    assert len(orders_of(runtime, cast.buyer.id)) == before + 1
    assert ok(post_order(cast, body, "crash-1"), 201) == placed  # and now it is remembered


def test_a_key_claimed_by_a_server_that_died_after_writing_the_order_answers_that_order(world) -> None:
    client, runtime, cast = world
    design = publish(cast.designer)["id"]
    body = json.dumps(order_body((design, 2))).encode()
    slot, fingerprint = slot_and_fingerprint(cast.buyer.key, "crash-2", "/v1/orders", body)
    claimed_by_a_dead_server(client, slot, fingerprint, host="this")
    # The dead server had placed the order under the key's id, then died before recording its answer.
    from tests.chain import SITE

    runtime.marketplace.place_order(cast.buyer.id, SITE, True, [LineRequest(UUID(design), 2)], derived_id(slot))
    before = len(orders_of(runtime, cast.buyer.id))

    answer = post_order(cast, body, "crash-2")

    assert answer.status_code == 201, answer.text
    assert answer.json()["id"] == str(derived_id(slot)) and answer.json()["lines"][0]["quantity"] == 2
    assert len(orders_of(runtime, cast.buyer.id)) == before


def test_a_claim_from_another_host_is_taken_over_once_it_is_older_than_any_request_lives(world, monkeypatch) -> None:
    from vardekedja.api import idempotency as module

    client, runtime, cast = world
    body = json.dumps(order_body((publish(cast.designer)["id"], 1))).encode()
    slot, fingerprint = slot_and_fingerprint(cast.buyer.key, "crash-3", "/v1/orders", body)
    claimed_by_a_dead_server(client, slot, fingerprint)

    assert post_order(cast, body, "crash-3").status_code == 409  # it may still be running over there
    monkeypatch.setattr(module, "ABANDONED_AFTER", module.timedelta(seconds=0))
    assert ok(post_order(cast, body, "crash-3"), 201)["id"] == str(derived_id(slot))


def test_a_request_that_timed_out_keeps_its_key_and_a_retry_learns_the_outcome(world) -> None:
    client, runtime, cast = world
    body = json.dumps(order_body((publish(cast.designer)["id"], 1))).encode()
    release = threading.Event()
    held = runtime.commands.submit(lambda: release.wait(30))
    before = len(orders_of(runtime, cast.buyer.id))

    first = post_order(cast, body, "slow-1")
    assert first.status_code == 503 and first.headers["Vardekedja-Outcome"] == "unknown", first.text
    release.set()
    held.result(timeout=10)
    deadline = time.monotonic() + 10
    while len(orders_of(runtime, cast.buyer.id)) == before and time.monotonic() < deadline:
        time.sleep(0.02)  # the order queued behind the held command is placed now

    retried = post_order(cast, body, "slow-1")

    assert retried.status_code == 201, retried.text
    assert len(orders_of(runtime, cast.buyer.id)) == before + 1
    assert ok(post_order(cast, body, "slow-1"), 201)["id"] == retried.json()["id"]
