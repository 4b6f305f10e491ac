"""Stripe, through the official SDK: payment intents, refunds and signed webhooks.

Pointed at real Stripe by default, or at a local stand-in (localstripe) with
``STRIPE_API_BASE``. The stand-in cannot take a card through
``confirmCardPayment``, so for it the payment page tokenises the card and asks
the server to attach it and confirm (``attach_card_and_confirm``); against
real Stripe the page confirms with Stripe.js alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import stripe

from vardekedja.application import PaymentIntent
from vardekedja.application.payments import ProviderError
from vardekedja.stripe_connect import StripeConnect

WEBHOOK_TOLERANCE_SECONDS = 300


class StripeUnavailableError(ProviderError):
    """Stripe (or the stand-in) refused or could not be reached; the message says why."""


class CardDeclinedError(Exception):
    """The card was declined; the buyer may try another."""


@dataclass(frozen=True)
class PaymentEvent:
    """The parts of a verified webhook event that the marketplace acts on."""

    id: str
    type: str
    payment_intent_id: str
    order_id: str | None
    amount_ore: int
    currency: str
    failure: str


@dataclass(frozen=True)
class AccountEvent:
    """A connected account changed (``account.updated``): ask Stripe whether it can receive money now."""

    id: str
    account_id: str
    organisation_id: str | None


def _intent(obj: Any) -> PaymentIntent:
    return PaymentIntent(id=obj["id"], client_secret=obj["client_secret"], amount_ore=int(obj["amount"]),
                         currency=str(obj["currency"]).lower(), status=obj["status"])  # fmt: skip


class StripeGateway(StripeConnect):
    def __init__(self, secret_key: str, webhook_secret: str | None, *, api_base: str | None = None) -> None:
        addresses = {"api": api_base.rstrip("/")} if api_base else {}
        self.client = stripe.StripeClient(secret_key, base_addresses=addresses, max_network_retries=2)  # type: ignore[arg-type]
        self.webhook_secret = webhook_secret
        self.local = api_base is not None and "api.stripe.com" not in api_base
        self._stand_in = (api_base.rstrip("/"), secret_key) if self.local and api_base else None

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except stripe.CardError as error:
            raise CardDeclinedError(error.user_message or "the card was declined") from None
        except stripe.StripeError as error:
            raise StripeUnavailableError(f"Stripe: {error.user_message or error}") from None

    def create_payment_intent(self, order_id: UUID, amount_ore: int, currency: str, idempotency_key: str) -> PaymentIntent:
        params: dict[str, Any] = {
            "amount": amount_ore, "currency": currency, "metadata": {"order_id": str(order_id)},
            "payment_method_types": ["card"], "transfer_group": str(order_id),  # the order's transfers name it too
        }  # fmt: skip
        created = self._call(self.client.v1.payment_intents.create, params=params,
                             options={"idempotency_key": idempotency_key})  # fmt: skip
        return _intent(created)

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        """The intent as Stripe has it, or None if Stripe does not know it (a wiped stand-in, say)."""
        try:
            return _intent(self.client.v1.payment_intents.retrieve(payment_intent_id))
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                return None
            raise StripeUnavailableError(f"Stripe: {error.user_message or error}") from None
        except stripe.StripeError as error:
            raise StripeUnavailableError(f"Stripe: {error.user_message or error}") from None

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        refund = self._call(self.client.v1.refunds.create, params={"payment_intent": payment_intent_id, "amount": amount_ore},
                            options={"idempotency_key": idempotency_key})  # fmt: skip
        return str(refund["id"])

    def attach_card_and_confirm(self, payment_intent_id: str, card_token: str) -> PaymentIntent:
        """For the local stand-in only: attach a tokenised card to the intent and confirm it."""
        if not self.local:
            raise StripeUnavailableError("cards are confirmed by Stripe.js against real Stripe")
        token = self._call(self.client.v1.tokens.retrieve, card_token)
        current = self._call(self.client.v1.payment_intents.retrieve, payment_intent_id).to_dict()
        if current.get("status") == "requires_payment_method" and current.get("latest_charge"):
            self._forget_declined_charge(payment_intent_id)
        self._call(self.client.v1.payment_intents.update, payment_intent_id,
                   params={"payment_method": token["card"]["id"]})  # fmt: skip
        return _intent(self._call(self.client.v1.payment_intents.confirm, payment_intent_id))

    def _forget_declined_charge(self, payment_intent_id: str) -> None:
        """localstripe keeps a declined charge on the intent and then refuses to confirm it again, where
        real Stripe lets the buyer retry with another card. Its generic update (JSON, so a null can be
        sent) drops that charge, so the same intent can be paid after a decline, as with Stripe."""
        import json
        import urllib.error
        import urllib.request

        assert self._stand_in is not None
        base, key = self._stand_in
        request = urllib.request.Request(
            f"{base}/v1/payment_intents/{payment_intent_id}", data=json.dumps({"latest_charge": None}).encode(),
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"}, method="POST",
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - the configured loopback stand-in
                pass
        except (urllib.error.URLError, OSError) as error:
            raise StripeUnavailableError(f"Stripe: the local stand-in refused a retry: {error}") from None

    def verify(self, payload: bytes, signature: str | None) -> PaymentEvent | AccountEvent | None:
        """Check the signature on the raw body; None for an event type the marketplace ignores.

        Raises ``ValueError`` for a bad, missing or stale signature or a malformed body.
        """
        if not self.webhook_secret:
            raise ValueError("no webhook secret is configured")
        if not signature:
            raise ValueError("the Stripe-Signature header is missing")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self.webhook_secret,
                                                   tolerance=WEBHOOK_TOLERANCE_SECONDS)  # fmt: skip
        except stripe.SignatureVerificationError as error:
            raise ValueError(f"the signature does not verify: {error.user_message or error}") from None
        try:
            if event["type"] == "account.updated":
                account = event["data"]["object"].to_dict()
                return AccountEvent(id=str(event["id"]), account_id=str(account["id"]),
                                    organisation_id=(account.get("metadata") or {}).get("organisation_id"))  # fmt: skip
            if event["type"] not in ("payment_intent.succeeded", "payment_intent.payment_failed"):
                return None
            intent = event["data"]["object"].to_dict()
            last_error = intent.get("last_payment_error") or {}
            return PaymentEvent(
                id=str(event["id"]), type=event["type"], payment_intent_id=str(intent["id"]),
                order_id=(intent.get("metadata") or {}).get("order_id"), amount_ore=int(intent.get("amount_received") or intent["amount"]),
                currency=str(intent["currency"]).lower(),
                failure="" if event["type"] == "payment_intent.succeeded"
                else str(last_error.get("message") or last_error.get("code") or "payment failed"),
            )  # fmt: skip
        except (KeyError, TypeError, AttributeError) as missing:
            raise ValueError(f"the event is not a payment intent event Stripe sends: {missing!r}") from None
