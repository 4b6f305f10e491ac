"""The money ledger: every movement of money as a balanced entry, and each order's sums for reconciliation.

One entry per event that moves or re-labels money, in five columns: ``bank``
(our Stripe balance, a debit: + in, − out) and the four things it is owed to
or earned as (credits): ``vat`` (output VAT), ``fee`` (the platform's
revenue), ``parties`` (held for designers, workshops and area companies) and
``refund_due`` (owed back to buyers). Every entry balances:
bank = vat + fee + parties + refund_due. The SIE export (sie.py) writes one
verification per entry; the reconciliation reads the per-order sums.

- a payment that pays its order: bank +total; vat, fee, parties + their parts
- a payment the order no longer wanted, or one that did not match it: bank +, refund_due +
- a paid order cancelled: vat, fee, parties −, refund_due +total
- a refund of such money: bank −, refund_due −
- a transfer to a party: bank −, parties −; a reversal: bank +, parties +
- a claim: bank −amount; vat, fee, parties − the claim's parts
"""

from __future__ import annotations

from datetime import datetime
from functools import singledispatchmethod
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.claim import Claim
from vardekedja.domain.order import Order, OrderLine
from vardekedja.domain.payout import Payout
from vardekedja.projections.base import Projection, View
from vardekedja.storage.types import UtcDateTime

COLUMNS = ("bank", "vat", "fee", "parties", "refund_due")
SUMS = ("received_ore", "refunded_ore", "vat_ore", "fee_ore", "parties_ore", "total_ore", "claims_vat_ore",
        "claims_fee_ore", "payouts_owed_ore", "payouts_reduced_ore", "transferred_ore", "refund_due_ore")  # fmt: skip


