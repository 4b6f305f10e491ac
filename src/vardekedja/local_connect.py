"""Stripe Connect for the local stand-in: what localstripe lacks, served by the same loopback process.

localstripe answers 404 for connected accounts, account links, transfers and
reversals, and ignores ``Idempotency-Key``. ``install(app)`` adds those to
localstripe's own aiohttp app before it starts (``python -m
vardekedja.local_stripe``), so the product's code talks to one base URL
through the official SDK, exactly as it talks to api.stripe.com, and nothing
sits in between: no proxy, no second base address, no branch in the product
for "local". Only the launcher in local_stripe.py, which binds 127.0.0.1,
installs this; with real Stripe none of it runs.

Each behaviour follows a Stripe documentation page, cited where it is built.
What Stripe would decide by a human (onboarding) is a page with one button,
and ``/_config/connect/...`` lets tests steer the stand-in the way localstripe's
own ``/_config/`` does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

LINK_SECONDS = 300  # an account link expires five minutes after it is made (docs.stripe.com/api/account_links/object)


def _id(prefix: str) -> str:
    return prefix + secrets.token_hex(8)


def stripe_error(status: int, message: str, *, code: str | None = None, param: str | None = None,
                 kind: str = "invalid_request_error", headers: dict[str, str] | None = None) -> web.Response:  # fmt: skip
    """An error in Stripe's shape (https://docs.stripe.com/api/errors): the SDK raises the matching class."""
    error: dict[str, Any] = {"type": kind, "message": message}
    if code:
        error["code"] = code
    if param:
        error["param"] = param
    return web.json_response({"error": error}, status=status, headers=headers)


class _Refused(Exception):
    def __init__(self, response: web.Response) -> None:
        super().__init__(response.text)
        self.response = response


@dataclass
class _Exported:
    """What localstripe's Event needs from the object it carries: ``_export()``."""

    body: dict[str, Any]

    def _export(self, expand: Any = None) -> dict[str, Any]:
        return dict(self.body)


@dataclass
class ConnectState:
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)  # link token -> account id
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    intent_groups: dict[str, str] = field(default_factory=dict)  # payment intent -> transfer_group
    replies: dict[tuple[str, str], tuple[str, int, bytes]] = field(default_factory=dict)
    running: set[tuple[str, str]] = field(default_factory=set)
    fail_transfers: int = 0  # the next N transfer creations fail as a Stripe outage does
    base: str = ""

    def clear(self) -> None:
        for kept in (self.accounts, self.links, self.transfers, self.intent_groups, self.replies, self.running):
            kept.clear()
        self.fail_transfers = 0


# --- the bits of localstripe reused here (its form parsing, its charges, its signed webhooks) ---------------


async def _params(request: web.Request) -> dict[str, Any]:
    from localstripe.server import get_post_data, unflatten_data

    if request.method == "POST":
        return dict(await get_post_data(request) or {})
    return dict(unflatten_data(request.query) or {})


def _charge(charge_id: str) -> Any:
    from localstripe.resources import store

    return store.get("charge:" + charge_id)


def _send_event(kind: str, body: dict[str, Any]) -> None:
    """A signed event to every registered webhook, through localstripe's own signing and delivery
    (https://docs.stripe.com/webhooks#verify-events: ``t=…,v1=HMAC-SHA256(secret, "t.payload")``)."""
    from localstripe.resources import Event
    from localstripe.webhooks import schedule_webhook

    schedule_webhook(Event(kind, _Exported(body)))


def _int(params: dict[str, Any], name: str, *, required: bool = True) -> int | None:
    value = params.get(name)
    if value is None and not required:
        return None
    try:
        number = int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _Refused(stripe_error(400, f"Invalid integer: {value}", param=name)) from None
    if number <= 0:
        raise _Refused(stripe_error(400, "This value must be greater than or equal to 1.", param=name))
    return number


# --- accounts and account links ------------------------------------------------------------------------------


def _account(state: ConnectState, account_id: str, param: str = "account") -> dict[str, Any]:
    account = state.accounts.get(account_id)
    if account is None:
        raise _Refused(stripe_error(404 if param == "id" else 400, f"No such account: '{account_id}'",
                                    code="resource_missing", param=param))  # fmt: skip
    return account


