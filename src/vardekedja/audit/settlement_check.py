"""Claims and transfers recomputed from the events alone, for ``audit verify`` (beside MoneyCheck).

For every claim: its parts add up to its refund, and they are what the rule gives (``split_claim``, the
same fold the marketplace used: half-up proportions of all claims on the line so far); the line's claims
never exceed what the line cost. For every payout: what claims took from it is what they said they took,
no more than it was owed; its transfer carried no more than it was owed; its reversals no more than the
transfer carried.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from uuid import UUID

from vardekedja.domain.claim import InvalidClaimError, split_claim
from vardekedja.domain.money import VAT_RATE, round_half_up

PAYOUT_EVENTS = ("Payout.Owed", "Payout.Transferred", "Payout.TransferAttached", "Payout.Reduced", "Payout.Reversed")


class SettlementCheck:
    def __init__(self, plain: Any) -> None:
        self.plain = plain
        self.payouts: dict[str, dict[str, Any]] = {}  # payout stream -> what it was owed and what happened
        self.claims: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)

    def feed(self, kind: str, record: dict[str, Any]) -> None:
        data = record["data"]
        if kind == "Claim.Refunded":
            claim = self.plain(data)
            self.claims[(str(UUID(claim["order_id"])), int(claim["line_no"]))].append(claim)
            return
        if kind == "Payout.Owed":
            owed = self.plain(data)
            self.payouts[record["stream_id"]] = {"order_id": str(UUID(owed["order_id"])), "line_no": owed["line_no"],
                                                 "role": owed["role"], "amount": owed["amount_ore"],
                                                 "reduced": 0, "transferred": None, "reversed": 0}  # fmt: skip
            return
        payout = self.payouts.get(record["stream_id"])
        if payout is None:
            return
        if kind == "Payout.Transferred":
            payout["transferred"] = self.plain(data["amount_ore"])
        elif kind == "Payout.TransferAttached":
            payout["transferred"] = payout["amount"] - payout["reduced"]
        elif kind == "Payout.Reduced":
            payout["reduced"] += self.plain(data["amount_ore"])
        elif kind == "Payout.Reversed":
            payout["reversed"] += self.plain(data["amount_ore"])

    def problems(self, orders: dict[str, dict[str, Any]]) -> dict[str, list[str]]:
        """Reasons by order id."""
        found: dict[str, list[str]] = defaultdict(list)
        by_line: dict[tuple[str, int], dict[str, dict[str, Any]]] = defaultdict(dict)
        for payout in self.payouts.values():
            by_line[(payout["order_id"], payout["line_no"])][payout["role"]] = payout
            reasons = found[payout["order_id"]]
            where = f"line {payout['line_no']}: {payout['role']}"
            if payout["reduced"] > payout["amount"]:
                reasons.append(f"{where} gave back {payout['reduced']} öre of {payout['amount']} owed")
            if payout["transferred"] is not None and payout["transferred"] > payout["amount"]:
                reasons.append(f"{where} was transferred {payout['transferred']} öre of {payout['amount']} owed")
            if payout["reversed"] > (payout["transferred"] or 0):
                reasons.append(f"{where} had {payout['reversed']} öre reversed of {payout['transferred'] or 0} transferred")
        for (order_id, line_no), claims in self.claims.items():
            self._check_line(order_id, line_no, claims, orders.get(order_id), by_line[(order_id, line_no)], found[order_id])
        return {order_id: reasons for order_id, reasons in found.items() if reasons}

    @staticmethod
    def _check_line(order_id: str, line_no: int, claims: list[dict[str, Any]], order: dict[str, Any] | None,
                    payouts: dict[str, dict[str, Any]], reasons: list[str]) -> None:  # fmt: skip
        if order is None:
            reasons.append(f"line {line_no}: claims on an order that was never placed")
            return
        line = next((item for item in order["data"]["lines"] if item["line_no"] == line_no), None)
        if line is None:
            reasons.append(f"claims on line {line_no}, which the order does not have")
            return
        base = line["royalty_ore"] + line["production_fee_ore"] + line["installation_fee_ore"]
        amount = (base + line["unit_platform_fee_ore"]) * line["quantity"]
        vat = round_half_up(amount * VAT_RATE)
        taken = dict.fromkeys(payouts, 0)
        claimed = vat_back = fee_back = 0
        for claim in sorted(claims, key=lambda c: c["number"]):
            try:
                expected = split_claim(amount_ore=claim["amount_ore"], claimed_before_ore=claimed,
                                       line_gross_ore=amount + vat, line_vat_ore=vat,
                                       payouts={role: (p["amount"], taken[role]) for role, p in payouts.items()},
                                       vat_before_ore=vat_back, fee_before_ore=fee_back,
                                       rule=claim.get("rule", 1))  # fmt: skip
            except InvalidClaimError as error:
                reasons.append(f"line {line_no}: claim {claim['number']}: {error}")
                return
            given = (claim["payouts"], claim["vat_ore"], claim["platform_fee_ore"])
            if given != (expected.payouts, expected.vat_ore, expected.platform_fee_ore):
                reasons.append(f"line {line_no}: claim {claim['number']} split {given}, the rule gives "
                               f"{(expected.payouts, expected.vat_ore, expected.platform_fee_ore)}")  # fmt: skip
            claimed += claim["amount_ore"]
            vat_back += claim["vat_ore"]
            fee_back += claim["platform_fee_ore"]
            for role, part in claim["payouts"].items():
                taken[role] = taken.get(role, 0) + part
        for role, payout in payouts.items():
            if payout["reduced"] != taken.get(role, 0):
                reasons.append(f"line {line_no}: {role} gave back {payout['reduced']} öre; its claims say {taken.get(role, 0)}")
