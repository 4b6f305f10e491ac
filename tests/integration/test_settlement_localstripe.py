"""Money reaching the parties, end to end against localstripe with the Connect stand-in beside it.

The server runs under uvicorn in a thread so both stand-ins' signed webhooks
(payment_intent.succeeded, account.updated) reach it. The settlement follower
is driven pass by pass (``settle_payouts`` off) so each test says exactly how
many attempts it made; one test lets the server's own follower run.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from pydantic import SecretStr

from tests.chain import SITE, Cast, published_design, register_cast, window
from tests.integration.test_payments_localstripe import GOOD_CARD, OPERATOR_KEY, WAIT, ServerThread
from tests.payments_support import WEBHOOK_PATH, wait_until
from vardekedja.api import create_app
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.order import LineRequest
from vardekedja.domain.payout import Payout
from vardekedja.domain.production import production_order_id
from vardekedja.local_stripe import PUBLISHABLE_KEY, SECRET_KEY, LocalStripe
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.stripe_gateway import StripeGateway

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stand_in() -> Iterator[LocalStripe]:
    with LocalStripe() as running:
        yield running


@dataclass
class Settle:
    runtime: Runtime
    cast: Cast
    design_id: UUID
    stand_in: LocalStripe
    http: httpx.Client
    operator: dict[str, str]

    @property
    def app(self) -> Any:
        return self.runtime.marketplace

    def paid_order(self, quantity: int = 2, install: bool = True) -> UUID:
        """Placed, checked out (a PaymentIntent with transfer_group) and paid by card at localstripe."""
        order_id = self.app.place_order(self.cast.buyer, SITE, install, [LineRequest(self.design_id, quantity)]).id
        _, intent = self.app.checkout(self.cast.buyer, order_id)
        stripe_api = self.app.payments.client.v1
        assert stripe_api.payment_intents.retrieve(intent.id)["transfer_group"] == str(order_id)
        token = httpx.post(f"{self.stand_in.base}/v1/tokens", data={
            "card[number]": GOOD_CARD, "card[exp_month]": "12", "card[exp_year]": "2034", "card[cvc]": "123",
            "key": PUBLISHABLE_KEY}, timeout=WAIT).json()["id"]  # fmt: skip
        assert self.app.payments.attach_card_and_confirm(intent.id, token).status == "succeeded"
        wait_until(lambda: self.app.order(order_id).status.value == "paid", timeout=WAIT, what="the payment webhook")
        return order_id

    def settle_lines(self, order_id: UUID, install: bool = True) -> None:
        """Make, deliver and (where asked) install every line: the payouts become owed."""
        earliest, latest = window()
        for line in self.app.order(order_id).lines:
            production = production_order_id(order_id, line.line_no)
            self.app.accept_production(self.cast.workshop, production)
            self.app.start_production(self.cast.workshop, production)
            self.app.complete_production(self.cast.workshop, production, 12.5, "")
            delivery = delivery_id(order_id, line.line_no)
            self.app.schedule_delivery(self.cast.workshop, delivery, earliest, latest)
            self.app.dispatch_delivery(self.cast.workshop, delivery)
            self.app.deliver(self.cast.workshop, delivery, "Anna på gården")
            if install:
                self.app.install(self.cast.area_company, delivery)

    def connect(self, organisation_id: UUID) -> dict[str, Any]:
        response = self.http.post(f"/v1/organisations/{organisation_id}/payout-account", headers=self.operator)
        assert response.status_code == 200, response.text
        return dict(response.json())

    def onboard(self, organisation_id: UUID) -> str:
        """Connect and complete onboarding through the link; wait until account.updated made it ready."""
        account = self.connect(organisation_id)
        assert httpx.post(account["onboarding_url"], timeout=WAIT).status_code == 303
        wait_until(lambda: self.app.payout_account(organisation_id).ready, timeout=WAIT, what="account.updated")
        return str(account["account_id"])

    def pass_(self) -> dict[str, int]:
        """One pass of the settlement follower over what the views say is due."""
        assert self.runtime.wait_for(self.app.position, timeout=WAIT)
        return dict(self.runtime.settlement.run_once())

    def transfers(self, order_id: UUID) -> list[Any]:
        return list(self.app.payments.client.v1.transfers.list(params={"transfer_group": str(order_id)}).data)

    def payouts(self, order_id: UUID) -> dict[str, Payout]:
        return {p.role.value: p for p in self.app.payouts(self.app.order(order_id))}


@pytest.fixture
def settle(stand_in: LocalStripe, tmp_path: Any) -> Iterator[Settle]:
    httpx.delete(f"{stand_in.base}/_config/data", timeout=5).raise_for_status()
    settings = Settings(
        data_dir=tmp_path, database_url=None, operator_key=SecretStr(OPERATOR_KEY),
        stripe_secret_key=SecretStr(SECRET_KEY), stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_webhook_secret=SecretStr(stand_in.webhook_secret), stripe_api_base=stand_in.base,
        settle_payouts=False, payout_retry_seconds=0.05,
    )  # fmt: skip
    runtime = Runtime(settings)
    server = ServerThread(create_app(runtime=runtime)).start()
    try:
        cast = register_cast(runtime.marketplace)
        design_id = published_design(runtime.marketplace, cast)
        stand_in.register_webhook(server.url + WEBHOOK_PATH)
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            yield Settle(runtime, cast, design_id, stand_in, http, {"Authorization": f"Bearer {OPERATOR_KEY}"})
    finally:
        server.stop()
        runtime.close()


def test_onboarded_parties_are_paid_from_the_orders_charge_once_delivered(settle: Settle) -> None:
    accounts = {role: settle.onboard(getattr(settle.cast, role)) for role in ("designer", "workshop", "area_company")}
    order_id = settle.paid_order(quantity=2)
    assert settle.pass_() == {}, "nothing is owed before delivery"
    settle.settle_lines(order_id)
    assert settle.pass_() == {"transferred": 3}
    charge = settle.app.payments.charge_of(settle.app.order(order_id).paid_payment_intent_id)
    made = {t.destination: t for t in settle.transfers(order_id)}
    payouts = settle.payouts(order_id)
    for role, account in accounts.items():
        transfer = made[account]
        assert (transfer.amount, transfer.source_transaction, transfer.metadata["payout_id"]) == (
            payouts[role].amount_ore, charge, str(payouts[role].id))
        assert (payouts[role].status, payouts[role].transfer_id) == ("transferred", transfer.id)
    assert settle.pass_() == {}, "a second pass finds nothing to do"
    listed = settle.http.get("/v1/payouts", headers={**settle.operator, "Vardekedja-Min-Position": str(settle.app.position)})
    assert {(p["status"], p["transfer_id"]) for p in listed.json()["items"]} == {("transferred", t.id) for t in made.values()}


def test_a_party_without_a_ready_account_waits_and_is_paid_once_ready(settle: Settle) -> None:
    settle.onboard(settle.cast.designer)
    settle.onboard(settle.cast.area_company)
    order_id = settle.paid_order(quantity=1)
    settle.settle_lines(order_id)
    assert settle.pass_() == {"transferred": 2}
    assert settle.payouts(order_id)["workshop"].status == "owed"
    account = settle.connect(settle.cast.workshop)  # connected, not yet onboarded: still waits
    assert settle.pass_() == {} and len(settle.transfers(order_id)) == 2
    assert httpx.post(account["onboarding_url"], timeout=WAIT).status_code == 303
    wait_until(lambda: settle.app.payout_account(settle.cast.workshop).ready, timeout=WAIT, what="account.updated")
    assert settle.pass_() == {"transferred": 1}
    [workshop_transfer] = [t for t in settle.transfers(order_id) if t.destination == account["account_id"]]
    assert workshop_transfer.amount == settle.payouts(order_id)["workshop"].amount_ore


def test_a_transfer_failing_twice_is_retried_with_backoff_and_made_once(settle: Settle) -> None:
    settle.onboard(settle.cast.designer)
    order_id = settle.paid_order(quantity=1)
    settle.settle_lines(order_id, install=True)
    httpx.post(f"{settle.stand_in.base}/_config/connect/fail_transfers", data={"count": "2"}, timeout=5).raise_for_status()
    assert settle.pass_() == {"failed": 1}
    failures = settle.http.get("/v1/payouts/transfer-failures",
                               headers={**settle.operator, "Vardekedja-Min-Position": str(settle.app.position)}).json()  # fmt: skip
    [failing] = failures
    assert failing["failures"] == 1 and "outage" in failing["last_error"] and failing["role"] == "designer"
    waited = datetime.fromisoformat(failing["next_attempt_at"]) - datetime.fromisoformat(failing["last_failed_at"])
    assert abs(waited.total_seconds() - settle.runtime.settlement.base) < 0.001, "the first retry waits the base"
    settle.runtime.settlement.base = 3600.0
    assert settle.pass_() == {"backing off": 1}, "the next attempt waits"
    settle.runtime.settlement.base = 0.0
    assert settle.pass_() == {"failed": 1}
    assert settle.pass_() == {"transferred": 1}
    assert len(settle.transfers(order_id)) == 1
    payout = settle.payouts(order_id)["designer"]
    assert (payout.status, payout.failures) == ("transferred", 0)
    assert settle.http.get("/v1/payouts/transfer-failures", headers={
        **settle.operator, "Vardekedja-Min-Position": str(settle.app.position)}).json() == []  # fmt: skip


class _Crash(BaseException):
    """The process dies: nothing after this point runs."""


class CrashAfterTransfer(StripeGateway):
    def transfer(self, **kwargs: Any) -> Any:
        super().transfer(**kwargs)
        raise _Crash


def test_a_crash_between_the_transfer_and_its_record_makes_no_second_transfer(settle: Settle) -> None:
    settle.onboard(settle.cast.designer)
    order_id = settle.paid_order(quantity=1)
    settle.settle_lines(order_id)
    working = settle.app.payments
    settle.app.payments = CrashAfterTransfer(SECRET_KEY, None, api_base=settle.stand_in.base)
    with pytest.raises(_Crash):
        settle.pass_()
    [made] = settle.transfers(order_id)
    assert settle.payouts(order_id)["designer"].transfer_id is None, "the process died before its record"
    settle.app.payments = working  # the restarted process
    assert settle.pass_() == {"transferred": 1}
    assert [t.id for t in settle.transfers(order_id)] == [made.id]
    assert settle.payouts(order_id)["designer"].transfer_id == made.id


def test_a_claim_refunds_the_buyer_and_reverses_the_lines_transfers_in_proportion(settle: Settle) -> None:
    for role in ("designer", "workshop", "area_company"):
        settle.onboard(getattr(settle.cast, role))
    order_id = settle.paid_order(quantity=2)
    settle.settle_lines(order_id)
    assert settle.pass_() == {"transferred": 3}
    order = settle.app.order(order_id)
    line = order.line(1)
    gross = line.amount_ore + line.vat_ore
    claim = settle.http.post(f"/v1/orders/{order_id}/refunds", json={"line_no": 1, "amount_ore": gross // 3,
                             "reason": "one bench arrived scratched"}, headers=settle.operator)  # fmt: skip
    assert claim.status_code == 201, claim.text
    body = claim.json()
    payouts = settle.payouts(order_id)
    for role, payout in payouts.items():
        expected = (2 * payout.amount_ore * (gross // 3) + gross) // (2 * gross)  # half-up of amount × claim / gross
        assert body["payouts_ore"][role] == expected
    assert sum(body["payouts_ore"].values()) + body["vat_ore"] + body["platform_fee_ore"] == gross // 3
    refund = settle.app.payments.client.v1.refunds.retrieve(body["refund_id"])
    assert refund.amount == gross // 3
    assert settle.pass_() == {"reversed": 3}
    for role, payout in settle.payouts(order_id).items():
        transfer = settle.app.payments.client.v1.transfers.retrieve(payout.transfer_id)
        assert transfer.amount_reversed == body["payouts_ore"][role] == payout.reversed_ore
        assert payout.status == "reversed"
    too_much = settle.http.post(f"/v1/orders/{order_id}/refunds", json={"line_no": 1, "amount_ore": gross,
                                "reason": "again"}, headers=settle.operator)  # fmt: skip
    assert too_much.status_code == 422 and "does not fit" in too_much.json()["detail"]
    assert settle.pass_() == {}
    books = settle.http.get("/v1/payouts/reconciliation", headers={
        **settle.operator, "Vardekedja-Min-Position": str(settle.app.position)}).json()  # fmt: skip
    [row] = books["orders"]
    assert row["refunded_ore"] == gross // 3 and row["received_ore"] == order.total_ore
    assert row["transferred_ore"] == sum(t.amount - t.amount_reversed for t in
                                         (settle.app.payments.client.v1.transfers.retrieve(t.id) for t in settle.transfers(order_id)))
    assert (row["owed_ore"], row["difference_ore"], books["differences"]) == (0, 0, [])


def test_the_servers_own_follower_pays_once_the_account_is_ready(stand_in: LocalStripe, tmp_path: Any) -> None:
    settings = Settings(
        data_dir=tmp_path, database_url=None, operator_key=SecretStr(OPERATOR_KEY),
        stripe_secret_key=SecretStr(SECRET_KEY), stripe_publishable_key=PUBLISHABLE_KEY,
        stripe_webhook_secret=SecretStr(stand_in.webhook_secret), stripe_api_base=stand_in.base,
        payout_retry_seconds=0.05,
    )  # fmt: skip
    runtime = Runtime(settings)
    server = ServerThread(create_app(runtime=runtime)).start()
    try:
        cast = register_cast(runtime.marketplace)
        stand_in.register_webhook(server.url + WEBHOOK_PATH)
        with httpx.Client(base_url=server.url, timeout=WAIT) as http:
            settle = Settle(runtime, cast, published_design(runtime.marketplace, cast), stand_in, http,
                            {"Authorization": f"Bearer {OPERATOR_KEY}"})  # fmt: skip
            order_id = settle.paid_order(quantity=1)
            settle.settle_lines(order_id, install=False)
            settle.onboard(cast.designer)
            wait_until(lambda: settle.payouts(order_id)["designer"].status == "transferred", timeout=WAIT,
                       what="the follower to transfer")  # fmt: skip
            assert len(settle.transfers(order_id)) == 1
    finally:
        server.stop()
        runtime.close()


def test_a_payment_stripe_does_not_know_fails_with_a_clear_reason_for_the_operator(settle: Settle) -> None:
    settle.onboard(settle.cast.designer)
    order_id = settle.app.place_order(settle.cast.buyer, SITE, False, [LineRequest(settle.design_id, 1)]).id
    settle.app.record_payment(order_id, "pi_recorded_elsewhere", settle.app.order(order_id).total_ore, "sek")
    settle.settle_lines(order_id, install=False)
    assert settle.pass_() == {"failed": 1}
    [failing] = settle.http.get("/v1/payouts/transfer-failures", headers={
        **settle.operator, "Vardekedja-Min-Position": str(settle.app.position)}).json()  # fmt: skip
    assert "does not know the payment pi_recorded_elsewhere" in failing["last_error"]
    assert settle.transfers(order_id) == []
