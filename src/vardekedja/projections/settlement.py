"""The settlement follower's own state: which payouts still need money moved, and which accounts can take it.

A process manager in two halves. This projection follows the event log with
its own tracking position and keeps, per payout, what is due (a transfer, or
a reversal after a claim), how often it failed and when; per organisation, its
payout account and whether it can receive. ``SettlementFollower``
(application/settlement_follower.py) reads ``due`` and acts through the
marketplace's commands, whose events come back here and settle the row. The
follower decides nothing this view has not seen in the log, and the log
records nothing the provider has not done, so a crash anywhere leaves work
that is simply picked up again.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.payout import Payout
from vardekedja.domain.payout_account import PayoutAccount
from vardekedja.projections.base import Projection, View
from vardekedja.storage.types import UtcDateTime


class SettlementView(View):
    def define(self) -> None:
        self.accounts = sa.Table(
            self.table_name("accounts"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),  # the payout account's own (derived from the organisation's)
            sa.Column("organisation_id", sa.Uuid, nullable=False, unique=True),
            sa.Column("account_id", sa.String, nullable=False),
            sa.Column("ready", sa.Boolean, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
        )
        self.work = sa.Table(
            self.table_name("work"),
            self.metadata,
            sa.Column("payout_id", sa.Uuid, primary_key=True),
            sa.Column("party_id", sa.Uuid, nullable=False, index=True),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("role", sa.String, nullable=False),
            sa.Column("amount_ore", sa.BigInteger, nullable=False),
            sa.Column("reduced_ore", sa.BigInteger, nullable=False),
            sa.Column("transfer_id", sa.String, nullable=True),
            sa.Column("transferred_ore", sa.BigInteger, nullable=False),
            sa.Column("reversed_ore", sa.BigInteger, nullable=False),
            sa.Column("due", sa.Boolean, nullable=False, index=True),
            sa.Column("failures", sa.Integer, nullable=False),
            sa.Column("last_error", sa.Text, nullable=False),
            sa.Column("last_failed_at", UtcDateTime, nullable=True),
            sa.Column("position", sa.BigInteger, nullable=False),
        )

    def due(self, connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
        """Payouts with money to move whose party can receive it: reversals first (a claim's refund has
        taken money from the charge that its reversals give back), then transfers, oldest first."""
        w, a = self.work, self.accounts
        query = (sa.select(w).join(a, a.c.organisation_id == w.c.party_id).where(w.c.due, a.c.ready)
                 .order_by(w.c.transfer_id.is_(None), w.c.position).limit(limit))  # fmt: skip
        return [dict(row._mapping) for row in connection.execute(query)]

    def waiting(self, connection: Connection) -> int:
        """Payouts with money to move whose party has no account that can receive yet."""
        w, a = self.work, self.accounts
        query = (sa.select(sa.func.count()).select_from(w.outerjoin(a, a.c.organisation_id == w.c.party_id))
                 .where(w.c.due, sa.or_(a.c.ready.is_(None), sa.not_(a.c.ready))))  # fmt: skip
        return int(connection.execute(query).scalar_one())

    def failing(self, connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
        """Payouts whose last attempt to move money failed and that are still due, most failures first."""
        w = self.work
        query = (sa.select(w).where(w.c.due, w.c.failures > 0)
                 .order_by(w.c.failures.desc(), w.c.position).limit(limit))  # fmt: skip
        return [dict(row._mapping) for row in connection.execute(query)]

    def account(self, connection: Connection, organisation_id: Any) -> dict[str, Any] | None:
        row = connection.execute(sa.select(self.accounts).where(self.accounts.c.organisation_id == organisation_id)).first()
        return dict(row._mapping) if row else None


def _due(row: dict[str, Any]) -> bool:
    net = row["amount_ore"] - row["reduced_ore"]
    if row["transfer_id"] is None:
        return net > 0
    return row["transferred_ore"] - row["reversed_ore"] > net


class SettlementProjection(Projection):
    name = "settlement"
    view_class = SettlementView
    view: SettlementView

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: PayoutAccount.Opened, position: int) -> None:
        self.insert(self.view.accounts, id=domain_event.originator_id, organisation_id=domain_event.organisation_id, account_id=domain_event.account_id,
                    ready=False, updated_at=domain_event.timestamp)  # fmt: skip

    @process_event.register
    def _(self, domain_event: PayoutAccount.ReadinessChanged, position: int) -> None:
        self.update(self.view.accounts, domain_event.originator_id, ready=domain_event.ready,
                    updated_at=domain_event.timestamp)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Payout.Owed, position: int) -> None:
        row = {"payout_id": domain_event.originator_id, "party_id": domain_event.party_id, "order_id": domain_event.order_id,
               "line_no": domain_event.line_no, "role": domain_event.role, "amount_ore": domain_event.amount_ore,
               "reduced_ore": 0, "transfer_id": None, "transferred_ore": 0, "reversed_ore": 0, "failures": 0,
               "last_error": "", "last_failed_at": None, "position": position}  # fmt: skip
        self.insert(self.view.work, **row, due=_due(row))

    def _change(self, domain_event: Any, position: int, **values: Any) -> dict[str, Any] | None:
        row = self.row(self.view.work, domain_event.originator_id)
        if row is not None:
            row.update(values)
            row["due"] = _due(row)
        return row

    @process_event.register
    def _(self, domain_event: Payout.Transferred, position: int) -> None:
        self._change(domain_event, position, transfer_id=domain_event.transfer_id,
                     transferred_ore=domain_event.amount_ore, failures=0, last_error="")  # fmt: skip

    @process_event.register
    def _(self, domain_event: Payout.TransferAttached, position: int) -> None:
        row = self.row(self.view.work, domain_event.originator_id)
        if row is not None:
            self._change(domain_event, position, transfer_id=domain_event.transfer_id,
                         transferred_ore=row["amount_ore"] - row["reduced_ore"])  # fmt: skip

    @process_event.register
    def _(self, domain_event: Payout.TransferFailed, position: int) -> None:
        row = self.row(self.view.work, domain_event.originator_id)
        if row is not None:
            self._change(domain_event, position, failures=row["failures"] + 1, last_error=domain_event.reason,
                         last_failed_at=domain_event.timestamp)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Payout.Reduced, position: int) -> None:
        row = self.row(self.view.work, domain_event.originator_id)
        if row is not None:
            self._change(domain_event, position, reduced_ore=row["reduced_ore"] + domain_event.amount_ore)

    @process_event.register
    def _(self, domain_event: Payout.Reversed, position: int) -> None:
        row = self.row(self.view.work, domain_event.originator_id)
        if row is not None:
            self._change(domain_event, position, reversed_ore=row["reversed_ore"] + domain_event.amount_ore,
                         failures=0, last_error="")  # fmt: skip

