"""Money reaching the parties: transfers, reversals and claims, on in-memory storage and a fake Connect.

The Hypothesis test is the invariant the issue asks for: for random orders,
deliveries and claims, transfers − reversals + platform fee + VAT + refunds =
money received, to the öre, for every order and in total.
"""

from __future__ import annotations

from fractions import Fraction
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.chain import Cast, published_design, register_cast, spec
from tests.unit.connect_fake import FakeConnect
from tests.unit.flow import deliver_line, place_and_pay, settle
from vardekedja.application import Marketplace
from vardekedja.audit.settlement_check import SettlementCheck
from vardekedja.domain.claim import CLAIM_RULE, Claim, InvalidClaimError, Split, split_claim
from vardekedja.domain.errors import ForbiddenError, InvalidTransitionError
from vardekedja.domain.money import round_half_up
from vardekedja.domain.order import LineRequest
from vardekedja.domain.payout import Payout
from vardekedja.domain.payout_account import PayoutAccount

MEMORY = {"PERSISTENCE_MODULE": "eventsourcing.popo"}
PAID = ("designer", "workshop", "area_company")


def market() -> tuple[Marketplace, FakeConnect, Cast]:
    connect = FakeConnect()
    app = Marketplace(MEMORY, payments=connect)  # type: ignore[arg-type]
    return app, connect, register_cast(app)


def ready(app: Marketplace, connect: FakeConnect, organisation_id: UUID) -> str:
    _, link = app.connect_payout_account(organisation_id, "https://back/", "https://back/")
    connect.accounts[link.account_id] = True
    app.record_account_update(organisation_id, link.account_id)
    return link.account_id


def paid(app: Marketplace, connect: FakeConnect, cast: Cast, lines: list[LineRequest], *, install: bool = True,
         intent: str = "pi_1") -> UUID:  # fmt: skip
    order_id = place_and_pay(app, cast, lines, install=install, payment_intent_id=intent)
    connect.pay(intent, app.order(order_id).total_ore)
    return order_id


def pay_everything(app: Marketplace) -> dict[str, int]:
    """What the settlement follower does, without its view: pay_out every payout there is."""
    outcomes: dict[str, int] = {}
    for payout_id in _payout_ids(app):
        outcome = app.pay_out(payout_id)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {k: v for k, v in outcomes.items() if k != "nothing"}


def _payout_ids(app: Marketplace) -> list[UUID]:
    """Every payout, those with a transfer (a reversal may be due) first, as the follower orders them."""
    found = app.recorder.select_notifications(1, 1_000_000, topics=["vardekedja:Payout.Owed"])
    ids = [app.mapper.to_domain_event(n).originator_id for n in found]
    return sorted(ids, key=lambda payout_id: app._get(Payout, payout_id).transfer_id is None)


# The claim split, on its own.


@given(
    parts=st.lists(st.integers(0, 2_000_000), min_size=1, max_size=3),
    fee=st.integers(0, 500_000),
    claims=st.lists(st.integers(1, 10**7), min_size=1, max_size=6),
)
@example(parts=[41073, 40673], fee=1, claims=[1, 48])  # the first rule put both öre the fee had no room for on one part
def test_claims_split_in_proportion_add_up_and_never_take_back_more_than_there_was(
    parts: list[int], fee: int, claims: list[int],
) -> None:  # fmt: skip
    roles = dict(zip(PAID, parts, strict=False))
    net = sum(roles.values()) + fee
    vat = round_half_up(Fraction(net, 4))
    gross = net + vat
    if gross == 0:
        return
    taken = dict.fromkeys(roles, 0)
    claimed = vat_back = fee_back = 0
    roomy = True
    for wanted in claims:
        amount = min(wanted, gross - claimed)
        if amount <= 0:
            with pytest.raises(InvalidClaimError):
                split_claim(amount_ore=wanted, claimed_before_ore=claimed, line_gross_ore=gross, line_vat_ore=vat,
                            payouts={r: (a, taken[r]) for r, a in roles.items()}, vat_before_ore=vat_back)  # fmt: skip
            break
        split = split_claim(amount_ore=amount, claimed_before_ore=claimed, line_gross_ore=gross, line_vat_ore=vat,
                            payouts={r: (a, taken[r]) for r, a in roles.items()}, vat_before_ore=vat_back,
                            fee_before_ore=fee_back)  # fmt: skip
        roomy = roomy and Fraction(fee * amount, gross) >= 3
        assert sum(split.payouts.values()) + split.vat_ore + split.platform_fee_ore == amount
        assert min(*split.payouts.values(), split.vat_ore, split.platform_fee_ore) >= 0
        claimed += amount
        vat_back += split.vat_ore
        fee_back += split.platform_fee_ore
        for role, part in split.payouts.items():
            taken[role] += part
            # Cumulative shares are the half-up proportion of everything claimed so far (to the öre that
            # rounding may have to move where a part would otherwise go below zero or past its amount).
            half_up = round_half_up(Fraction(roles[role] * claimed, gross))
            assert abs(taken[role] - half_up) <= 1
            if roomy:  # every claim's fee share had a few öre to absorb rounding: exactly half-up
                assert taken[role] == half_up
            assert taken[role] <= roles[role]
        assert vat_back <= vat and fee_back <= fee
    if claimed == gross:  # claimed in full: every part gave back all it had
        assert (taken, vat_back, fee_back) == (roles, vat, fee)