class LedgerView(View):
    def define(self) -> None:
        self.orders = sa.Table(
            self.table_name("orders"), self.metadata,
            sa.Column("order_id", sa.Uuid, primary_key=True),
            sa.Column("status", sa.String, nullable=False),
            sa.Column("first_money_at", UtcDateTime, nullable=True, index=True),
            *[sa.Column(name, sa.BigInteger, nullable=False) for name in SUMS],
        )  # fmt: skip
        self.payouts = sa.Table(
            self.table_name("payouts"), self.metadata,
            sa.Column("payout_id", sa.Uuid, primary_key=True),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("net_ore", sa.BigInteger, nullable=False),
        )  # fmt: skip
        self.entries = sa.Table(
            self.table_name("entries"), self.metadata,
            sa.Column("position", sa.BigInteger, primary_key=True),
            sa.Column("at", UtcDateTime, nullable=False, index=True),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("kind", sa.String, nullable=False),
            sa.Column("reference", sa.String, nullable=False),
            *[sa.Column(name, sa.BigInteger, nullable=False) for name in COLUMNS],
        )  # fmt: skip

    def orders_between(self, connection: Connection, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
        """Orders whose first money arrived in [start, end), oldest first."""
        o = self.orders
        query = sa.select(o).where(o.c.first_money_at.is_not(None)).order_by(o.c.first_money_at, o.c.order_id)
        if start is not None:
            query = query.where(o.c.first_money_at >= start)
        if end is not None:
            query = query.where(o.c.first_money_at < end)
        return [dict(row._mapping) for row in connection.execute(query)]

    def entries_between(self, connection: Connection, start: datetime | None, end: datetime | None) -> list[dict[str, Any]]:
        """Entries made in [start, end), in the order they happened."""
        e = self.entries
        query = sa.select(e).order_by(e.c.position)
        if start is not None:
            query = query.where(e.c.at >= start)
        if end is not None:
            query = query.where(e.c.at < end)
        return [dict(row._mapping) for row in connection.execute(query)]


class LedgerProjection(Projection):
    name = "ledger"
    view_class = LedgerView
    view: LedgerView

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events move no money."""

    def _entry(self, domain_event: Any, position: int, order: dict[str, Any], kind: str, reference: str,
               **amounts: int) -> None:  # fmt: skip
        row = {name: amounts.get(name, 0) for name in COLUMNS}
        assert row["bank"] == row["vat"] + row["fee"] + row["parties"] + row["refund_due"], (kind, row)
        self.insert(self.view.entries, position=position, at=domain_event.timestamp, order_id=order["order_id"],
                    kind=kind, reference=reference, **row)  # fmt: skip
        order["refund_due_ore"] += row["refund_due"]
        if order["first_money_at"] is None and row["bank"] > 0:
            order["first_money_at"] = domain_event.timestamp

    def _order(self, order_id: Any) -> dict[str, Any] | None:
        return self.row(self.view.orders, order_id)

    @process_event.register
    def _(self, domain_event: Order.Placed, position: int) -> None:
        lines = [OrderLine.from_dict(line) for line in domain_event.lines]
        vat = sum(line.vat_ore for line in lines)
        fee = sum(line.platform_fee_ore for line in lines)
        subtotal = sum(line.amount_ore for line in lines)
        self.insert(self.view.orders, order_id=domain_event.originator_id, status="placed", first_money_at=None,
                    **dict.fromkeys(SUMS, 0) | {"vat_ore": vat, "fee_ore": fee, "parties_ore": subtotal - fee,
                                                "total_ore": subtotal + vat})  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.PaymentReceived, position: int) -> None:
        order = self._order(domain_event.originator_id)
        if order is None:
            return
        amount = domain_event.amount_ore
        order["received_ore"] += amount
        reference = domain_event.payment_intent_id
        if order["status"] == "placed":  # as Order._payment_received: the first payment received pays it
            order["status"] = "paid"
            self._entry(domain_event, position, order, "payment", reference, bank=amount, vat=order["vat_ore"],
                        fee=order["fee_ore"], parties=amount - order["vat_ore"] - order["fee_ore"])  # fmt: skip
        else:
            self._entry(domain_event, position, order, "payment to return", reference, bank=amount, refund_due=amount)

    @process_event.register
    def _(self, domain_event: Order.PaymentMismatched, position: int) -> None:
        order = self._order(domain_event.originator_id)
        if order is not None:
            order["received_ore"] += domain_event.amount_ore
            self._entry(domain_event, position, order, "payment not matching the order", domain_event.payment_intent_id,
                        bank=domain_event.amount_ore, refund_due=domain_event.amount_ore)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.Cancelled, position: int) -> None:
        order = self._order(domain_event.originator_id)
        if order is None:
            return
        if order["status"] == "paid":
            self._entry(domain_event, position, order, "order cancelled", "", vat=-order["vat_ore"],
                        fee=-order["fee_ore"], parties=-order["parties_ore"], refund_due=order["total_ore"])  # fmt: skip
        order["status"] = "cancelled"

    @process_event.register
    def _(self, domain_event: Order.Refunded, position: int) -> None:
        order = self._order(domain_event.originator_id)
        if order is not None:
            order["refunded_ore"] += domain_event.amount_ore
            self._entry(domain_event, position, order, "refund", domain_event.refund_id,
                        bank=-domain_event.amount_ore, refund_due=-domain_event.amount_ore)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Payout.Owed, position: int) -> None:
        self.insert(self.view.payouts, payout_id=domain_event.originator_id, order_id=domain_event.order_id,
                    net_ore=domain_event.amount_ore)  # fmt: skip
        order = self._order(domain_event.order_id)
        if order is not None:
            order["payouts_owed_ore"] += domain_event.amount_ore

    def _payout_order(self, payout_id: Any) -> tuple[dict[str, Any], dict[str, Any]] | None:
        payout = self.row(self.view.payouts, payout_id)
        order = self._order(payout["order_id"]) if payout is not None else None
        return (payout, order) if payout is not None and order is not None else None

    def _transferred(self, domain_event: Any, position: int, amount: int, transfer_id: str) -> None:
        found = self._payout_order(domain_event.originator_id)
        if found is not None:
            _, order = found
            order["transferred_ore"] += amount
            self._entry(domain_event, position, order, "transfer", transfer_id, bank=-amount, parties=-amount)

    @process_event.register
    def _(self, domain_event: Payout.Transferred, position: int) -> None:
        self._transferred(domain_event, position, domain_event.amount_ore, domain_event.transfer_id)

    @process_event.register
    def _(self, domain_event: Payout.TransferAttached, position: int) -> None:
        found = self._payout_order(domain_event.originator_id)
        if found is not None:
            self._transferred(domain_event, position, found[0]["net_ore"], domain_event.transfer_id)

    @process_event.register
    def _(self, domain_event: Payout.Reduced, position: int) -> None:
        found = self._payout_order(domain_event.originator_id)
        if found is not None:
            payout, order = found
            payout["net_ore"] -= domain_event.amount_ore
            order["payouts_reduced_ore"] += domain_event.amount_ore

    @process_event.register
    def _(self, domain_event: Payout.Reversed, position: int) -> None:
        found = self._payout_order(domain_event.originator_id)
        if found is not None:
            _, order = found
            order["transferred_ore"] -= domain_event.amount_ore
            self._entry(domain_event, position, order, "transfer reversed", domain_event.reversal_id,
                        bank=domain_event.amount_ore, parties=domain_event.amount_ore)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Claim.Refunded, position: int) -> None:
        order = self._order(domain_event.order_id)
        if order is None:
            return
        order["refunded_ore"] += domain_event.amount_ore
        order["claims_vat_ore"] += domain_event.vat_ore
        order["claims_fee_ore"] += domain_event.platform_fee_ore
        self._entry(domain_event, position, order, "claim", domain_event.refund_id, bank=-domain_event.amount_ore,
                    vat=-domain_event.vat_ore, fee=-domain_event.platform_fee_ore,
                    parties=-sum(domain_event.payouts.values()))  # fmt: skip


def reconcile(order: dict[str, Any]) -> dict[str, Any]:
    """One order's money: received = VAT + platform fee + transferred + owed + refunded, and the difference.

    A difference is explained where it can be: money for lines not yet delivered or installed (nobody is
    owed it yet) and money still to be given back to the buyer; ``unexplained_ore`` is what is left.
    """
    kept = order["status"] == "paid"
    vat = order["vat_ore"] - order["claims_vat_ore"] if kept else 0
    fee = order["fee_ore"] - order["claims_fee_ore"] if kept else 0
    transferred = order["transferred_ore"]
    owed = order["payouts_owed_ore"] - order["payouts_reduced_ore"] - transferred
    difference = order["received_ore"] - (vat + fee + transferred + owed + order["refunded_ore"])
    awaiting = order["parties_ore"] - order["payouts_owed_ore"] if kept else 0
    return {
        "order_id": order["order_id"], "received_ore": order["received_ore"], "vat_ore": vat,
        "platform_fee_ore": fee, "transferred_ore": transferred, "owed_ore": owed,
        "refunded_ore": order["refunded_ore"], "difference_ore": difference,
        "awaiting_delivery_ore": awaiting, "refund_due_ore": order["refund_due_ore"],
        "unexplained_ore": difference - awaiting - order["refund_due_ore"],
    }  # fmt: skip
