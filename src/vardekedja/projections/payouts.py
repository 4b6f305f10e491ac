"""The payout ledger: what each party is owed, for which order line, and why."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.payout import Payout
from vardekedja.projections.base import Projection, View
from vardekedja.projections.paging import Page, newest_first
from vardekedja.storage.types import UtcDateTime


class PayoutsView(View):
    version = 2  # 2: status, transfer and claims (Payout.Transferred, TransferAttached, Reduced, Reversed)

    def define(self) -> None:
        self.payouts = sa.Table(
            self.table_name("payouts"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("party_id", sa.Uuid, nullable=False, index=True),
            sa.Column("role", sa.String, nullable=False),
            sa.Column("order_id", sa.Uuid, nullable=False, index=True),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("amount_ore", sa.BigInteger, nullable=False),
            sa.Column("reason", sa.Text, nullable=False),
            sa.Column("transfer_id", sa.String, nullable=True),
            sa.Column("status", sa.String, nullable=False),
            sa.Column("reduced_ore", sa.BigInteger, nullable=False),
            sa.Column("reversed_ore", sa.BigInteger, nullable=False),
            sa.Column("owed_at", UtcDateTime, nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        )

    def list(
        self, connection: Connection, *, party_id: UUID | None = None, order_id: UUID | None = None,
        limit: int = 20, cursor: str | None = None,
    ) -> Page:  # fmt: skip
        p = self.payouts
        query = sa.select(p)
        if party_id is not None:
            query = query.where(p.c.party_id == party_id)
        if order_id is not None:
            query = query.where(p.c.order_id == order_id)
        return newest_first(connection, query, p.c.position, limit=limit, cursor=cursor)

    def totals(self, connection: Connection, *, party_id: UUID | None = None,
               order_id: UUID | None = None) -> dict[str, int]:  # fmt: skip
        """Öre owed per role after claims, over the entries ``list`` would page through with the same filters."""
        p = self.payouts
        query = sa.select(p.c.role, sa.func.sum(p.c.amount_ore - p.c.reduced_ore)).group_by(p.c.role)
        if party_id is not None:
            query = query.where(p.c.party_id == party_id)
        if order_id is not None:
            query = query.where(p.c.order_id == order_id)
        return {role: int(total) for role, total in connection.execute(query)}


class PayoutsProjection(Projection):
    name = "payouts"
    view_class = PayoutsView
    view: PayoutsView

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Payout.Owed, position: int) -> None:
        self.insert(
            self.view.payouts,
            id=domain_event.originator_id,
            party_id=domain_event.party_id,
            role=domain_event.role,
            order_id=domain_event.order_id,
            line_no=domain_event.line_no,
            amount_ore=domain_event.amount_ore,
            reason=domain_event.reason,
            transfer_id=None,
            status="owed",
            reduced_ore=0,
            reversed_ore=0,
            owed_at=domain_event.timestamp,
            position=position,
        )

    @process_event.register
    def _(self, domain_event: Payout.TransferAttached, position: int) -> None:
        self._settle(domain_event, transfer_id=domain_event.transfer_id)

    @process_event.register
    def _(self, domain_event: Payout.Transferred, position: int) -> None:
        self._settle(domain_event, transfer_id=domain_event.transfer_id)

    @process_event.register
    def _(self, domain_event: Payout.Reduced, position: int) -> None:
        row = self.row(self.view.payouts, domain_event.originator_id)
        if row is not None:
            self._settle(domain_event, reduced_ore=row["reduced_ore"] + domain_event.amount_ore)

    @process_event.register
    def _(self, domain_event: Payout.Reversed, position: int) -> None:
        row = self.row(self.view.payouts, domain_event.originator_id)
        if row is not None:
            self._settle(domain_event, reversed_ore=row["reversed_ore"] + domain_event.amount_ore)

    def _settle(self, domain_event: Any, **values: Any) -> None:
        """Change the row and its status as ``Payout.status`` says it: reversed once a claim took any back."""
        row = self.update(self.view.payouts, domain_event.originator_id, **values)
        if row is not None:
            untransferred_and_gone = row["transfer_id"] is None and row["amount_ore"] == row["reduced_ore"]
            row["status"] = ("reversed" if row["reversed_ore"] > 0 or untransferred_and_gone
                             else "transferred" if row["transfer_id"] else "owed")  # fmt: skip
