"""Orders: each order with its lines, amounts, status, and a timeline of what happened when."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.delivery import Delivery
from vardekedja.domain.order import Order, OrderLine
from vardekedja.domain.production import ProductionOrder
from vardekedja.projections.base import Projection, View
from vardekedja.projections.paging import Page, newest_first
from vardekedja.storage.types import UtcDateTime


class OrdersView(View):
    def define(self) -> None:
        self.orders = sa.Table(
            self.table_name("orders"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("buyer_id", sa.Uuid, nullable=False, index=True),
            sa.Column("status", sa.String, nullable=False, index=True),
            sa.Column("install", sa.Boolean, nullable=False),
            sa.Column("delivery_site", sa.JSON, nullable=False),
            sa.Column("area_company_id", sa.Uuid, nullable=True),
            sa.Column("platform_fee_rate", sa.String, nullable=False),
            sa.Column("subtotal_ore", sa.BigInteger, nullable=False),
            sa.Column("vat_ore", sa.BigInteger, nullable=False),
            sa.Column("total_ore", sa.BigInteger, nullable=False),
            sa.Column("platform_fee_ore", sa.BigInteger, nullable=False),
            sa.Column("paid_ore", sa.BigInteger, nullable=False),
            sa.Column("refunded_ore", sa.BigInteger, nullable=False),
            sa.Column("payment_intent_id", sa.String, nullable=True),
            # What happened when, oldest first; kept in the row since it is only ever read with it.
            sa.Column("timeline", sa.JSON, nullable=False),
            sa.Column("placed_at", UtcDateTime, nullable=False),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        )
        self.lines = sa.Table(
            self.table_name("lines"),
            self.metadata,
            sa.Column("order_id", sa.Uuid, primary_key=True),
            sa.Column("line_no", sa.Integer, primary_key=True),
            sa.Column("design_id", sa.Uuid, nullable=False, index=True),
            sa.Column("revision", sa.Integer, nullable=False),
            sa.Column("title", sa.String, nullable=False),
            sa.Column("quantity", sa.Integer, nullable=False),
            sa.Column("royalty_ore", sa.BigInteger, nullable=False),
            sa.Column("production_fee_ore", sa.BigInteger, nullable=False),
            sa.Column("installation_fee_ore", sa.BigInteger, nullable=False),
            sa.Column("unit_price_ore", sa.BigInteger, nullable=False),
            sa.Column("platform_fee_ore", sa.BigInteger, nullable=False),
            sa.Column("amount_ore", sa.BigInteger, nullable=False),
            sa.Column("vat_ore", sa.BigInteger, nullable=False),
            sa.Column("production_order_id", sa.Uuid, nullable=True),
            sa.Column("production_status", sa.String, nullable=True),
            sa.Column("delivery_id", sa.Uuid, nullable=True),
            sa.Column("delivery_status", sa.String, nullable=True),
        )
        # Production orders and deliveries name their order only when opened; later events need the link.
        self.links = sa.Table(
            self.table_name("links"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("line_no", sa.Integer, nullable=False),
        )

    # Queries.

    def order(self, connection: Connection, order_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.orders.select().where(self.orders.c.id == order_id)).mappings().first()
        if row is None:
            return None
        order = dict(row)
        order["lines"] = [
            dict(line)
            for line in connection.execute(
                self.lines.select().where(self.lines.c.order_id == order_id).order_by(self.lines.c.line_no)
            ).mappings()
        ]
        return order

    def list(
        self, connection: Connection, *, buyer_id: UUID | None = None, status: str | None = None,
        limit: int = 20, cursor: str | None = None,
    ) -> Page:  # fmt: skip
        """Orders newest first, all of them or one buyer's."""
        o = self.orders
        query = sa.select(o.c.id, o.c.position)
        if buyer_id is not None:
            query = query.where(o.c.buyer_id == buyer_id)
        if status is not None:
            query = query.where(o.c.status == status)
        page = newest_first(connection, query, o.c.position, limit=limit, cursor=cursor)
        items = [order for row in page.items if (order := self.order(connection, row["id"])) is not None]
        return Page(items, page.next_cursor)


