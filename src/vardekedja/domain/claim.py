"""Claims: part of a delivered line given back to the buyer, and who bears it.

A claim refunds ``amount_ore`` (VAT included) of one settled line. The line's
payouts give back their share in proportion, rounded half-up; VAT its share the
same way; the platform fee bears what is left, so the parts add up to the
refund to the öre. Shares are computed on the line's claims so far taken
together, so many small claims round no differently from one large one and
never take back more than the line had.

A claim's id is derived from (order, line, its number on the line), so two
claims racing for the same line conflict and the second is decided again on
fresh state.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import InvalidTransitionError, RuleViolationError
from vardekedja.domain.money import round_half_up


class InvalidClaimError(RuleViolationError):
    """A claim that does not fit its line: too much, nothing, or a line not settled yet."""


def claim_id(order_id: UUID, line_no: int, number: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"vardekedja:order/{order_id}/line/{line_no}/claim/{number}")


@dataclass(frozen=True)
class Split:
    """How one claim's refund is borne: by each payout (by role), by VAT and by the platform fee."""

    payouts: dict[str, int]
    vat_ore: int
    platform_fee_ore: int


# The rule a claim was split by, recorded with it (``Claim.Refunded.rule``) so that an audit recomputes each
# claim by its own rule. 1: what rounding left over once the fee had no room went to one part, as much as it
# had room for (a part could end up two öre from its share). 2: it goes an öre at a time to each part in turn.
CLAIM_RULE = 2


def split_claim(*, amount_ore: int, claimed_before_ore: int, line_gross_ore: int, line_vat_ore: int,
                payouts: dict[str, tuple[int, int]], vat_before_ore: int, fee_before_ore: int = 0,
                rule: int = CLAIM_RULE) -> Split:  # fmt: skip
    """Share a refund among the line's parts.

    ``payouts`` maps a role to (its amount, what claims already took from it);
    ``vat_before_ore`` and ``fee_before_ore`` are what earlier claims took from VAT and the fee.
    Each payout's share is the half-up proportion of all claims so far; VAT likewise; the fee bears the
    rest. Where the fee has no room left for what rounding leaves over (or took too much), and where
    rounding would push a part below zero or past what it had, the öre go to the other parts with room, one
    to each in turn (``rule`` 2), so every part stays within its line and an öre of its share, and the sum is
    exact.
    """
    if line_gross_ore <= 0 or not 0 < amount_ore <= line_gross_ore - claimed_before_ore:
        raise InvalidClaimError(
            f"a claim of {amount_ore} öre does not fit what is left of the line "
            f"({line_gross_ore - claimed_before_ore} öre)", field="amount_ore")  # fmt: skip
    share = Fraction(claimed_before_ore + amount_ore, line_gross_ore)
    fee_total = line_gross_ore - line_vat_ore - sum(amount for amount, _ in payouts.values())
    room = {role: amount - before for role, (amount, before) in payouts.items()}
    room["vat"], room["fee"] = line_vat_ore - vat_before_ore, fee_total - fee_before_ore
    parts = {role: round_half_up(amount * share) - before for role, (amount, before) in payouts.items()}
    parts["vat"] = round_half_up(line_vat_ore * share) - vat_before_ore
    parts = {name: min(max(part, 0), room[name]) for name, part in parts.items()}
    parts["fee"] = 0
    parts["fee"] = min(max(amount_ore - sum(parts.values()), 0), room["fee"])
    excess = amount_ore - sum(parts.values())  # what rounding left over (or took too much), rarely an öre or two
    order = ["fee", "vat", *sorted(payouts, key=lambda role: -room[role])]
    if rule == 1:
        for name in order if excess > 0 else reversed(order):
            step = min(excess, room[name] - parts[name]) if excess > 0 else -min(-excess, parts[name])
            parts[name] += step
            excess -= step
    else:
        step, turn = (1, order) if excess > 0 else (-1, order[::-1])
        while excess:
            movable = [name for name in turn if 0 <= parts[name] + step <= room[name]][:abs(excess)]
            if not movable:
                break
            for name in movable:
                parts[name] += step
            excess -= step * len(movable)
    vat, fee = parts.pop("vat"), parts.pop("fee")
    return Split(payouts=parts, vat_ore=vat, platform_fee_ore=fee)


class Claim(Aggregate):
    TOPIC = "vardekedja:Claim"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Claim.Created"

    class Refunded(Created):
        TOPIC = "vardekedja:Claim.Refunded"
        order_id: UUID
        line_no: int
        number: int
        amount_ore: int
        reason: str
        refund_id: str
        payment_intent_id: str
        payouts: dict[str, int]
        vat_ore: int
        platform_fee_ore: int
        class_version = 2
        rule: int

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["rule"] = 1  # claims recorded before the rule was recorded were split by the first

    @staticmethod
    def create_id(order_id: UUID, line_no: int, number: int, **_: object) -> UUID:
        return claim_id(order_id, line_no, number)

    @event(Refunded)
    def __init__(self, *, order_id: UUID, line_no: int, number: int, amount_ore: int, reason: str, refund_id: str,
                 payment_intent_id: str, payouts: dict[str, int], vat_ore: int, platform_fee_ore: int,
                 rule: int) -> None:  # fmt: skip
        if sum(payouts.values()) + vat_ore + platform_fee_ore != amount_ore:
            raise InvalidTransitionError("a claim's parts must add up to its refund")
        self.order_id = order_id
        self.line_no = line_no
        self.number = number
        self.amount_ore = amount_ore
        self.reason = reason
        self.refund_id = refund_id
        self.payment_intent_id = payment_intent_id
        self.payouts = dict(payouts)
        self.vat_ore = vat_ore
        self.platform_fee_ore = platform_fee_ore
        self.rule = rule
