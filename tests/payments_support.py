"""Payments in tests: Stripe events signed with a known secret, an offline Stripe, and bounded waits.

``OfflineStripe`` is the real ``StripeGateway`` with only its network calls
replaced by an in-memory account, so webhook signatures are checked by the
very code (and the official SDK) that checks them in production.
"""

from __future__ import annotations

import itertools
import json
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar
from uuid import UUID

import stripe

from vardekedja.application import Marketplace, PaymentIntent
from vardekedja.stripe_gateway import StripeGateway, StripeUnavailableError

T = TypeVar("T")

WEBHOOK_PATH = "/v1/payments/stripe/webhook"
# Nothing listens on port 9 (discard) of loopback: a call that should not go out fails at once, locally.
NOWHERE = "http://127.0.0.1:9"

_events = itertools.count(1)


def event_id() -> str:
    return f"evt_test_{next(_events)}_{secrets.token_hex(4)}"


def intent_event(kind: str, *, payment_intent_id: str, order_id: UUID | str | None, amount_ore: int,
                 currency: str = "sek", event: str | None = None, failure: str = "Your card was declined.",
                 ) -> dict[str, Any]:  # fmt: skip
    """A ``payment_intent.succeeded`` or ``payment_intent.payment_failed`` event (``kind`` "succeeded" or
    "failed") as Stripe sends it: the parts the marketplace reads, and some more."""
    if kind not in ("succeeded", "failed"):
        raise ValueError(kind)
    succeeded = kind == "succeeded"
    return {
        "id": event or event_id(),
        "object": "event",
        "api_version": "2024-06-20",
        "created": int(time.time()),
        "livemode": False,
        "type": "payment_intent.succeeded" if succeeded else "payment_intent.payment_failed",
        "data": {
            "object": {
                "id": payment_intent_id,
                "object": "payment_intent",
                "amount": amount_ore,
                "amount_received": amount_ore if succeeded else 0,
                "currency": currency,
                "metadata": {} if order_id is None else {"order_id": str(order_id)},
                "status": "succeeded" if succeeded else "requires_payment_method",
                "last_payment_error": None if succeeded else {"code": "card_declined", "message": failure},
            }
        },
    }


def signed(event: dict[str, Any] | str, secret: str, *, timestamp: int | None = None) -> tuple[bytes, dict[str, str]]:
    """The raw body and headers of a webhook delivery, signed by the official SDK's own helper."""
    payload = event if isinstance(event, str) else json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, secret, timestamp=timestamp)
    return payload.encode(), {"Stripe-Signature": header, "Content-Type": "application/json"}


class OfflineStripe(StripeGateway):
    """A ``StripeGateway`` whose account lives in memory; ``verify`` (the signature check) is untouched."""

    def __init__(self, webhook_secret: str) -> None:
        super().__init__("sk_test_offline", webhook_secret, api_base=NOWHERE)
        self.intents: dict[str, PaymentIntent] = {}
        self.by_idempotency_key: dict[str, str] = {}
        self.refunds: list[tuple[str, str, int, str]] = []  # (refund id, intent, amount, idempotency key)
        self.down = False  # while set, every call fails as when Stripe cannot be reached
        self.calls = 0  # calls that would have gone to Stripe (the signature check is not one)

    def _reach(self) -> None:
        self.calls += 1
        if self.down:
            raise StripeUnavailableError("Stripe: could not connect (offline test double)")

    def create_payment_intent(
        self, order_id: UUID, amount_ore: int, currency: str, idempotency_key: str
    ) -> PaymentIntent:
        self._reach()
        if idempotency_key in self.by_idempotency_key:
            return self.intents[self.by_idempotency_key[idempotency_key]]
        intent_id = f"pi_offline_{len(self.intents) + 1}_{secrets.token_hex(4)}"
        intent = PaymentIntent(id=intent_id, client_secret=f"{intent_id}_secret_{secrets.token_hex(8)}",
                               amount_ore=amount_ore, currency=currency, status="requires_payment_method")  # fmt: skip
        self.intents[intent_id] = intent
        self.by_idempotency_key[idempotency_key] = intent_id
        return intent

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        self._reach()
        return self.intents.get(payment_intent_id)

    def set_status(self, payment_intent_id: str, status: str) -> None:
        intent = self.intents[payment_intent_id]
        self.intents[payment_intent_id] = PaymentIntent(intent.id, intent.client_secret, intent.amount_ore,
                                                        intent.currency, status)  # fmt: skip

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        self._reach()
        for refund_id, _, _, key in self.refunds:
            if key == idempotency_key:
                return refund_id
        refund_id = f"re_offline_{len(self.refunds) + 1}"
        self.refunds.append((refund_id, payment_intent_id, amount_ore, idempotency_key))
        return refund_id

    def attach_card_and_confirm(self, payment_intent_id: str, card_token: str) -> PaymentIntent:
        raise AssertionError("the offline Stripe takes no cards")


def order_event_types(app: Marketplace, order_id: UUID) -> list[str]:
    """The order's own stream, oldest first, as event class names."""
    return [type(domain_event).__name__ for domain_event in app.events.get(order_id)]


def notices(app: Marketplace) -> list[Any]:
    """Every recorded payment notice event, oldest first."""
    found = app.recorder.select_notifications(1, 100_000, topics=["vardekedja:PaymentNotice.Received"])
    return [app.mapper.to_domain_event(notification) for notification in found]


def wait_until(check: Callable[[], T | None], *, timeout: float = 10.0, interval: float = 0.1, what: str = "") -> T:
    """Poll ``check`` until it returns something truthy, failing after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what or check}")
        time.sleep(interval)