# Two öre left over once the fee has none left: the second claim of a line with a one-öre fee.
SKEWED = {"amount_ore": 48, "claimed_before_ore": 1, "line_gross_ore": 102_184, "line_vat_ore": 20_437,
          "payouts": {"designer": (41_073, 0), "workshop": (40_673, 0)}, "vat_before_ore": 0, "fee_before_ore": 1}


def test_the_first_rule_still_gives_what_it_gave_so_old_claims_recompute_as_they_were_recorded() -> None:
    first, now = split_claim(**SKEWED, rule=1), split_claim(**SKEWED)  # type: ignore[arg-type]
    assert first.payouts == {"designer": 20, "workshop": 18} and first.vat_ore == 10  # workshop bore both öre
    assert now.payouts == {"designer": 19, "workshop": 19} and now.vat_ore == 10  # an öre each
    assert now == split_claim(**SKEWED, rule=CLAIM_RULE)  # type: ignore[arg-type]


def test_the_audit_recomputes_each_claim_by_the_rule_it_was_recorded_with() -> None:
    line = {"line_no": 1, "royalty_ore": 41_073, "production_fee_ore": 40_673, "installation_fee_ore": 0,
            "unit_platform_fee_ore": 1, "quantity": 1}  # fmt: skip
    first = split_claim(**{**SKEWED, "amount_ore": 1, "claimed_before_ore": 0, "fee_before_ore": 0})  # type: ignore[arg-type]

    def verified(second: Split, rule: int | None) -> list[str]:
        claims = [{"number": 1, "amount_ore": 1, "payouts": first.payouts, "vat_ore": first.vat_ore,
                   "platform_fee_ore": first.platform_fee_ore},
                  {"number": 2, "amount_ore": 48, "payouts": second.payouts, "vat_ore": second.vat_ore,
                   "platform_fee_ore": second.platform_fee_ore, **({} if rule is None else {"rule": rule})}]  # fmt: skip
        payouts = {role: {"amount": amount, "reduced": first.payouts[role] + second.payouts[role]}
                   for role, (amount, _) in SKEWED["payouts"].items()}  # type: ignore[attr-defined]
        reasons: list[str] = []
        SettlementCheck._check_line("order", 1, claims, {"data": {"lines": [line]}}, payouts, reasons)
        return reasons

    old, new = split_claim(**SKEWED, rule=1), split_claim(**SKEWED)  # type: ignore[arg-type]
    assert verified(old, None) == []  # recorded before claims carried their rule: the first rule
    assert verified(new, 2) == []
    assert verified(old, 2) and verified(new, None)  # split by another rule than the one recorded


def test_a_claim_recorded_before_its_rule_was_loads_as_split_by_the_first_rule() -> None:
    state = {"order_id": "o", "amount_ore": 1}
    Claim.Refunded.upcast_v1_v2(state)
    assert state["rule"] == 1


# Payouts and accounts.


def test_only_a_party_that_is_paid_has_a_payout_account_and_the_provider_is_not_asked_otherwise() -> None:
    app, connect, cast = market()
    with pytest.raises(ForbiddenError):
        app.connect_payout_account(cast.buyer, "https://back/", "https://back/")
    assert connect.calls == 0
    first = app.connect_payout_account(cast.designer, "https://back/", "https://back/")[1]
    again = app.connect_payout_account(cast.designer, "https://back/", "https://back/")[1]
    assert first.account_id == again.account_id and not again.ready
    assert isinstance(app.payout_account(cast.designer), PayoutAccount)


