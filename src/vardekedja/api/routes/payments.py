"""Checkout, Stripe's signed webhook, and the payment page a buyer pays on."""

from __future__ import annotations

import hmac
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from vardekedja.api.deps import BuyerDep, RuntimeDep, recorded
from vardekedja.api.problems import ApiError
from vardekedja.domain.errors import NotFoundError
from vardekedja.domain.order import Order
from vardekedja.runtime import Runtime
from vardekedja.stripe_gateway import AccountEvent, CardDeclinedError, StripeGateway, StripeUnavailableError

router = APIRouter(tags=["payments"])
page = APIRouter(include_in_schema=False)


class CheckoutOut(BaseModel):
    payment_intent_id: str
    client_secret: str
    amount_ore: int
    currency: str
    publishable_key: str | None
    payment_url: str = Field(description="The payment page, an absolute URL (under VARDEKEDJA_PUBLIC_BASE_URL when "
                                         "set); the client secret travels in the fragment")


class WebhookOut(BaseModel):
    received: bool
    duplicate: bool = False


def _stripe(runtime: Runtime) -> StripeGateway:
    if runtime.stripe is None:
        raise ApiError(503, "payments are not configured (set STRIPE_SECRET_KEY)")
    return runtime.stripe


@router.post("/orders/{order_id}/checkout", response_model=CheckoutOut)
def checkout(order_id: UUID, caller: BuyerDep, runtime: RuntimeDep, request: Request,
             response: Response) -> CheckoutOut:  # fmt: skip
    """Start (or, for a repeat, resume) paying: a Stripe PaymentIntent for the total including VAT."""
    _stripe(runtime)
    try:
        done, intent = runtime.marketplace.checkout(caller.organisation_id, order_id)
    except StripeUnavailableError as error:
        raise ApiError(503, str(error)) from None
    recorded(response, done.position)
    return CheckoutOut(
        payment_intent_id=intent.id, client_secret=intent.client_secret, amount_ore=intent.amount_ore,
        currency=intent.currency, publishable_key=runtime.settings.stripe_publishable_key,
        payment_url=runtime.settings.public_url(f"/pay/{order_id}#{intent.client_secret}", str(request.base_url)),
    )  # fmt: skip


@router.post("/payments/stripe/webhook", response_model=WebhookOut)
async def stripe_webhook(
    request: Request, runtime: RuntimeDep, response: Response,
    stripe_signature: Annotated[str | None, Header(alias="Stripe-Signature")] = None,
) -> WebhookOut:  # fmt: skip
    """Stripe's events, verified on the raw body; each event id takes effect once."""
    payload = await request.body()
    try:
        event = _stripe(runtime).verify(payload, stripe_signature)
    except ValueError as error:
        raise ApiError(400, str(error)) from None
    if event is None:
        recorded(response, runtime.marketplace.position)
        return WebhookOut(received=True)
    from anyio import to_thread

    if isinstance(event, AccountEvent):
        account_event = event
        done = await to_thread.run_sync(lambda: _account_updated(runtime, account_event))
        recorded(response, runtime.marketplace.position if done is None else done.position)
        return WebhookOut(received=True)
    try:
        order_id = UUID(event.order_id or "")
    except ValueError:
        raise ApiError(400, "the payment names no order") from None

    def apply() -> tuple[bool, int]:
        try:
            done = runtime.marketplace.record_payment_notice(
                provider_event_id=event.id, kind="succeeded" if event.type.endswith("succeeded") else "failed",
                payment_intent_id=event.payment_intent_id, order_id=order_id, amount_ore=event.amount_ore,
                currency=event.currency, detail=event.failure,
            )  # fmt: skip
        except NotFoundError:
            raise ApiError(400, f"no order {order_id}") from None
        return done is None, runtime.marketplace.position if done is None else done.position

    duplicate, position = await to_thread.run_sync(apply)
    recorded(response, position)
    return WebhookOut(received=True, duplicate=duplicate)


def _account_updated(runtime: Runtime, event: AccountEvent) -> Any:
    """A payout account changed at Stripe; one that is not ours (no organisation named) is acknowledged."""
    try:
        organisation_id = UUID(event.organisation_id or "")
    except ValueError:
        return None
    try:
        return runtime.marketplace.record_account_update(organisation_id, event.account_id)
    except StripeUnavailableError as error:  # Stripe redelivers a webhook that was not acknowledged
        raise ApiError(503, str(error)) from None


# What the payment page asks (the page itself is the web UI's, web/routes/pay.py). It is not part of the
# v1 contract: a buyer's browser opens the page from the checkout's payment_url, and the client secret in
# the URL fragment is what authorises these (the server checks it against the order's payment intent).


class PageRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    secret: str = Field(max_length=200)
    token: str | None = Field(default=None, max_length=200)


def _authorised_order(runtime: Runtime, order_id: UUID, secret: str) -> tuple[Order, str]:
    """The order and its payment intent id, if the secret is that intent's client secret."""
    intent_id = secret.split("_secret_")[0]
    try:
        order = runtime.marketplace.order(order_id)
    except NotFoundError:
        order = None
    if order is None or intent_id not in order.checkouts:
        raise ApiError(404, "no such payment")
    intent = _stripe(runtime).payment_intent(intent_id)
    if intent is None or not hmac.compare_digest(intent.client_secret.encode(), secret.encode()):
        raise ApiError(404, "no such payment")
    return order, intent.status


@page.post("/pay/{order_id}/summary")
def payment_summary(order_id: UUID, body: PageRequest, runtime: RuntimeDep) -> dict[str, object]:
    order, intent_status = _authorised_order(runtime, order_id, body.secret)
    return {
        "order_status": order.status.value, "payment_status": intent_status, "total_ore": order.total_ore,
        "currency": "sek", "lines": [{"title": line.title, "quantity": line.quantity} for line in order.lines],
    }  # fmt: skip


@page.post("/pay/{order_id}/card")
def pay_with_card(order_id: UUID, body: PageRequest, runtime: RuntimeDep) -> dict[str, str]:
    """Local stand-in only: attach the tokenised card and confirm (Stripe.js does this against real Stripe)."""
    _, _ = _authorised_order(runtime, order_id, body.secret)
    if not body.token:
        raise ApiError(422, "send the card token")
    try:
        intent = _stripe(runtime).attach_card_and_confirm(body.secret.split("_secret_")[0], body.token)
    except CardDeclinedError as error:
        return {"status": "declined", "message": str(error)}
    except StripeUnavailableError as error:
        raise ApiError(503, str(error)) from None
    return {"status": intent.status}