async def create_account(state: ConnectState, request: web.Request) -> web.Response:
    """https://docs.stripe.com/api/accounts/create: a new account cannot take money until onboarded, so
    ``charges_enabled``, ``payouts_enabled`` and the ``transfers`` capability start off."""
    params = await _params(request)
    requested = sorted((params.get("capabilities") or {}).keys()) or ["transfers"]
    account = {
        "id": _id("acct_"), "object": "account", "type": params.get("type", "express"),
        "country": params.get("country", "SE"), "email": params.get("email"), "created": int(time.time()),
        "charges_enabled": False, "payouts_enabled": False, "details_submitted": False,
        "capabilities": {name: "inactive" for name in requested}, "metadata": params.get("metadata") or {},
        "requirements": {"currently_due": ["external_account", "tos_acceptance.date"], "disabled_reason": "requirements.past_due"},
    }  # fmt: skip
    state.accounts[account["id"]] = account
    return web.json_response(account)


async def retrieve_account(state: ConnectState, request: web.Request) -> web.Response:
    return web.json_response(_account(state, request.match_info["id"], "id"))


async def create_account_link(state: ConnectState, request: web.Request) -> web.Response:
    """https://docs.stripe.com/api/account_links/create: ``account``, ``type`` (account_onboarding),
    ``refresh_url`` and ``return_url``; a single-use URL that expires."""
    params = await _params(request)
    _account(state, str(params.get("account")))
    for name in ("refresh_url", "return_url"):
        if not str(params.get(name) or "").startswith(("http://", "https://")):
            raise _Refused(stripe_error(400, f"Missing required param: {name}.", param=name))
    if params.get("type") not in ("account_onboarding", "account_update"):
        raise _Refused(stripe_error(400, "Invalid type: must be one of account_onboarding or account_update", param="type"))
    token = secrets.token_urlsafe(12)
    state.links[token] = str(params["account"])
    state.links[token + ":return"] = str(params["return_url"])
    now = int(time.time())
    return web.json_response({"object": "account_link", "created": now, "expires_at": now + LINK_SECONDS,
                              "url": f"{state.base}/_config/connect/onboarding/{token}"})  # fmt: skip


def make_ready(state: ConnectState, account_id: str) -> dict[str, Any]:
    """Onboarding finished: the account can take transfers; Stripe tells the platform with a signed
    ``account.updated`` event (https://docs.stripe.com/connect/handling-api-verification#verification-process)."""
    account = _account(state, account_id)
    account.update(charges_enabled=True, payouts_enabled=True, details_submitted=True,
                   capabilities={name: "active" for name in account["capabilities"]},
                   requirements={"currently_due": [], "disabled_reason": None})  # fmt: skip
    _send_event("account.updated", account)
    return account


async def onboarding_page(state: ConnectState, request: web.Request) -> web.Response:
    """Stands in for Stripe's hosted onboarding: one button, then back to the platform's return_url."""
    token = request.match_info["token"]
    account_id = state.links.get(token)
    if account_id is None:
        return web.Response(status=404, text="This onboarding link is unknown or was already used.")
    if request.method == "POST":
        make_ready(state, account_id)
        return_url = state.links.pop(token + ":return", "/")
        state.links.pop(token, None)  # single use
        raise web.HTTPSeeOther(return_url)
    return web.Response(content_type="text/html", text=(
        "<!doctype html><html lang='en'><meta charset='utf-8'><title>Payout account (test mode)</title>"
        f"<main><h1>Payout account {account_id}</h1><p>Local Stripe stand-in: no details are asked for.</p>"
        "<form method='post'><button>Complete onboarding</button></form></main></html>"))  # fmt: skip


# --- transfers and reversals ---------------------------------------------------------------------------------


def _left_on_charge(state: ConnectState, charge: Any) -> int:
    """What a charge still has for transfers: its amount, less refunds, less what was transferred from it
    and not reversed. https://docs.stripe.com/connect/separate-charges-and-transfers#transfer-availability:
    with ``source_transaction`` the transfer is tied to that charge and cannot exceed what it has."""
    used = sum(t["amount"] - t["amount_reversed"] for t in state.transfers.values()
               if t["source_transaction"] == charge.id)  # fmt: skip
    return int(charge.amount) - int(charge.amount_refunded) - used


