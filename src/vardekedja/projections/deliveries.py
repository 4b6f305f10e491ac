"""Deliveries: each delivery with its window, progress and the parties to it."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.delivery import Delivery
from vardekedja.domain.order import Order
from vardekedja.projections.base import Projection, View
from vardekedja.projections.paging import Page, newest_first
from vardekedja.storage.types import UtcDateTime


class DeliveriesView(View):
    def define(self) -> None:
        self.deliveries = sa.Table(
            self.table_name("deliveries"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("order_id", sa.Uuid, nullable=False, index=True),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("production_order_id", sa.Uuid, nullable=False),
            sa.Column("workshop_id", sa.Uuid, nullable=False, index=True),
            sa.Column("area_company_id", sa.Uuid, nullable=True, index=True),
            sa.Column("buyer_id", sa.Uuid, nullable=True, index=True),
            sa.Column("install", sa.Boolean, nullable=False),
            sa.Column("delivery_site", sa.JSON, nullable=True),
            sa.Column("status", sa.String, nullable=False, index=True),
            sa.Column("earliest", UtcDateTime, nullable=True),
            sa.Column("latest", UtcDateTime, nullable=True),
            sa.Column("received_by", sa.String, nullable=True),
            sa.Column("failures", sa.Integer, nullable=False),
            sa.Column("last_failure", sa.Text, nullable=True),
            sa.Column("opened_at", UtcDateTime, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        )
        # Deliveries name neither the buyer nor the site; the order that placed them does.
        self.buyers = sa.Table(
            self.table_name("buyers"),
            self.metadata,
            sa.Column("order_id", sa.Uuid, primary_key=True),
            sa.Column("buyer_id", sa.Uuid, nullable=False),
            sa.Column("delivery_site", sa.JSON, nullable=True),
        )

    def delivery(self, connection: Connection, delivery_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.deliveries.select().where(self.deliveries.c.id == delivery_id)).mappings().first()
        return dict(row) if row else None

    def list(
        self, connection: Connection, *, party_id: UUID | None = None, status: str | None = None,
        limit: int = 20, cursor: str | None = None,
    ) -> Page:  # fmt: skip
        """Newest first: all deliveries, or those one party (workshop, area company, buyer) is party to."""
        d = self.deliveries
        query = sa.select(d)
        if party_id is not None:
            query = query.where(sa.or_(d.c.workshop_id == party_id, d.c.area_company_id == party_id,
                                       d.c.buyer_id == party_id))  # fmt: skip
        if status is not None:
            query = query.where(d.c.status == status)
        return newest_first(connection, query, d.c.position, limit=limit, cursor=cursor)


class DeliveriesProjection(Projection):
    name = "deliveries"
    view_class = DeliveriesView
    view: DeliveriesView

    def _set(self, domain_event: Any, **values: Any) -> None:
        self.update(self.view.deliveries, domain_event.originator_id, updated_at=domain_event.timestamp, **values)

    def prefetch(self, events: list[Any]) -> None:
        self.load(
            self.view.deliveries,
            {e.originator_id for e in events if isinstance(e, Delivery.Event) and not isinstance(e, Delivery.Opened)},
        )
        self.load(self.view.buyers, {e.order_id for e in events if isinstance(e, Delivery.Opened)})

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Order.Placed, position: int) -> None:
        self.insert(self.view.buyers, order_id=domain_event.originator_id, buyer_id=domain_event.buyer_id,
                    delivery_site=dict(domain_event.delivery_site))  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Opened, position: int) -> None:
        buyer = self.get(self.view.buyers, domain_event.order_id)
        self.insert(
            self.view.deliveries,
            id=domain_event.originator_id,
            order_id=domain_event.order_id,
            line_no=domain_event.line_no,
            production_order_id=domain_event.production_order_id,
            workshop_id=domain_event.workshop_id,
            area_company_id=domain_event.area_company_id,
            buyer_id=buyer["buyer_id"] if buyer else None,
            install=domain_event.install,
            delivery_site=buyer["delivery_site"] if buyer else None,
            status="pending",
            earliest=None,
            latest=None,
            received_by=None,
            failures=0,
            last_failure=None,
            opened_at=domain_event.timestamp,
            updated_at=domain_event.timestamp,
            position=position,
        )

    @process_event.register
    def _(self, domain_event: Delivery.Scheduled, position: int) -> None:
        self._set(domain_event, status="scheduled", earliest=domain_event.earliest, latest=domain_event.latest)

    @process_event.register
    def _(self, domain_event: Delivery.Dispatched, position: int) -> None:
        self._set(domain_event, status="dispatched")

    @process_event.register
    def _(self, domain_event: Delivery.Delivered, position: int) -> None:
        self._set(domain_event, status="delivered", received_by=domain_event.received_by)

    @process_event.register
    def _(self, domain_event: Delivery.Failed, position: int) -> None:
        delivery = self.get(self.view.deliveries, domain_event.originator_id)
        if delivery is not None:
            self._set(domain_event, status="failed", earliest=None, latest=None,
                      failures=delivery["failures"] + 1, last_failure=domain_event.reason)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Installed, position: int) -> None:
        self._set(domain_event, status="installed")
