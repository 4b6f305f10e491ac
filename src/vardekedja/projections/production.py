"""The production queue: open production orders with what a workshop needs to decide.

A workshop sees the open orders it is eligible for (its capabilities cover the
design's and its service area holds the site's municipality) and the ones it
holds. The view keeps its own copy of each workshop's capabilities and area,
and of each order's delivery site (production orders name only the
municipality), which the API shows to the workshop holding the order.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.delivery import Delivery
from vardekedja.domain.order import Order
from vardekedja.domain.organisation import Organisation
from vardekedja.domain.production import ProductionOrder
from vardekedja.projections.base import Projection, View
from vardekedja.projections.paging import Page, newest_first
from vardekedja.storage.types import UtcDateTime


class ProductionView(View):
    def define(self) -> None:
        self.orders = sa.Table(
            self.table_name("orders"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("order_id", sa.Uuid, nullable=False, index=True),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("design_id", sa.Uuid, nullable=False),
            sa.Column("revision", sa.Integer, nullable=False),
            sa.Column("title", sa.String, nullable=False),
            sa.Column("required_capabilities", sa.JSON, nullable=False),
            sa.Column("municipality", sa.String, nullable=False),
            sa.Column("municipality_key", sa.String, nullable=False, index=True),
            sa.Column("delivery_site", sa.JSON, nullable=True),
            sa.Column("quantity", sa.Integer, nullable=False),
            sa.Column("production_fee_ore", sa.BigInteger, nullable=False),
            sa.Column("status", sa.String, nullable=False, index=True),
            sa.Column("workshop_id", sa.Uuid, nullable=True, index=True),
            sa.Column("hours_worked", sa.Float, nullable=True),
            sa.Column("notes", sa.Text, nullable=True),
            sa.Column("delivery_id", sa.Uuid, nullable=True),
            sa.Column("opened_at", UtcDateTime, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        )
        self.capabilities = sa.Table(
            self.table_name("capabilities"),
            self.metadata,
            sa.Column("production_order_id", sa.Uuid, primary_key=True),
            sa.Column("capability", sa.String, primary_key=True),
        )
        self.workshop_capabilities, self.workshop_areas = self.workshop_reach()
        # Where each paid order goes: production orders are opened with the municipality only.
        self.sites = sa.Table(
            self.table_name("sites"),
            self.metadata,
            sa.Column("order_id", sa.Uuid, primary_key=True),
            sa.Column("delivery_site", sa.JSON, nullable=False),
        )

    def production_order(self, connection: Connection, production_order_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.orders.select().where(self.orders.c.id == production_order_id)).mappings().first()
        return dict(row) if row else None

    def eligible(self, workshop_id: UUID) -> sa.ColumnElement[bool]:
        """The production order is one this workshop could accept."""
        o, needed, held, area = self.orders, self.capabilities, self.workshop_capabilities, self.workshop_areas
        serves = sa.exists().where(area.c.workshop_id == workshop_id, area.c.municipality == o.c.municipality_key)
        missing = sa.exists().where(
            needed.c.production_order_id == o.c.id,
            ~sa.exists().where(held.c.workshop_id == workshop_id, held.c.capability == needed.c.capability),
        )
        return sa.and_(serves, ~missing)

    def visible_to_workshop(self, workshop_id: UUID) -> sa.ColumnElement[bool]:
        o = self.orders
        return sa.or_(o.c.workshop_id == workshop_id, sa.and_(o.c.status == "open", self.eligible(workshop_id)))

    def is_visible_to(self, connection: Connection, production_order_id: UUID, workshop_id: UUID) -> bool:
        query = sa.select(self.orders.c.id).where(
            self.orders.c.id == production_order_id, self.visible_to_workshop(workshop_id)
        )
        return connection.execute(query).first() is not None

    def holds_revision(self, connection: Connection, workshop_id: UUID, design_id: UUID, revision: int) -> bool:
        """Does the workshop hold (has accepted) a production order for this design at this revision or a later one?"""
        p = self.orders
        query = sa.select(p.c.id).where(
            p.c.workshop_id == workshop_id, p.c.design_id == design_id, p.c.revision >= revision,
            p.c.status.in_(("accepted", "in_progress", "completed")),
        ).limit(1)  # fmt: skip
        return connection.execute(query).first() is not None

    def list(
        self, connection: Connection, *, workshop_id: UUID | None = None, status: str | None = None,
        limit: int = 20, cursor: str | None = None,
    ) -> Page:  # fmt: skip
        """Newest first: all of them, or those a workshop is eligible for and those it holds."""
        o = self.orders
        query = sa.select(o)
        if workshop_id is not None:
            query = query.where(self.visible_to_workshop(workshop_id))
        if status is not None:
            query = query.where(o.c.status == status)
        return newest_first(connection, query, o.c.position, limit=limit, cursor=cursor)


class ProductionProjection(Projection):
    name = "production"
    view_class = ProductionView
    view: ProductionView

    def _set(self, domain_event: Any, **values: Any) -> None:
        self.update(self.view.orders, domain_event.originator_id, updated_at=domain_event.timestamp, **values)

    def prefetch(self, events: list[Any]) -> None:
        ids = {
            e.originator_id
            for e in events
            if isinstance(e, ProductionOrder.Event) and not isinstance(e, ProductionOrder.Opened)
        }
        ids |= {e.production_order_id for e in events if isinstance(e, Delivery.Opened)}
        self.load(self.view.orders, ids)
        self.load(self.view.sites, {e.order_id for e in events if isinstance(e, ProductionOrder.Opened)})

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Order.Placed, position: int) -> None:
        self.insert(self.view.sites, order_id=domain_event.originator_id, delivery_site=dict(domain_event.delivery_site))

    @process_event.register
    def _(self, domain_event: ProductionOrder.Opened, position: int) -> None:
        site = self.get(self.view.sites, domain_event.order_id)
        self.insert(
            self.view.orders,
            id=domain_event.originator_id,
            order_id=domain_event.order_id,
            line_no=domain_event.line_no,
            design_id=domain_event.design_id,
            revision=domain_event.revision,
            title=domain_event.title,
            required_capabilities=list(domain_event.required_capabilities),
            municipality=domain_event.municipality,
            municipality_key=domain_event.municipality.strip().casefold(),
            delivery_site=site["delivery_site"] if site else None,
            quantity=domain_event.quantity,
            production_fee_ore=domain_event.production_fee_ore,
            status="open",
            workshop_id=None,
            hours_worked=None,
            notes=None,
            delivery_id=None,
            opened_at=domain_event.timestamp,
            updated_at=domain_event.timestamp,
            position=position,
        )
        for capability in set(domain_event.required_capabilities):
            self.insert(self.view.capabilities, production_order_id=domain_event.originator_id, capability=capability)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Accepted, position: int) -> None:
        self._set(domain_event, status="accepted", workshop_id=domain_event.workshop_id)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Started, position: int) -> None:
        self._set(domain_event, status="in_progress")

    @process_event.register
    def _(self, domain_event: ProductionOrder.Completed, position: int) -> None:
        self._set(domain_event, status="completed", hours_worked=domain_event.hours_worked, notes=domain_event.notes)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Released, position: int) -> None:
        self._set(domain_event, status="open", workshop_id=None)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Cancelled, position: int) -> None:
        self._set(domain_event, status="cancelled")

    @process_event.register
    def _(self, domain_event: Delivery.Opened, position: int) -> None:
        self.update(self.view.orders, domain_event.production_order_id, delivery_id=domain_event.originator_id)

    @process_event.register
    def _(self, domain_event: Organisation.Registered, position: int) -> None:
        self.record_workshop_reach(domain_event, self.view.workshop_capabilities, self.view.workshop_areas)