async def create_transfer(state: ConnectState, request: web.Request) -> web.Response:
    """https://docs.stripe.com/api/transfers/create with https://docs.stripe.com/connect/separate-charges-and-transfers."""
    if state.fail_transfers > 0:
        state.fail_transfers -= 1
        # An outage before the endpoint ran: nothing is kept under the idempotency key
        # (https://docs.stripe.com/idempotency), and the SDK is told not to retry by itself.
        return stripe_error(500, "An unexpected error occurred (stand-in outage).", kind="api_error",
                            headers={"Stripe-Should-Retry": "false", "X-Stand-In-Unsaved": "1"})  # fmt: skip
    params = await _params(request)
    amount = _int(params, "amount")
    currency = str(params.get("currency") or "").lower()
    if not currency:
        raise _Refused(stripe_error(400, "Missing required param: currency.", param="currency"))
    account = _account(state, str(params.get("destination")), "destination")
    if account["capabilities"].get("transfers") != "active":
        # https://docs.stripe.com/connect/account-capabilities#transfers
        raise _Refused(stripe_error(400, "Your destination account needs to have at least one of the following "
                                    "capabilities enabled: transfers, crypto_transfers, legacy_payments",
                                    param="destination"))  # fmt: skip
    source = params.get("source_transaction")
    if source is not None:
        charge = _charge(str(source))
        if charge is None:
            raise _Refused(stripe_error(400, f"No such charge: '{source}'", code="resource_missing",
                                        param="source_transaction"))  # fmt: skip
        if charge.status != "succeeded":
            raise _Refused(stripe_error(400, f"The charge {source} has not succeeded.", param="source_transaction"))
        if str(charge.currency).lower() != currency:
            raise _Refused(stripe_error(400, f"The currency of the transfer ({currency}) must be the currency of "
                                        f"the source transaction ({charge.currency}).", param="currency"))  # fmt: skip
        left = _left_on_charge(state, charge)
        if amount is not None and amount > left:
            # https://docs.stripe.com/error-codes#balance-insufficient
            raise _Refused(stripe_error(400, f"The transfer amount ({amount}) exceeds what is left of the source "
                                        f"transaction {source} ({left}).", code="balance_insufficient",
                                        param="amount"))  # fmt: skip
    transfer = {
        "id": _id("tr_"), "object": "transfer", "amount": amount, "amount_reversed": 0, "currency": currency,
        "destination": account["id"], "source_transaction": source, "transfer_group": params.get("transfer_group"),
        "metadata": params.get("metadata") or {}, "description": params.get("description"), "reversed": False,
        "created": int(time.time()), "reversals": {"object": "list", "data": [], "has_more": False},
    }  # fmt: skip
    state.transfers[transfer["id"]] = transfer
    return web.json_response(transfer)


def _transfer(state: ConnectState, transfer_id: str) -> dict[str, Any]:
    transfer = state.transfers.get(transfer_id)
    if transfer is None:
        raise _Refused(stripe_error(404, f"No such transfer: '{transfer_id}'", code="resource_missing", param="id"))
    return transfer


async def retrieve_transfer(state: ConnectState, request: web.Request) -> web.Response:
    return web.json_response(_transfer(state, request.match_info["id"]))


async def list_transfers(state: ConnectState, request: web.Request) -> web.Response:
    """https://docs.stripe.com/api/transfers/list: newest first, filtered by destination or transfer_group."""
    params = await _params(request)
    found = [t for t in state.transfers.values()
             if all(params.get(name) in (None, t[name]) for name in ("destination", "transfer_group"))]  # fmt: skip
    found.sort(key=lambda t: t["created"], reverse=True)
    limit = min(int(params.get("limit") or 10), 100)
    return web.json_response({"object": "list", "url": "/v1/transfers", "data": found[:limit],
                              "has_more": len(found) > limit})  # fmt: skip


async def create_reversal(state: ConnectState, request: web.Request) -> web.Response:
    """https://docs.stripe.com/api/transfer_reversals/create: part or all of a transfer, as many times as
    wished until nothing is left; more than what is left, or a reversed transfer, is an error."""
    transfer = _transfer(state, request.match_info["id"])
    params = await _params(request)
    left = transfer["amount"] - transfer["amount_reversed"]
    amount = _int(params, "amount", required=False) or left
    if left <= 0:
        raise _Refused(stripe_error(400, f"Transfer {transfer['id']} has already been fully reversed."))
    if amount > left:
        raise _Refused(stripe_error(400, f"Reversal amount ({amount}) is greater than the unreversed amount "
                                    f"remaining on the transfer ({left}).", param="amount"))  # fmt: skip
    reversal = {"id": _id("trr_"), "object": "transfer_reversal", "amount": amount, "currency": transfer["currency"],
                "transfer": transfer["id"], "metadata": params.get("metadata") or {}, "created": int(time.time())}  # fmt: skip
    transfer["amount_reversed"] += amount
    transfer["reversed"] = transfer["amount_reversed"] == transfer["amount"]
    transfer["reversals"]["data"].insert(0, reversal)
    return web.json_response(reversal)


async def list_reversals(state: ConnectState, request: web.Request) -> web.Response:
    """https://docs.stripe.com/api/transfer_reversals/list: newest first."""
    transfer = _transfer(state, request.match_info["id"])
    data = transfer["reversals"]["data"]
    return web.json_response({"object": "list", "url": f"/v1/transfers/{transfer['id']}/reversals", "data": data,
                              "has_more": False})  # fmt: skip


