"""Payments end to end against a real localstripe, with its signed webhooks sent to a real HTTP server.

localstripe runs as its own process on a loopback port; the app runs under
uvicorn in a thread on another, and localstripe is told to send its events
there. Cards are tokenised at localstripe the way the payment page does it
(``POST /v1/tokens`` with the publishable key) and paid through the page's own
endpoint, ``POST /pay/{order}/card``. Nothing here leaves 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
import pytest
import uvicorn
from pydantic import SecretStr

from tests.chain import SITE, published_design, register_cast
from tests.payments_support import WEBHOOK_PATH, notices, wait_until
from vardekedja.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe, free_port
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.web import create_web_app

pytestmark = pytest.mark.slow

OPERATOR_KEY = "vk_operator0_" + "p" * 43
GOOD_CARD = "4242424242424242"
DECLINED_CARD = "4000000000000341"  # attaches, then is declined when charged
THREE_D_SECURE_CARD = "4000002500003155"
WAIT = 10.0  # seconds; localstripe sends each webhook about a second after the fact


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LocalStripe]:
    with LocalStripe() as running:
        yield running


class ServerThread:
    """uvicorn serving an app on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, loop="asyncio", http="h11",
                                lifespan="on", log_level="warning", access_log=False)  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def start(self) -> ServerThread:
        self.thread.start()
        wait_until(lambda: self.server.started or not self.thread.is_alive(), timeout=WAIT, what="uvicorn to start")
        if not self.server.started:
            raise RuntimeError("uvicorn did not start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=WAIT)
        assert not self.thread.is_alive(), "uvicorn did not stop"


@dataclass
class Market:
    """The marketplace served over HTTP, a buyer and a workshop with keys, and localstripe beside it."""

    http: httpx.Client
    stripe: httpx.Client  # localstripe's API, as the server side (secret key)
    stand_in: LocalStripe
    runtime: Runtime
    buyer: dict[str, str]
    workshop: dict[str, str]
    design_id: UUID
    position: int = 0  # the latest command's, sent as Vardekedja-Min-Position on reads

    def saw(self, response: httpx.Response) -> None:
        self.position = max(self.position, int(response.headers.get("Vardekedja-Position", 0)))

    def place(self, quantity: int = 1) -> UUID:
        body = {
            "delivery_site": {"name": SITE.name, "street": SITE.street, "postal_code": SITE.postal_code,
                              "municipality": SITE.municipality},
            "install": True,
            "lines": [{"design_id": str(self.design_id), "quantity": quantity}],
        }  # fmt: skip
        response = self.http.post("/v1/orders", json=body, headers=self.buyer)
        assert response.status_code == 201, response.text
        self.saw(response)
        return UUID(response.json()["id"])

    def checkout(self, order_id: UUID) -> dict[str, Any]:
        response = self.http.post(f"/v1/orders/{order_id}/checkout", headers=self.buyer)
        assert response.status_code == 200, response.text
        self.saw(response)
        return response.json()

    def token(self, number: str) -> str:
        """Tokenise a card at localstripe as Stripe.js does in the browser: with the publishable key."""
        response = httpx.post(f"{self.stand_in.base}/v1/tokens", data={
            "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123",
            "key": PUBLISHABLE_KEY,
        }, timeout=WAIT)  # fmt: skip
        assert response.status_code == 200, response.text
        return str(response.json()["id"])

    def pay(self, order_id: UUID, client_secret: str, number: str) -> dict[str, Any]:
        """What the payment page does with a card against the local stand-in."""
        response = self.http.post(f"/pay/{order_id}/card", json={"secret": client_secret, "token": self.token(number)})
        assert response.status_code == 200, response.text
        return response.json()

    def order(self, order_id: UUID) -> dict[str, Any]:
        response = self.http.get(f"/v1/orders/{order_id}",
                                 headers={**self.buyer, "Vardekedja-Min-Position": str(self.position)})  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    def order_when(self, order_id: UUID, what: str, check: Any) -> dict[str, Any]:
        """The order once ``check(order)`` holds (the webhook is asynchronous); fails after WAIT seconds."""

        def current() -> dict[str, Any] | None:
            order = self.order(order_id)
            return order if check(order) else None

        return wait_until(current, timeout=WAIT, interval=0.2, what=what)

    def intent(self, payment_intent_id: str) -> dict[str, Any]:
        response = self.stripe.get(f"/v1/payment_intents/{payment_intent_id}")
        assert response.status_code == 200, response.text
        return response.json()


def events(order: dict[str, Any]) -> list[str]:
    return [entry["kind"] for entry in order["timeline"]]


@pytest.fixture(scope="module")
def market(stand_in: LocalStripe, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("localstripe_market"), database_url=None,
        operator_key=SecretStr(OPERATOR_KEY), stripe_secret_key=SecretStr(SECRET_KEY),
        stripe_publishable_key=PUBLISHABLE_KEY, stripe_webhook_secret=SecretStr(stand_in.webhook_secret),
        stripe_api_base=stand_in.base,
    )  # fmt: skip
    runtime = Runtime(settings)
    server: ServerThread | None = None
    try:
        app = runtime.marketplace
        cast = register_cast(app)
        design_id = published_design(app, cast)
        buyer = {"Authorization": f"Bearer {app.issue_api_key(cast.buyer).api_key}"}
        workshop = {"Authorization": f"Bearer {app.issue_api_key(cast.workshop).api_key}"}
        server = ServerThread(create_web_app(runtime=runtime)).start()
        stand_in.register_webhook(server.url + WEBHOOK_PATH)
        with (
            httpx.Client(base_url=server.url, timeout=WAIT) as http,
            httpx.Client(base_url=stand_in.base, auth=(SECRET_KEY, ""), timeout=WAIT) as stripe_api,
        ):
            yield Market(http, stripe_api, stand_in, runtime, buyer, workshop, design_id)
    finally:
        if server is not None:
            server.stop()
        runtime.close()


def test_a_good_card_pays_the_order_through_the_signed_webhook(market: Market) -> None:
    order_id = market.place(quantity=2)
    checkout = market.checkout(order_id)
    total = market.order(order_id)["total_ore"]
    intent = market.intent(checkout["payment_intent_id"])
    assert (intent["amount"], intent["currency"], intent["metadata"]) == (total, "sek", {"order_id": str(order_id)})
    assert checkout["client_secret"] == intent["client_secret"]

    assert market.pay(order_id, checkout["client_secret"], GOOD_CARD) == {"status": "succeeded"}

    order = market.order_when(order_id, "the order to be paid", lambda order: order["status"] == "paid")
    assert (order["paid_ore"], order["refunded_ore"]) == (total, 0)
    assert "paid" in events(order)
    # Paid by localstripe's own signed event, not by the page's answer.
    [notice] = [n for n in notices(market.runtime.marketplace) if n.payment_intent_id == checkout["payment_intent_id"]]
    assert (notice.kind, notice.amount_ore, notice.provider_event_id[:4]) == ("succeeded", total, "evt_")
    production_ids = [line["production_order_id"] for line in order["lines"]]
    assert all(production_ids)
    listed = market.http.get("/v1/production-orders", params={"status": "open"}, headers=market.workshop)
    assert listed.status_code == 200, listed.text
    assert set(production_ids) <= {item["id"] for item in listed.json()["items"]}
    # Paid once: checking out again is a conflict, and the page says the order is paid.
    assert market.http.post(f"/v1/orders/{order_id}/checkout", headers=market.buyer).status_code == 409
    summary = market.http.post(f"/pay/{order_id}/summary", json={"secret": checkout["client_secret"]})
    assert (summary.json()["order_status"], summary.json()["payment_status"]) == ("paid", "succeeded")


def test_a_declined_card_is_recorded_and_another_card_then_pays(market: Market) -> None:
    order_id = market.place()
    checkout = market.checkout(order_id)

    declined = market.pay(order_id, checkout["client_secret"], DECLINED_CARD)

    assert declined["status"] == "declined" and declined["message"]
    failed = market.order_when(
        order_id, "the failure to be recorded", lambda order: "payment_failed" in events(order)
    )
    assert (failed["status"], failed["paid_ore"]) == ("placed", 0)
    assert market.intent(checkout["payment_intent_id"])["status"] == "requires_payment_method"

    again = market.checkout(order_id)
    assert again["payment_intent_id"] == checkout["payment_intent_id"]
    assert market.pay(order_id, again["client_secret"], GOOD_CARD) == {"status": "succeeded"}

    order = market.order_when(order_id, "the order to be paid", lambda order: order["status"] == "paid")
    assert order["paid_ore"] == order["total_ore"]
    assert events(order).index("payment_failed") < events(order).index("paid")


def test_a_card_that_needs_3d_secure_pays_once_authenticated(market: Market) -> None:
    order_id = market.place()
    checkout = market.checkout(order_id)

    assert market.pay(order_id, checkout["client_secret"], THREE_D_SECURE_CARD) == {"status": "requires_action"}
    # What Stripe.js's confirmCardPayment does at localstripe when the buyer completes authentication.
    pi = checkout["payment_intent_id"]
    authenticated = httpx.post(f"{market.stand_in.base}/v1/payment_intents/{pi}/_authenticate",
                               params={"success": "true"}, timeout=WAIT,
                               json={"key": PUBLISHABLE_KEY, "client_secret": checkout["client_secret"]})  # fmt: skip
    assert authenticated.status_code == 200, authenticated.text

    order = market.order_when(order_id, "the order to be paid", lambda order: order["status"] == "paid")
    assert order["paid_ore"] == order["total_ore"]


def test_cancelling_a_paid_order_refunds_it_at_stripe_and_in_the_order(market: Market) -> None:
    order_id = market.place()
    checkout = market.checkout(order_id)
    assert market.pay(order_id, checkout["client_secret"], GOOD_CARD) == {"status": "succeeded"}
    market.order_when(order_id, "the order to be paid", lambda order: order["status"] == "paid")

    cancelled = market.http.post(
        f"/v1/orders/{order_id}/cancel", json={"reason": "ändrade planer"}, headers=market.buyer
    )

    assert cancelled.status_code == 200, cancelled.text
    total = cancelled.json()["total_ore"]
    assert (cancelled.json()["status"], cancelled.json()["refunded_ore"]) == ("cancelled", total)
    order = market.order_when(order_id, "the refund in the order", lambda order: order["refunded_ore"] == total)
    assert order["status"] == "cancelled"
    refunded = [entry for entry in order["timeline"] if entry["kind"] == "refunded"]
    assert len(refunded) == 1 and refunded[0]["detail"]["amount_ore"] == total
    refund_id = refunded[0]["detail"]["refund_id"]
    at_stripe = market.stripe.get(f"/v1/refunds/{refund_id}")
    assert at_stripe.status_code == 200, at_stripe.text
    refund = at_stripe.json()
    assert (refund["amount"], refund["currency"], refund["status"]) == (total, "sek", "succeeded")
    assert refund["payment_intent"] == checkout["payment_intent_id"]
    assert refund["charge"] == market.intent(checkout["payment_intent_id"])["latest_charge"]["id"]
    listed = market.stripe.get("/v1/refunds", params={"payment_intent": checkout["payment_intent_id"]})
    assert [item["id"] for item in listed.json()["data"]] == [refund_id]
    production = market.http.get(f"/v1/production-orders/{order['lines'][0]['production_order_id']}",
                                 headers={"Authorization": f"Bearer {OPERATOR_KEY}"})  # fmt: skip
    assert production.json()["status"] == "cancelled"


def test_a_repeated_checkout_returns_the_same_intent_and_it_still_pays(market: Market) -> None:
    order_id = market.place()

    first = market.checkout(order_id)
    second = market.checkout(order_id)

    assert (second["payment_intent_id"], second["client_secret"]) == (
        first["payment_intent_id"],
        first["client_secret"],
    )
    assert market.intent(first["payment_intent_id"])["status"] == "requires_payment_method"
    assert events(market.order(order_id)).count("checkout_started") == 1
    assert market.pay(order_id, second["client_secret"], GOOD_CARD) == {"status": "succeeded"}
    order = market.order_when(order_id, "the order to be paid", lambda order: order["status"] == "paid")
    assert order["paid_ore"] == order["total_ore"]


def test_the_payment_page_refuses_a_wrong_client_secret(market: Market) -> None:
    order_id = market.place()
    checkout = market.checkout(order_id)
    wrong = checkout["payment_intent_id"] + "_secret_" + "x" * 24

    for path, body in (("summary", {"secret": wrong}), ("card", {"secret": wrong, "token": market.token(GOOD_CARD)})):
        response = market.http.post(f"/pay/{order_id}/{path}", json=body)
        assert response.status_code == 404, response.text
    assert market.intent(checkout["payment_intent_id"])["status"] == "requires_payment_method"
    page = market.http.get(f"/pay/{order_id}")
    assert page.status_code == 200 and f"{market.stand_in.base}/js.stripe.com/v3/" in page.text
