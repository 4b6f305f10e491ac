"""``audit verify`` recomputes claims and transfers from the events alone, as it recomputes orders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.chain import Cast, published_design, register_cast
from tests.unit.connect_fake import FakeConnect
from tests.unit.flow import place_and_pay, settle
from vardekedja.audit.log import verify_store
from vardekedja.domain.claim import CLAIM_RULE, Claim
from vardekedja.domain.order import LineRequest
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings


@pytest.fixture
def market(tmp_path: Path) -> Iterator[tuple[Runtime, FakeConnect, Cast]]:
    connect = FakeConnect()
    runtime = Runtime(Settings(data_dir=tmp_path, database_url=None), payments=connect)  # type: ignore[arg-type]
    try:
        yield runtime, connect, register_cast(runtime.marketplace)
    finally:
        runtime.close()


def claimed_and_reversed(runtime: Runtime, connect: FakeConnect, cast: Cast) -> tuple[object, int]:
    app = runtime.marketplace
    order_id = place_and_pay(app, cast, [LineRequest(published_design(app, cast), 3)], install=True)
    connect.pay("pi_1", app.order(order_id).total_ore)
    settle(app, cast, order_id)
    for party in (cast.designer, cast.workshop, cast.area_company):
        _, link = app.connect_payout_account(party, "https://back/", "https://back/")
        connect.accounts[link.account_id] = True
        app.record_account_update(party, link.account_id)
    for payout in app.payouts(app.order(order_id)):
        app.pay_out(payout.id)
    line = app.order(order_id).line(1)
    app.claim_refund(order_id, 1, (line.amount_ore + line.vat_ore) // 7, "a scratch")
    for payout in app.payouts(app.order(order_id)):
        assert app.pay_out(payout.id) == "reversed"
    return order_id, line.amount_ore + line.vat_ore


def test_claims_transfers_and_reversals_made_by_the_rules_verify(market: tuple[Runtime, FakeConnect, Cast]) -> None:
    runtime, connect, cast = market
    claimed_and_reversed(runtime, connect, cast)
    runtime.projector.catch_up()
    report = verify_store(runtime.audited_log)
    assert report.ok and report.money_problems == []


def test_a_claim_split_against_the_rule_is_reported_naming_the_order(market: tuple[Runtime, FakeConnect, Cast]) -> None:
    runtime, connect, cast = market
    order_id, gross = claimed_and_reversed(runtime, connect, cast)
    app = runtime.marketplace
    # A second claim recorded behind the rules' back: all of it on the designer, none on VAT or the fee.
    rogue = Claim(order_id=order_id, line_no=1, number=1, amount_ore=1_000, reason="rogue", refund_id="re_x",
                  payment_intent_id="pi_1", payouts={"designer": 1_000, "workshop": 0, "area_company": 0},
                  vat_ore=0, platform_fee_ore=0, rule=CLAIM_RULE)  # fmt: skip
    app.save(rogue)
    runtime.projector.catch_up()
    report = verify_store(runtime.audited_log)
    [problem] = report.money_problems
    assert problem["order_id"] == str(order_id)
    assert any("claim 1 split" in reason for reason in problem["problems"]), problem
    assert any("designer gave back" in reason and "its claims say" in reason for reason in problem["problems"]), problem
    assert not report.ok