# --- Idempotency-Key and transfer_group on payment intents, around localstripe's own routes ------------------


def _fingerprint(request: web.Request, params: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps([request.method, request.path, params], sort_keys=True, default=str).encode()).hexdigest()


def middleware(state: ConnectState) -> Any:
    @web.middleware
    async def connect(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "DELETE" and request.path == "/_config/data":
            state.clear()
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/v1/"):
            return await _answer(state, request, handler)
        # https://docs.stripe.com/idempotency: the first answer under a key is kept and replayed; the same
        # key with other parameters is an error; a key still running conflicts.
        scope = (request.headers.get("Authorization", ""), key)
        fingerprint = _fingerprint(request, await _params(request))
        if scope in state.replies:
            kept, status, body = state.replies[scope]
            if kept != fingerprint:
                return stripe_error(400, "Keys for idempotent requests can only be used with the same parameters "
                                    "they were first used with.", kind="idempotency_error")  # fmt: skip
            return web.Response(status=status, body=body, content_type="application/json",
                                headers={"Idempotent-Replayed": "true", "Idempotency-Key": key})  # fmt: skip
        if scope in state.running:
            return stripe_error(409, "There is currently another in-progress request using this Stripe token.",
                                kind="idempotency_error")  # fmt: skip
        state.running.add(scope)
        try:
            response = await _answer(state, request, handler)
        finally:
            state.running.discard(scope)
        if isinstance(response, web.Response) and "X-Stand-In-Unsaved" not in response.headers and response.body is not None:
            state.replies[scope] = (fingerprint, response.status, bytes(response.body))  # type: ignore[arg-type]
        return response

    return connect


async def _answer(state: ConnectState, request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        if request.method == "POST" and request.path == "/v1/payment_intents":
            return await _create_intent_with_group(state, request)
        response = await handler(request)
    except _Refused as refused:
        return refused.response
    if request.method == "GET" and request.path.startswith("/v1/payment_intents/") and isinstance(response, web.Response):
        intent_id = request.match_info.get("id", "")
        if intent_id in state.intent_groups and response.status == 200 and response.body is not None:
            body = json.loads(bytes(response.body))  # type: ignore[arg-type]
            body["transfer_group"] = state.intent_groups[intent_id]
            return web.json_response(body)
    return response


async def _create_intent_with_group(state: ConnectState, request: web.Request) -> web.Response:
    """localstripe refuses ``transfer_group`` on a payment intent; Stripe keeps it
    (https://docs.stripe.com/api/payment_intents/create#create_payment_intent-transfer_group)."""
    from localstripe.resources import PaymentIntent

    params = await _params(request)
    group = params.pop("transfer_group", None)
    params.pop("expand", None)
    intent = PaymentIntent._api_create(**params)
    body = intent._export()
    if group is not None:
        state.intent_groups[intent.id] = str(group)
        body["transfer_group"] = str(group)
    return web.json_response(body)


def _route(state: ConnectState, function: Callable[[ConnectState, web.Request], Awaitable[web.Response]]) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        try:
            return await function(state, request)
        except _Refused as refused:
            return refused.response

    return handle


async def _control(state: ConnectState, request: web.Request) -> web.Response:
    """Test controls: ``fail_transfers`` (count) and ``ready`` (account), beside localstripe's ``/_config/``."""
    params = await _params(request)
    if request.match_info["what"] == "fail_transfers":
        state.fail_transfers = int(params.get("count", 1))
        return web.json_response({"fail_transfers": state.fail_transfers})
    if request.match_info["what"] == "ready":
        return web.json_response(make_ready(state, str(params.get("account"))))
    return stripe_error(404, "unknown control")


def install(app: web.Application, base: str) -> ConnectState:
    """Add Connect to localstripe's app (before it starts); ``base`` is where the app will listen."""
    state = ConnectState(base=base.rstrip("/"))
    app.middlewares.append(middleware(state))
    for method, path, function in (
        ("POST", "/v1/accounts", create_account),
        ("GET", "/v1/accounts/{id}", retrieve_account),
        ("POST", "/v1/account_links", create_account_link),
        ("POST", "/v1/transfers", create_transfer),
        ("GET", "/v1/transfers", list_transfers),
        ("GET", "/v1/transfers/{id}", retrieve_transfer),
        ("POST", "/v1/transfers/{id}/reversals", create_reversal),
        ("GET", "/v1/transfers/{id}/reversals", list_reversals),
        ("GET", "/_config/connect/onboarding/{token}", onboarding_page),
        ("POST", "/_config/connect/onboarding/{token}", onboarding_page),
        ("POST", "/_config/connect/{what}", _control),
    ):  # fmt: skip
        app.router.add_route(method, path, _route(state, function))
    return state
