"""Impact: the facts the impact fold draws from the events, summed per scope and period on request.

The fold (impact/ledger.py) is the same one ``audit verify --impact`` runs over
an export; what it must remember between events lives in this view's state
table as JSON, so the projector can stop and resume anywhere.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.asset import Asset
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.design import Design
from vardekedja.domain.maintenance import MaintenanceOrder
from vardekedja.domain.order import Order
from vardekedja.domain.organisation import Organisation
from vardekedja.domain.payout import Payout
from vardekedja.domain.production import ProductionOrder
from vardekedja.impact.ledger import Fact, ImpactFold
from vardekedja.impact.report import Query
from vardekedja.projections.base import Projection, View
from vardekedja.storage.types import UtcDateTime

TOPIC_PREFIX = "vardekedja:"
EVENTS = (
    Organisation.Registered, Design.Drafted, Design.Revised, Order.Placed, Order.PaymentReceived, Order.Refunded,
    Order.LineDelivered, Payout.Owed, ProductionOrder.Opened, ProductionOrder.Accepted, ProductionOrder.Released,
    ProductionOrder.Completed, Delivery.Opened, Delivery.Dispatched, Delivery.Installed, Asset.Registered,
    MaintenanceOrder.Opened, MaintenanceOrder.Resolved,
)  # fmt: skip


class ImpactView(View):
    def define(self) -> None:
        self.facts = sa.Table(
            self.table_name("facts"),
            self.metadata,
            sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("kind", sa.String(32), primary_key=True),
            sa.Column("at", UtcDateTime, nullable=False, index=True),
            sa.Column("order_id", sa.String(36), nullable=False),
            sa.Column("municipality", sa.String, nullable=False, index=True),
            sa.Column("party_id", sa.String(36), nullable=True, index=True),
            sa.Column("local", sa.Boolean, nullable=False),
            sa.Column("value", sa.BigInteger, nullable=False),
        )
        # Sums by (kind, local) over a period read this index alone, in its order, without the table.
        sa.Index(f"ix_{self.facts.name}_sums_{self.token}", self.facts.c.kind, self.facts.c.local, self.facts.c.at,
                 self.facts.c.value)
        # An organisation's or an order's sums: its orders' facts, found and summed from this index alone.
        sa.Index(f"ix_{self.facts.name}_orders_{self.token}", self.facts.c.order_id, self.facts.c.kind,
                 self.facts.c.local, self.facts.c.at, self.facts.c.value)
        self.state = sa.Table(
            self.table_name("state"),
            self.metadata,
            sa.Column("key", sa.String(120), primary_key=True),
            sa.Column("value", sa.JSON, nullable=False),
        )

    def sums(self, connection: Connection, query: Query) -> dict[tuple[str, bool], int]:
        """Sums of fact values by (kind, local) for the query's scope and period."""
        f = self.facts
        select = sa.select(f.c.kind, f.c.local, sa.func.sum(f.c.value)).group_by(f.c.kind, f.c.local)
        if query.start is not None:
            select = select.where(f.c.at >= query.start)
        if query.end is not None:
            select = select.where(f.c.at < query.end)
        if query.scope == "order":
            select = select.where(f.c.order_id == query.id)
        elif query.scope == "municipality":
            select = select.where(f.c.municipality == (query.id or "").strip().casefold())
        elif query.scope == "organisation":
            orders = sa.select(f.c.order_id).where(f.c.party_id == query.id).distinct()
            select = select.where(f.c.order_id.in_(orders))
        return {(kind, bool(local)): int(total) for kind, local, total in connection.execute(select)}

    def takes_part(self, connection: Connection, order_id: str, party_id: str) -> bool:
        """Whether the party is the order's buyer, or was owed or worked for it."""
        f = self.facts
        found = connection.execute(sa.select(f.c.position).where(f.c.order_id == order_id,
                                                                 f.c.party_id == party_id).limit(1))  # fmt: skip
        return found.first() is not None


class _ViewState:
    """The fold's memory as rows of the state table, through the batch's row cache."""

    def __init__(self, projection: ImpactProjection) -> None:
        self.projection = projection

    def get(self, key: str) -> Any:
        row = self.projection.get(self.projection.view.state, key)
        return row["value"] if row is not None else None

    def put(self, key: str, value: Any) -> None:
        table = self.projection.view.state
        row = self.projection.row(table, key)
        if row is None:
            self.projection.insert(table, key=key, value=value)
        else:
            row["value"] = value


class ImpactProjection(Projection):
    name = "impact"
    view_class = ImpactView
    view: ImpactView

    def __init__(self, suffix: str = "") -> None:
        super().__init__(suffix)
        self.fold = ImpactFold(_ViewState(self), self._emit)

    def _emit(self, fact: Fact) -> None:
        self.insert(self.view.facts, position=fact.position, kind=fact.kind, at=fact.at, order_id=fact.order_id,
                    municipality=fact.municipality, party_id=fact.party_id, local=fact.local, value=fact.value)  # fmt: skip

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    def _feed(self, domain_event: Any, position: int) -> None:
        kind = type(domain_event).TOPIC[len(TOPIC_PREFIX):]
        self.fold.feed(kind, domain_event.originator_id, domain_event.__dict__, domain_event.timestamp, position)


for _event in EVENTS:
    ImpactProjection.process_event.register(_event)(ImpactProjection._feed)