def test_a_payout_waits_for_a_ready_account_then_goes_once_from_the_orders_charge() -> None:
    app, connect, cast = market()
    design = published_design(app, cast)
    order_id = paid(app, connect, cast, [LineRequest(design, 2)], install=False)
    deliver_line(app, cast.workshop, order_id, 1)
    assert pay_everything(app) == {"waiting": 2}
    ready(app, connect, cast.designer)
    assert pay_everything(app) == {"transferred": 1, "waiting": 1}
    [made] = connect.transfers.values()
    designer = next(p for p in app.payouts(app.order(order_id)) if p.role.value == "designer")
    assert (made["amount"], made["source"], made["group"]) == (designer.amount_ore, "ch_pi_1", str(order_id))
    assert made["payout"] == str(designer.id)
    assert pay_everything(app) == {"waiting": 1}, "nothing is paid twice"
    assert designer.status == "transferred"


def test_a_failed_transfer_is_recorded_and_the_next_attempt_makes_it_once() -> None:
    app, connect, cast = market()
    ready(app, connect, cast.designer)
    order_id = paid(app, connect, cast, [LineRequest(published_design(app, cast), 1)], install=False)
    deliver_line(app, cast.workshop, order_id, 1)
    connect.fail_next = 1
    assert pay_everything(app)["failed"] == 1
    designer = next(p for p in app.payouts(app.order(order_id)) if p.role.value == "designer")
    assert (designer.failures, designer.status) == (1, "owed") and "outage" in designer.last_failure
    assert pay_everything(app)["transferred"] == 1
    assert len(connect.transfers) == 1


