"""The local Connect stand-in, driven through the official SDK exactly as the product drives Stripe.

One localstripe process (with Connect installed, as ``vardekedja serve --local-stripe`` starts it) for the
module; its data is wiped between tests. Payments are made the way the payment page makes them: a card
token with the publishable key, attached to the intent and confirmed.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import stripe

from tests.payments_support import wait_until
from vardekedja.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe, free_port

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LocalStripe]:
    with LocalStripe() as running:
        yield running


@pytest.fixture
def client(stand_in: LocalStripe) -> stripe.StripeClient:
    httpx.delete(f"{stand_in.base}/_config/data", timeout=5).raise_for_status()
    return stripe.StripeClient(SECRET_KEY, base_addresses={"api": stand_in.base})  # type: ignore[arg-type]


def paid_charge(client: stripe.StripeClient, stand_in: LocalStripe, amount: int, group: str = "order-1") -> str:
    intent = client.v1.payment_intents.create(params={"amount": amount, "currency": "sek", "transfer_group": group,
                                                      "payment_method_types": ["card"]})  # fmt: skip
    assert intent["transfer_group"] == group
    token = httpx.post(f"{stand_in.base}/v1/tokens", data={
        "card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123",
        "key": PUBLISHABLE_KEY}, timeout=5).json()["id"]  # fmt: skip
    card = client.v1.tokens.retrieve(token)["card"]["id"]
    client.v1.payment_intents.update(intent.id, params={"payment_method": card})
    confirmed = client.v1.payment_intents.confirm(intent.id)
    assert confirmed.status == "succeeded"
    assert client.v1.payment_intents.retrieve(intent.id)["transfer_group"] == group
    charge = confirmed["latest_charge"]  # localstripe expands it; Stripe gives the id
    return str(charge if isinstance(charge, str) else charge["id"])


def ready_account(client: stripe.StripeClient, stand_in: LocalStripe) -> str:
    account = client.v1.accounts.create(params={"type": "express", "country": "SE",
                                                "capabilities": {"transfers": {"requested": True}}})  # fmt: skip
    httpx.post(f"{stand_in.base}/_config/connect/ready", data={"account": account.id}, timeout=5).raise_for_status()
    return str(account.id)


def test_a_new_account_cannot_receive_until_onboarded_through_its_link(client: stripe.StripeClient, stand_in: LocalStripe) -> None:
    account = client.v1.accounts.create(params={"type": "express", "country": "SE", "metadata": {"org": "o1"}})
    assert (account.charges_enabled, account.payouts_enabled) == (False, False)
    charge = paid_charge(client, stand_in, 10_000)
    with pytest.raises(stripe.InvalidRequestError, match="capabilities enabled: transfers"):
        client.v1.transfers.create(params={"amount": 100, "currency": "sek", "destination": account.id,
                                           "source_transaction": charge})  # fmt: skip
    link = client.v1.account_links.create(params={"account": account.id, "type": "account_onboarding",
                                                  "refresh_url": "http://x.test/r", "return_url": "http://x.test/done"})  # fmt: skip
    assert link.expires_at > link.created
    page = httpx.get(link.url, timeout=5)
    assert page.status_code == 200 and "Complete onboarding" in page.text
    done = httpx.post(link.url, timeout=5)
    assert done.status_code == 303 and done.headers["location"] == "http://x.test/done"
    assert httpx.post(link.url, timeout=5).status_code == 404, "an account link is single use"
    account = client.v1.accounts.retrieve(account.id)
    assert account.charges_enabled and account.payouts_enabled and account.metadata["org"] == "o1"
    transfer = client.v1.transfers.create(params={"amount": 100, "currency": "sek", "destination": account.id,
                                                  "source_transaction": charge})  # fmt: skip
    assert transfer.destination == account.id


def test_a_charge_cannot_give_more_than_it_has_left(client: stripe.StripeClient, stand_in: LocalStripe) -> None:
    account = ready_account(client, stand_in)
    charge = paid_charge(client, stand_in, 10_000)
    first = client.v1.transfers.create(params={"amount": 6_000, "currency": "sek", "destination": account,
                                               "source_transaction": charge, "transfer_group": "order-1"})  # fmt: skip
    with pytest.raises(stripe.InvalidRequestError) as refused:
        client.v1.transfers.create(params={"amount": 4_001, "currency": "sek", "destination": account,
                                           "source_transaction": charge})  # fmt: skip
    assert refused.value.code == "balance_insufficient" and refused.value.http_status == 400
    client.v1.refunds.create(params={"charge": charge, "amount": 1_000})
    with pytest.raises(stripe.InvalidRequestError, match=r"\(3000\)"):
        client.v1.transfers.create(params={"amount": 3_001, "currency": "sek", "destination": account,
                                           "source_transaction": charge})  # fmt: skip
    client.v1.transfers.reversals.create(first.id, params={"amount": 500})  # a reversal gives the charge back its share
    client.v1.transfers.create(params={"amount": 3_500, "currency": "sek", "destination": account, "source_transaction": charge})
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.transfers.create(params={"amount": 1, "currency": "sek", "destination": account, "source_transaction": charge})
    with pytest.raises(stripe.InvalidRequestError, match="No such charge"):
        client.v1.transfers.create(params={"amount": 1, "currency": "sek", "destination": account, "source_transaction": "ch_nope"})
    with pytest.raises(stripe.InvalidRequestError, match="No such account"):
        client.v1.transfers.create(params={"amount": 1, "currency": "sek", "destination": "acct_nope"})
    listed = client.v1.transfers.list(params={"transfer_group": "order-1"})
    assert [t.id for t in listed.data] == [first.id]


def test_reversals_are_bounded_by_what_was_transferred(client: stripe.StripeClient, stand_in: LocalStripe) -> None:
    account = ready_account(client, stand_in)
    charge = paid_charge(client, stand_in, 5_000)
    transfer = client.v1.transfers.create(params={"amount": 1_000, "currency": "sek", "destination": account,
                                                  "source_transaction": charge})  # fmt: skip
    client.v1.transfers.reversals.create(transfer.id, params={"amount": 400})
    with pytest.raises(stripe.InvalidRequestError, match="unreversed amount"):
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 601})
    rest = client.v1.transfers.reversals.create(transfer.id)  # no amount: all that is left
    assert rest.amount == 600
    after = client.v1.transfers.retrieve(transfer.id)
    assert after.amount_reversed == 1_000 and after.reversed
    with pytest.raises(stripe.InvalidRequestError, match="fully reversed"):
        client.v1.transfers.reversals.create(transfer.id, params={"amount": 1})
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.transfers.retrieve("tr_nope")
    assert missing.value.http_status == 404


def test_an_idempotency_key_replays_the_first_answer_and_refuses_other_parameters(
    client: stripe.StripeClient, stand_in: LocalStripe,
) -> None:  # fmt: skip
    account = ready_account(client, stand_in)
    charge = paid_charge(client, stand_in, 5_000)
    params = {"amount": 1_000, "currency": "sek", "destination": account, "source_transaction": charge}
    first = client.v1.transfers.create(params=params, options={"idempotency_key": "payout-1"})
    again = client.v1.transfers.create(params=params, options={"idempotency_key": "payout-1"})
    assert again.id == first.id
    assert len(client.v1.transfers.list().data) == 1
    with pytest.raises(stripe.IdempotencyError):
        client.v1.transfers.create(params={**params, "amount": 999}, options={"idempotency_key": "payout-1"})
    refund = client.v1.refunds.create(params={"charge": charge, "amount": 100}, options={"idempotency_key": "r-1"})
    assert client.v1.refunds.create(params={"charge": charge, "amount": 100}, options={"idempotency_key": "r-1"}).id == refund.id
    assert client.v1.charges.retrieve(charge).amount_refunded == 100, "localstripe's own endpoints honour the key too"


def test_an_outage_is_not_kept_under_the_key_so_a_retry_succeeds_once(client: stripe.StripeClient, stand_in: LocalStripe) -> None:
    account = ready_account(client, stand_in)
    charge = paid_charge(client, stand_in, 5_000)
    httpx.post(f"{stand_in.base}/_config/connect/fail_transfers", data={"count": "2"}, timeout=5).raise_for_status()
    params = {"amount": 1_000, "currency": "sek", "destination": account, "source_transaction": charge}
    for _ in range(2):
        with pytest.raises(stripe.APIError):
            client.v1.transfers.create(params=params, options={"idempotency_key": "payout-2"})
    made = client.v1.transfers.create(params=params, options={"idempotency_key": "payout-2"})
    assert client.v1.transfers.create(params=params, options={"idempotency_key": "payout-2"}).id == made.id
    assert len(client.v1.transfers.list().data) == 1


class _Catcher(http.server.BaseHTTPRequestHandler):
    received: list[tuple[bytes, str]] = []

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((body, self.headers["Stripe-Signature"]))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_onboarding_sends_a_signed_account_updated_event(client: stripe.StripeClient, stand_in: LocalStripe) -> None:
    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), _Catcher)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stand_in.register_webhook(f"http://127.0.0.1:{port}/hook")
        account = ready_account(client, stand_in)
        body, signature = wait_until(lambda: next((r for r in _Catcher.received if account.encode() in r[0]), None),
                                     what="the account.updated webhook")  # fmt: skip
        event = stripe.Webhook.construct_event(body, signature, stand_in.webhook_secret)
        assert event["type"] == "account.updated"
        assert event["data"]["object"]["id"] == account and json.loads(body)["data"]["object"]["payouts_enabled"]
    finally:
        server.shutdown()
