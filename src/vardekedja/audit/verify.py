"""Verification of an event history: its hash chain, its signed checkpoints, and its money.

The same checks run over an export file (offline, with nothing but the file
and the public key) and over the live store. The first broken link is
reported with the position where the history stops being what was recorded;
positions are numbered without gaps on SQLite, so a missing or displaced
event is named by the position it should have had.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any
from uuid import UUID

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from vardekedja.audit.encoding import GENESIS, canonical, chain, checkpoint_message
from vardekedja.audit.keys import signature_valid
from vardekedja.audit.settlement_check import PAYOUT_EVENTS, SettlementCheck
from vardekedja.domain.money import VAT_RATE, round_half_up


@dataclass(frozen=True)
class Finding:
    position: int
    kind: str
    detail: str

    def __str__(self) -> str:
        return f"position {self.position}: {self.kind}: {self.detail}"


@dataclass
class Report:
    events_checked: int = 0
    head_position: int = 0
    head_hash: str = GENESIS
    first_break: Finding | None = None
    checkpoints_checked: int = 0
    checkpoint_problems: list[Finding] = field(default_factory=list)
    money_problems: list[dict[str, Any]] = field(default_factory=list)
    orders_checked: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.first_break is None and not self.checkpoint_problems and not self.money_problems

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok, "events_checked": self.events_checked, "head_position": self.head_position,
            "head_hash": self.head_hash,
            "first_break": None if self.first_break is None else vars(self.first_break),
            "checkpoints_checked": self.checkpoints_checked,
            "checkpoint_problems": [vars(finding) for finding in self.checkpoint_problems],
            "orders_checked": self.orders_checked, "money_problems": self.money_problems, "notes": self.notes,
        }  # fmt: skip


class ChainCheck:
    """Feed records in file (or position) order; it finds the first place the chain breaks."""

    def __init__(self, report: Report, previous_position: int = 0, previous_hash: str = GENESIS) -> None:
        self.report = report
        self.last_position = previous_position
        self.last_hash = previous_hash
        self.stored: dict[int, str] = {previous_position: previous_hash}
        self.checkpointed: set[int] = set()  # the positions checkpoints claim to sign

    def feed(self, record: dict[str, Any]) -> None:
        report = self.report
        report.events_checked += 1
        position = int(record["position"])
        if report.first_break is not None:
            return
        expected = self.last_position + 1
        if position <= self.last_position:
            # Named by the position it claims: the history is no longer what was recorded from there.
            report.first_break = Finding(position, "reordered or inserted",
                                         f"position {position} follows position {self.last_position}")  # fmt: skip
            return
        if record["data"] is None:
            report.first_break = Finding(position, "removed", "the chain vouches for an event the log lacks")
            return
        encoded = canonical(position, record["stream_id"], record["version"], record["type"], record["time"],
                            record["data"])  # fmt: skip
        if chain(self.last_hash, encoded) != record["hash"]:
            if position > expected:
                report.first_break = Finding(expected, "removed or reordered",
                                             f"the event at {expected} is missing; the chain breaks at {position}")  # fmt: skip
            else:
                report.first_break = Finding(position, "changed or inserted",
                                             "the event does not hash to its recorded link in the chain")  # fmt: skip
            return
        self.last_position, self.last_hash = position, record["hash"]
        self.stored[position] = record["hash"]
        report.head_position, report.head_hash = position, record["hash"]

    def check_checkpoints(self, checkpoints: Iterable[dict[str, Any]], public: Ed25519PublicKey | None) -> None:
        """Check each checkpoint's signature and that the chain fed so far reaches its head.

        A checkpoint past the last event fed names events the history lacks
        (a truncated file, or a store whose newest events and links are gone).
        """
        report = self.report
        for checkpoint in checkpoints:
            report.checkpoints_checked += 1
            position, head = int(checkpoint["position"]), checkpoint["head"]
            self.checkpointed.add(position)
            if public is not None and not signature_valid(public, checkpoint["signature"],
                                                          checkpoint_message(position, head)):  # fmt: skip
                report.checkpoint_problems.append(Finding(position, "bad signature",
                                                          "the checkpoint is not signed by the audit key"))  # fmt: skip
            elif position in self.stored and self.stored[position] != head:
                report.checkpoint_problems.append(Finding(position, "history rewritten",
                                                          "the chain here differs from the signed checkpoint"))  # fmt: skip
            elif position not in self.stored and report.first_break is None:
                report.checkpoint_problems.append(Finding(position, "no such event",
                                                          "the checkpoint names a position the history lacks"))  # fmt: skip

    def check_head_signed(self, start: int) -> None:
        """An export ends with a checkpoint of its last event; without one its tail could be anything.

        (A checkpoint past the last event has been reported already: the file lacks events it signed.)
        """
        report, head = self.report, self.report.head_position
        if report.first_break is None and head > start and not any(p >= head for p in self.checkpointed):
            report.checkpoint_problems.append(Finding(head, "unsigned head",
                                                      "no checkpoint signs the last event"))  # fmt: skip


def plain(value: Any) -> Any:
    """Unwrap the library's typed JSON values ({"_type_": "uuid_hex", "_data_": …}) to plain ones."""
    kind = type(value)  # JSON gives exact dicts and lists; scalars are returned without a call per item
    if kind is dict:
        if "_type_" in value and "_data_" in value:
            return plain(value["_data_"])
        return {key: plain(item) if type(item) in _NESTED else item for key, item in value.items()}
    if kind is list:
        return [plain(item) if type(item) in _NESTED else item for item in value]
    return value