def test_a_claim_before_the_transfer_shrinks_it_and_one_after_reverses_it() -> None:
    app, connect, cast = market()
    design = published_design(app, cast, spec(royalty_ore=1_001, production_fee_ore=3_333, installation_fee_ore=777))
    order_id = paid(app, connect, cast, [LineRequest(design, 3)], install=True)
    settle(app, cast, order_id)
    line = app.order(order_id).line(1)
    gross = line.amount_ore + line.vat_ore
    ready(app, connect, cast.designer)
    app.claim_refund(order_id, 1, gross // 5, "a slat is cracked")  # before any transfer
    assert pay_everything(app) == {"transferred": 1, "waiting": 2}
    designer = next(p for p in app.payouts(app.order(order_id)) if p.role.value == "designer")
    assert connect.transfers[designer.transfer_id]["amount"] == designer.amount_ore - designer.reduced_ore
    app.claim_refund(order_id, 1, gross // 5, "another slat")  # after the designer's transfer
    assert pay_everything(app) == {"reversed": 1, "waiting": 2}
    designer = app._get(Payout, designer.id)
    assert designer.reversed_ore == designer.reduced_ore - connect_reduction_before(designer, connect)
    assert designer.status == "reversed"
    assert sum(amount for _, amount in connect.refunds.values()) == 2 * (gross // 5)
    with pytest.raises(InvalidClaimError):
        app.claim_refund(order_id, 1, gross, "too much")


def connect_reduction_before(payout: Payout, connect: FakeConnect) -> int:
    """What the first claim took before the transfer (the transfer carried the rest)."""
    return payout.amount_ore - connect.transfers[payout.transfer_id]["amount"]


def test_a_claim_needs_a_settled_line() -> None:
    app, connect, cast = market()
    order_id = paid(app, connect, cast, [LineRequest(published_design(app, cast), 1)], install=True)
    with pytest.raises(InvalidClaimError, match="not delivered"):
        app.claim_refund(order_id, 1, 100, "early")
    deliver_line(app, cast.workshop, order_id, 1)
    with pytest.raises(InvalidClaimError, match="not installed"):
        app.claim_refund(order_id, 1, 100, "early")
    assert not connect.refunds, "nothing was refunded for a refused claim"


def test_a_crash_after_the_reversal_before_its_record_reverses_nothing_twice() -> None:
    app, connect, cast = market()
    ready(app, connect, cast.designer)
    order_id = paid(app, connect, cast, [LineRequest(published_design(app, cast), 2)], install=False)
    deliver_line(app, cast.workshop, order_id, 1)
    pay_everything(app)
    app.claim_refund(order_id, 1, 10_000, "claim")
    designer = next(p for p in app.payouts(app.order(order_id)) if p.role.value == "designer")
    connect.reverse(designer.transfer_id, designer.reversal_due_ore, "made-by-a-process-that-died")
    assert pay_everything(app) == {"reversed": 1, "waiting": 1}
    transfer = connect.transfers[designer.transfer_id]
    assert transfer["reversed"] == app._get(Payout, designer.id).reversed_ore == designer.reversal_due_ore
    assert len(transfer["reversals"]) == 1


def test_recording_a_transfer_twice_changes_nothing_and_another_is_refused() -> None:
    app, connect, cast = market()
    order_id = paid(app, connect, cast, [LineRequest(published_design(app, cast), 1)], install=False)
    deliver_line(app, cast.workshop, order_id, 1)
    payout = app.payouts(app.order(order_id))[0]
    assert payout.record_transfer("tr_1", payout.amount_ore)
    assert not payout.record_transfer("tr_1", payout.amount_ore)
    with pytest.raises(InvalidTransitionError):
        payout.record_transfer("tr_2", payout.amount_ore)


# The invariant.

line_specs = st.tuples(st.integers(0, 300_00), st.integers(1, 9_000_00), st.integers(0, 2_000_00), st.integers(1, 5))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    orders=st.lists(st.tuples(st.lists(line_specs, min_size=1, max_size=3), st.booleans()), min_size=1, max_size=3),
    steps=st.lists(st.tuples(st.sampled_from(["claim", "pay", "ready"]), st.integers(0, 10**9)), max_size=10),
    fee=st.sampled_from(["0", "0.10", "0.125", "0.333"]),
)
def test_money_received_equals_transfers_less_reversals_plus_fee_vat_and_refunds(
    orders: list[tuple[list[tuple[int, int, int, int]], bool]], steps: list[tuple[str, int]], fee: str,
) -> None:  # fmt: skip
    connect = FakeConnect()
    app = Marketplace(MEMORY, payments=connect, platform_fee_rate=Fraction(fee))  # type: ignore[arg-type]
    cast = register_cast(app)
    placed = []
    for index, (lines, install) in enumerate(orders):
        requests = [LineRequest(published_design(app, cast, spec(royalty_ore=r, production_fee_ore=p,
                                                                  installation_fee_ore=i)), q)
                    for r, p, i, q in lines]  # fmt: skip
        placed.append(paid(app, connect, cast, requests, install=install, intent=f"pi_{index}"))
    for order_id in placed:
        settle(app, cast, order_id)
    parties = [cast.designer, cast.workshop, cast.area_company]
    for kind, pick in steps:
        if kind == "ready":
            ready(app, connect, parties[pick % 3])
        elif kind == "pay":
            connect.fail_next = pick % 3  # the provider fails now and then; the next pass makes up for it
            pay_everything(app)
            connect.fail_next = 0
        else:
            order = app.order(placed[pick % len(placed)])
            line = order.lines[pick % len(order.lines)]
            left = line.amount_ore + line.vat_ore - sum(c.amount_ore for c in app.claims(order.id, line.line_no))
            if left > 0:
                app.claim_refund(order.id, line.line_no, 1 + pick % left, "claim")
    for party in parties:
        ready(app, connect, party)
    pay_everything(app)
    assert pay_everything(app) == {}, "everything due was paid"
    received_total = accounted_total = 0
    for order_id in placed:
        order = app.order(order_id)
        claims = [c for line in order.lines for c in app.claims(order_id, line.line_no)]
        fee_kept = order.platform_fee_ore - sum(c.platform_fee_ore for c in claims)
        vat_kept = order.vat_ore - sum(c.vat_ore for c in claims)
        refunded = connect.refunded(order.paid_payment_intent_id)
        accounted = connect.transferred(order_id) + fee_kept + vat_kept + refunded
        assert accounted == order.paid_ore, f"order {order_id} is off by {order.paid_ore - accounted} öre"
        assert fee_kept >= 0 and vat_kept >= 0
        received_total += order.paid_ore
        accounted_total += accounted
    assert accounted_total == received_total