class OrdersProjection(Projection):
    name = "orders"
    view_class = OrdersView
    view: OrdersView

    def _note(self, order_id: UUID, domain_event: Any, position: int, line_no: int | None = None,
              **detail: Any) -> dict[str, Any] | None:  # fmt: skip
        """Add the event to its order's timeline; return the order row (None if never seen)."""
        order = self.row(self.view.orders, order_id)
        if order is None:
            return None
        order["updated_at"] = domain_event.timestamp
        order["timeline"] = [
            *order["timeline"],
            {
                "position": position,
                "at": domain_event.timestamp.isoformat(),
                "event": type(domain_event).TOPIC.removeprefix("vardekedja:"),
                "line_no": line_no,
                "detail": detail,
            },
        ]
        return order

    def _line_event(self, domain_event: Any, position: int, column: str, status: str, **detail: Any) -> None:
        link = self.get(self.view.links, domain_event.originator_id)
        if link is None:
            return
        self.update(self.view.lines, (link["order_id"], link["line_no"]), **{column: status})
        self._note(link["order_id"], domain_event, position, link["line_no"], **detail)

    def prefetch(self, events: list[Any]) -> None:
        order_ids = {e.originator_id for e in events if isinstance(e, Order.Event) and not isinstance(e, Order.Placed)}
        order_ids |= {e.order_id for e in events if isinstance(e, ProductionOrder.Opened | Delivery.Opened)}
        linked = {
            e.originator_id
            for e in events
            if isinstance(e, ProductionOrder.Event | Delivery.Event)
            and not isinstance(e, ProductionOrder.Opened | Delivery.Opened)
        }
        self.load(self.view.links, linked)
        links = self.table_rows(self.view.links)
        order_ids |= {row["order_id"] for key in linked if (row := links.get(self.connection, key)) is not None}
        self.load(self.view.orders, order_ids)
        self.load(self.view.lines, order_ids)

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Order.Placed, position: int) -> None:
        lines = [OrderLine.from_dict(line) for line in domain_event.lines]
        for line in lines:
            self.insert(
                self.view.lines,
                order_id=domain_event.originator_id,
                line_no=line.line_no,
                design_id=line.design_id,
                revision=line.revision,
                title=line.title,
                quantity=line.quantity,
                royalty_ore=line.royalty_ore,
                production_fee_ore=line.production_fee_ore,
                installation_fee_ore=line.installation_fee_ore,
                unit_price_ore=line.unit_price_ore,
                platform_fee_ore=line.platform_fee_ore,
                amount_ore=line.amount_ore,
                vat_ore=line.vat_ore,
                production_order_id=None,
                production_status=None,
                delivery_id=None,
                delivery_status=None,
            )
        subtotal = sum(line.amount_ore for line in lines)
        vat = sum(line.vat_ore for line in lines)
        self.insert(
            self.view.orders,
            id=domain_event.originator_id,
            buyer_id=domain_event.buyer_id,
            status="placed",
            install=domain_event.install,
            delivery_site=dict(domain_event.delivery_site),
            area_company_id=domain_event.area_company_id,
            platform_fee_rate=domain_event.platform_fee_rate,
            subtotal_ore=subtotal,
            vat_ore=vat,
            total_ore=subtotal + vat,
            platform_fee_ore=sum(line.platform_fee_ore for line in lines),
            paid_ore=0,
            refunded_ore=0,
            payment_intent_id=None,
            timeline=[],
            placed_at=domain_event.timestamp,
            updated_at=domain_event.timestamp,
            position=position,
        )
        self._note(domain_event.originator_id, domain_event, position, total_ore=subtotal + vat)

    @process_event.register
    def _(self, domain_event: Order.CheckoutStarted, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position):
            order["payment_intent_id"] = domain_event.payment_intent_id

    @process_event.register
    def _(self, domain_event: Order.PaymentFailed, position: int) -> None:
        self._note(domain_event.originator_id, domain_event, position, reason=domain_event.reason)

    @process_event.register
    def _(self, domain_event: Order.PaymentMismatched, position: int) -> None:
        self._note(
            domain_event.originator_id, domain_event, position,
            amount_ore=domain_event.amount_ore, currency=domain_event.currency,
        )  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.PaymentReceived, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position,
                               amount_ore=domain_event.amount_ore):  # fmt: skip
            order["paid_ore"] += domain_event.amount_ore
            if order["status"] == "placed":
                order["status"] = "paid"

    @process_event.register
    def _(self, domain_event: Order.ProductionStarted, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position):
            order["status"] = "in_production"

    @process_event.register
    def _(self, domain_event: Order.LineDelivered | Order.LineInstalled, position: int) -> None:
        self._note(domain_event.originator_id, domain_event, position, domain_event.line_no)

    @process_event.register
    def _(self, domain_event: Order.Fulfilled, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position):
            order["status"] = "fulfilled"

    @process_event.register
    def _(self, domain_event: Order.Cancelled, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position, reason=domain_event.reason):
            order["status"] = "cancelled"

    @process_event.register
    def _(self, domain_event: Order.Refunded, position: int) -> None:
        if order := self._note(
            domain_event.originator_id, domain_event, position,
            refund_id=domain_event.refund_id, amount_ore=domain_event.amount_ore,
        ):  # fmt: skip
            order["refunded_ore"] += domain_event.amount_ore

    @process_event.register
    def _(self, domain_event: ProductionOrder.Opened, position: int) -> None:
        self.insert(self.view.links, id=domain_event.originator_id, order_id=domain_event.order_id,
                    line_no=domain_event.line_no)  # fmt: skip
        self.update(
            self.view.lines, (domain_event.order_id, domain_event.line_no),
            production_order_id=domain_event.originator_id, production_status="open",
        )  # fmt: skip
        self._note(domain_event.order_id, domain_event, position, domain_event.line_no)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Accepted, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "accepted",
                         workshop_id=str(domain_event.workshop_id))  # fmt: skip

    @process_event.register
    def _(self, domain_event: ProductionOrder.Started, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "in_progress")

    @process_event.register
    def _(self, domain_event: ProductionOrder.Completed, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "completed",
                         hours_worked=domain_event.hours_worked)  # fmt: skip

    @process_event.register
    def _(self, domain_event: ProductionOrder.Released, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "open", reason=domain_event.reason)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Cancelled, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "cancelled")

    @process_event.register
    def _(self, domain_event: Delivery.Opened, position: int) -> None:
        self.insert(self.view.links, id=domain_event.originator_id, order_id=domain_event.order_id,
                    line_no=domain_event.line_no)  # fmt: skip
        self.update(
            self.view.lines, (domain_event.order_id, domain_event.line_no),
            delivery_id=domain_event.originator_id, delivery_status="pending",
        )  # fmt: skip
        self._note(domain_event.order_id, domain_event, position, domain_event.line_no)

    @process_event.register
    def _(self, domain_event: Delivery.Scheduled, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "scheduled",
                         earliest=domain_event.earliest.isoformat(), latest=domain_event.latest.isoformat())  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Dispatched, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "dispatched")

    @process_event.register
    def _(self, domain_event: Delivery.Delivered, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "delivered", received_by=domain_event.received_by)

    @process_event.register
    def _(self, domain_event: Delivery.Failed, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "failed", reason=domain_event.reason)

    @process_event.register
    def _(self, domain_event: Delivery.Installed, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "installed")
