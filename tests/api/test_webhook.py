"""Stripe's webhook through the ASGI app: signatures checked for real, deliveries twice, late or tampered.

The gateway is the real ``StripeGateway`` with its network calls replaced by an
offline account (``OfflineStripe``); every delivery is signed with the official
SDK's helper and verified by the SDK, exactly as in production.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import api_settings
from tests.api.payment_shop import PUBLISHABLE_KEY, Shop, open_shop
from tests.payments_support import WEBHOOK_PATH, OfflineStripe, intent_event, notices, order_event_types, signed
from vardekedja.api import create_app
from vardekedja.runtime import Runtime
from vardekedja.stripe_gateway import WEBHOOK_TOLERANCE_SECONDS

# Deduplication rests on the event store refusing a second notice with the same id: check it on both stores.
BOTH_STORES = pytest.mark.parametrize("shop_storage", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])


def timeline(order: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in order["timeline"]]


@pytest.fixture
def shop_storage() -> str:
    """SQLite unless a test asks for both stores (``BOTH_STORES``)."""
    return "sqlite"


@pytest.fixture
def shop(shop_storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Shop]:
    with open_shop(shop_storage, tmp_path, request) as opened:
        yield opened


@pytest.fixture(scope="module")
def shared_shop(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Shop]:
    """One shop for the many refusals: each uses its own order, and a refusal writes nothing anyway."""
    with open_shop("sqlite", tmp_path_factory.mktemp("shared_shop"), request) as opened:
        yield opened


def test_the_payment_url_starts_with_the_configured_public_base_url(tmp_path: Path,
                                                                   request: pytest.FixtureRequest) -> None:
    with open_shop("sqlite", tmp_path, request, public_base_url="https://marknad.example.se") as shop:
        order_id = shop.place()
        checkout = shop.checkout(order_id)

    assert checkout["payment_url"] == f"https://marknad.example.se/pay/{order_id}#{checkout['client_secret']}"


def test_a_signed_success_pays_the_order_and_opens_production(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    total = shop.order(order_id)["total_ore"]
    assert (checkout["amount_ore"], checkout["currency"], checkout["publishable_key"]) == (
        total,
        "sek",
        PUBLISHABLE_KEY,
    )
    # Absolute: a link the buyer can open from anywhere (here the test client's own address).
    assert checkout["payment_url"] == f"http://testserver/pay/{order_id}#{checkout['client_secret']}"

    response = shop.deliver(shop.paid_event(order_id, checkout))

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "duplicate": False}
    assert response.headers["Vardekedja-Position"] == str(shop.position)  # read-your-writes, as for any command
    order = shop.order(order_id)
    assert (order["status"], order["paid_ore"], order["refunded_ore"]) == ("paid", total, 0)
    assert all(line["production_order_id"] for line in order["lines"])
    assert timeline(order)[-2:] == ["paid", "production_opened"]
    production = shop.runtime.marketplace.production_order(UUID(order["lines"][0]["production_order_id"]))
    assert production.status.value == "open"


@BOTH_STORES
def test_a_second_delivery_of_the_same_event_changes_nothing(shop: Shop) -> None:
    order_id = shop.place()
    event = shop.paid_event(order_id, shop.checkout(order_id))
    body, headers = signed(event, shop.stripe.webhook_secret or "")

    first = shop.client.post(WEBHOOK_PATH, content=body, headers=headers)
    after_first = shop.position
    again = shop.client.post(WEBHOOK_PATH, content=body, headers=headers)
    resigned = shop.deliver(event, timestamp=int(time.time()) + 1)  # Stripe's retry: same event id, new signature

    assert first.json() == {"received": True, "duplicate": False}
    assert again.status_code == resigned.status_code == 200
    assert again.json() == resigned.json() == {"received": True, "duplicate": True}
    assert again.headers["Vardekedja-Position"] == str(after_first)
    assert shop.position == after_first
    assert order_event_types(shop.runtime.marketplace, order_id).count("PaymentReceived") == 1
    assert [notice.provider_event_id for notice in notices(shop.runtime.marketplace)] == [event["id"]]
    assert shop.order(order_id)["paid_ore"] == shop.order(order_id)["total_ore"]


@BOTH_STORES
def test_concurrent_deliveries_of_one_event_take_effect_once(shop: Shop) -> None:
    order_id = shop.place()
    body, headers = signed(shop.paid_event(order_id, shop.checkout(order_id)), shop.stripe.webhook_secret or "")
    start = threading.Barrier(6)
    answers: list[dict[str, Any]] = []

    def deliver() -> None:
        start.wait(timeout=10)
        response = shop.client.post(WEBHOOK_PATH, content=body, headers=headers)
        answers.append({"status": response.status_code, **response.json()})

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(answer["duplicate"] for answer in answers) == [False] + [True] * 5
    assert {answer["status"] for answer in answers} == {200}
    assert order_event_types(shop.runtime.marketplace, order_id).count("PaymentReceived") == 1
    assert len(notices(shop.runtime.marketplace)) == 1


def test_the_same_payment_told_under_two_event_ids_pays_once(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)

    first = shop.deliver(shop.paid_event(order_id, checkout))
    second = shop.deliver(shop.paid_event(order_id, checkout))

    assert first.json()["duplicate"] is False and second.json()["duplicate"] is False  # two notices, both recorded
    order = shop.order(order_id)
    assert (order["status"], order["paid_ore"], order["refunded_ore"]) == ("paid", order["total_ore"], 0)
    assert order_event_types(shop.runtime.marketplace, order_id).count("PaymentReceived") == 1
    assert len(notices(shop.runtime.marketplace)) == 2
    assert shop.stripe.refunds == []


def test_a_failure_arriving_after_the_success_leaves_the_order_paid(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    failure = intent_event("failed", payment_intent_id=checkout["payment_intent_id"], order_id=order_id,
                           amount_ore=checkout["amount_ore"])  # fmt: skip
    success = shop.paid_event(order_id, checkout)

    assert shop.deliver(success).json()["duplicate"] is False
    assert shop.deliver(failure).status_code == 200  # the older event, delivered late

    order = shop.order(order_id)
    assert (order["status"], order["paid_ore"], order["refunded_ore"]) == ("paid", order["total_ore"], 0)
    assert all(line["production_order_id"] for line in order["lines"])
    assert "payment_failed" in timeline(order)
    assert shop.stripe.refunds == []


@BOTH_STORES
def test_a_success_for_an_order_cancelled_meanwhile_is_refunded_in_full(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    cancelled = shop.client.post(f"/v1/orders/{order_id}/cancel", json={"reason": "fel plats"}, headers=shop.buyer)
    assert cancelled.status_code == 200, cancelled.text
    event = shop.paid_event(order_id, checkout)

    assert shop.deliver(event).json() == {"received": True, "duplicate": False}
    assert shop.deliver(event).json() == {"received": True, "duplicate": True}

    order = shop.order(order_id)
    total = order["total_ore"]
    assert (order["status"], order["paid_ore"], order["refunded_ore"]) == ("cancelled", total, total)
    assert timeline(order)[-2:] == ["paid", "refunded"]
    assert order["timeline"][-1]["detail"] == {"refund_id": "re_offline_1", "amount_ore": total}
    assert [(pi, amount) for _, pi, amount, _ in shop.stripe.refunds] == [(checkout["payment_intent_id"], total)]
    assert not any(line["production_order_id"] for line in order["lines"])


def test_a_failure_then_a_success_pays_the_order(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    failure = intent_event("failed", payment_intent_id=checkout["payment_intent_id"], order_id=order_id,
                           amount_ore=checkout["amount_ore"], failure="Your card was declined.")  # fmt: skip

    assert shop.deliver(failure).json() == {"received": True, "duplicate": False}
    declined = shop.order(order_id)
    assert (declined["status"], declined["paid_ore"]) == ("placed", 0)
    assert declined["timeline"][-1]["kind"] == "payment_failed"
    assert declined["timeline"][-1]["detail"] == {"reason": "Your card was declined."}

    again = shop.checkout(order_id)  # the buyer may check out again: the intent is still usable
    assert again["payment_intent_id"] == checkout["payment_intent_id"]
    assert shop.deliver(shop.paid_event(order_id, again)).json()["duplicate"] is False

    order = shop.order(order_id)
    assert (order["status"], order["paid_ore"]) == ("paid", order["total_ore"])


@pytest.mark.parametrize(("amount_change", "currency"), [(-1, "sek"), (+100, "sek"), (0, "eur")],
                         ids=["one-ore-short", "too-much", "wrong-currency"])  # fmt: skip
def test_a_payment_that_does_not_match_is_recorded_and_flagged_but_does_not_pay(
    shop: Shop, amount_change: int, currency: str
) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    wrong = checkout["amount_ore"] + amount_change

    response = shop.deliver(shop.paid_event(order_id, checkout, amount_ore=wrong, currency=currency))

    assert response.json() == {"received": True, "duplicate": False}
    order = shop.order(order_id)
    assert (order["status"], order["paid_ore"]) == ("placed", 0)
    assert not any(line["production_order_id"] for line in order["lines"])
    assert order["timeline"][-1]["kind"] == "payment_mismatched"
    assert order["timeline"][-1]["detail"] == {"amount_ore": wrong, "currency": currency}
    assert order_event_types(shop.runtime.marketplace, order_id)[-1] == "PaymentMismatched"
    assert [(n.kind, n.amount_ore, n.currency) for n in notices(shop.runtime.marketplace)] == [
        ("succeeded", wrong, currency)
    ]


def _tampered(shop: Shop, event: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    body, headers = signed(event, shop.stripe.webhook_secret or "")
    return body.replace(b'"amount_received": ', b'"amount_received": 1'), headers


REJECTED = {
    "wrong-secret": lambda shop, event: signed(event, "whsec_" + "0" * 32),
    "tampered-body": _tampered,
    "missing-header": lambda shop, event: (signed(event, shop.stripe.webhook_secret)[0], {}),
    "empty-header": lambda shop, event: (signed(event, shop.stripe.webhook_secret)[0], {"Stripe-Signature": ""}),
    "garbled-header": lambda shop, event: (
        signed(event, shop.stripe.webhook_secret)[0],
        {"Stripe-Signature": "t=x,v1="},
    ),
    "stale-timestamp": lambda shop, event: signed(
        event, shop.stripe.webhook_secret, timestamp=int(time.time()) - WEBHOOK_TOLERANCE_SECONDS - 1
    ),
    "signed-not-json": lambda shop, event: signed("{not json", shop.stripe.webhook_secret),
    "signed-no-object": lambda shop, event: signed({**event, "data": {}}, shop.stripe.webhook_secret),
    "signed-intent-without-id": lambda shop, event: signed(
        {**event, "data": {"object": {k: v for k, v in event["data"]["object"].items() if k != "id"}}},
        shop.stripe.webhook_secret,
    ),
    "signed-for-unknown-order": lambda shop, event: signed(
        {**event, "data": {"object": {**event["data"]["object"], "metadata": {"order_id": str(uuid.uuid4())}}}},
        shop.stripe.webhook_secret,
    ),
    "signed-without-order": lambda shop, event: signed(
        {**event, "data": {"object": {**event["data"]["object"], "metadata": {}}}}, shop.stripe.webhook_secret
    ),
}


@pytest.mark.parametrize("case", list(REJECTED))
def test_a_delivery_that_cannot_be_trusted_or_used_is_refused_and_writes_nothing(shared_shop: Shop, case: str) -> None:
    shop = shared_shop
    notices_before = len(notices(shop.runtime.marketplace))
    order_id = shop.place()
    event = shop.paid_event(order_id, shop.checkout(order_id))
    body, headers = REJECTED[case](shop, event)
    before, calls = shop.position, shop.stripe.calls

    response = shop.client.post(WEBHOOK_PATH, content=body, headers={"Content-Type": "application/json", **headers})

    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["status"] == 400 and problem["detail"]
    assert shop.position == before
    assert shop.stripe.calls == calls
    assert len(notices(shop.runtime.marketplace)) == notices_before
    assert shop.order(order_id)["status"] == "placed"


def test_a_delivery_signed_a_little_while_ago_is_still_accepted(shop: Shop) -> None:
    order_id = shop.place()
    event = shop.paid_event(order_id, shop.checkout(order_id))

    response = shop.deliver(event, timestamp=int(time.time()) - WEBHOOK_TOLERANCE_SECONDS + 30)

    assert response.json() == {"received": True, "duplicate": False}
    assert shop.order(order_id)["status"] == "paid"


def test_events_the_marketplace_does_not_act_on_are_acknowledged_and_write_nothing(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    before = shop.position
    event = {**shop.paid_event(order_id, checkout), "type": "payment_intent.created"}
    charge = {"id": "evt_charge", "object": "event", "type": "charge.succeeded",
              "data": {"object": {"id": "ch_1", "object": "charge", "amount": 100}}}  # fmt: skip

    for ignored in (event, charge):
        response = shop.deliver(ignored)
        assert response.status_code == 200, response.text
        assert response.json() == {"received": True, "duplicate": False}
    assert shop.position == before
    assert shop.order(order_id)["status"] == "placed"


def test_without_a_webhook_secret_every_delivery_is_refused(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    gateway = OfflineStripe("whsec_unused")
    gateway.webhook_secret = None
    runtime = Runtime(api_settings("sqlite", tmp_path, request), payments=gateway)
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            before = runtime.marketplace.position
            body, headers = signed(intent_event("succeeded", payment_intent_id="pi_x", order_id=uuid.uuid4(),
                                                amount_ore=100), "whsec_unused")  # fmt: skip
            response = client.post(WEBHOOK_PATH, content=body, headers=headers)
            assert response.status_code == 400
            assert "secret" in response.json()["detail"]
            assert runtime.marketplace.position == before
    finally:
        runtime.close()


def test_the_event_body_is_verified_as_sent_not_as_reparsed(shop: Shop) -> None:
    """Whitespace and key order are part of what Stripe signed: the raw bytes are checked."""
    order_id = shop.place()
    event = shop.paid_event(order_id, shop.checkout(order_id))
    payload = json.dumps(event, indent=2, sort_keys=True)

    assert shop.deliver(payload).json() == {"received": True, "duplicate": False}
    assert shop.order(order_id)["status"] == "paid"