_NESTED = (dict, list)


class MoneyCheck:
    """Recomputes every order's money from its events alone."""

    def __init__(self, *, from_start: bool = True) -> None:
        # Fed a history that does not begin at the first event, a payout may be for an order placed
        # before it: that order cannot be checked, but it is no sign the order was never placed.
        self.from_start = from_start
        self.orders: dict[str, dict[str, Any]] = {}
        self.payouts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.settlement = SettlementCheck(plain)  # claims, transfers and reversals

    def feed(self, record: dict[str, Any]) -> None:
        kind = record["type"].removeprefix("vardekedja:")
        if record.get("data") is None:
            return  # a damaged event (no data) is named by the chain check
        if kind in PAYOUT_EVENTS or kind == "Claim.Refunded":
            self.settlement.feed(kind, record)
        if not kind.startswith(("Order.", "Payout.Owed")):
            return
        # Only the events whose typed values are read are unwrapped (``plain``): it is the costly part.
        if kind == "Payout.Owed":
            data = record["data"]
            self.payouts[str(UUID(plain(data["order_id"])))].append(data)
            return
        if kind == "Order.Placed":
            self.orders[record["stream_id"]] = {"data": plain(record["data"]), "paid": 0, "refunded": 0,
                                                "status": "placed"}  # fmt: skip
            return
        order = self.orders.get(record["stream_id"])
        if order is None:
            return
        if kind == "Order.PaymentReceived":
            order["paid"] += plain(record["data"]["amount_ore"])
            order["status"] = "paid" if order["status"] == "placed" else order["status"]
        elif kind == "Order.Refunded":
            order["refunded"] += plain(record["data"]["amount_ore"])
        elif kind == "Order.Fulfilled":
            order["status"] = "fulfilled"
        elif kind == "Order.Cancelled":
            order["status"] = "cancelled"

    def problems(self) -> list[dict[str, Any]]:
        found = []
        for order_id, order in self.orders.items():
            reasons = self._check(order_id, order)
            if reasons:
                found.append({"order_id": order_id, "problems": reasons})
        if self.from_start:
            for order_id in self.unseen_orders():
                found.append({"order_id": order_id, "problems": ["payouts owed for an order that was never placed"]})
        for order_id, reasons in self.settlement.problems(self.orders).items():
            entry = next((item for item in found if item["order_id"] == order_id), None)
            if entry is None:
                found.append({"order_id": order_id, "problems": reasons})
            else:
                entry["problems"].extend(reasons)
        return found

    def unseen_orders(self) -> list[str]:
        """Orders that payouts name but whose placing was not fed."""
        return sorted(self.payouts.keys() - self.orders.keys())

    def _check(self, order_id: str, order: dict[str, Any]) -> list[str]:
        data, reasons = order["data"], []
        rate = Fraction(data["platform_fee_rate"])
        subtotal = vat = platform_fee = 0
        limits: dict[tuple[int, str], int] = {}
        for line in data["lines"]:
            base = line["royalty_ore"] + line["production_fee_ore"] + line["installation_fee_ore"]
            if line["unit_platform_fee_ore"] != round_half_up(base * rate):
                reasons.append(f"line {line['line_no']}: platform fee is not {rate} of {base} öre, rounded half-up")
            amount = (base + line["unit_platform_fee_ore"]) * line["quantity"]
            subtotal += amount
            vat += round_half_up(amount * VAT_RATE)
            platform_fee += line["unit_platform_fee_ore"] * line["quantity"]
            for role, part in (("designer", "royalty_ore"), ("workshop", "production_fee_ore"),
                               ("area_company", "installation_fee_ore")):  # fmt: skip
                limits[(line["line_no"], role)] = line[part] * line["quantity"]
        total = subtotal + vat
        owed = self.payouts.get(order_id, [])
        for payout in owed:
            limit = limits.get((payout["line_no"], payout["role"]))
            if limit is None or payout["amount_ore"] != limit:
                reasons.append(f"line {payout['line_no']}: {payout['role']} is owed {payout['amount_ore']} öre, "
                               f"not {limit}")  # fmt: skip
        net = order["paid"] - order["refunded"]
        if order["status"] == "cancelled":
            if net != 0:
                reasons.append(f"cancelled, but {net} öre paid is not refunded")
            if owed:
                reasons.append("cancelled, but payouts are owed")
        elif order["status"] != "placed" and net != total:
            reasons.append(f"paid {net} öre net of refunds, but the total is {total} öre")
        elif order["status"] == "placed" and owed:
            reasons.append("payouts are owed on an unpaid order")
        if order["status"] == "fulfilled" and sum(p["amount_ore"] for p in owed) + platform_fee != subtotal:
            reasons.append(f"payouts {sum(p['amount_ore'] for p in owed)} + platform fee {platform_fee} "
                           f"≠ {subtotal} öre ex VAT")  # fmt: skip
        return reasons
