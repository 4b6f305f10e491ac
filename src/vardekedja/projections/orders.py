"""Orders: each order with its lines, amounts, status, and a timeline of what happened when."""

from __future__ import annotations

from collections.abc import Callable
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.delivery import Delivery
from vardekedja.domain.order import Order, OrderLine
from vardekedja.domain.organisation import Organisation
from vardekedja.domain.production import ProductionOrder
from vardekedja.projections import timeline
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
        # Production orders and deliveries name their order only when opened; later events need the link,
        # and the workshop holding the work (and the area company installing) to name them in the timeline.
        self.links = sa.Table(
            self.table_name("links"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("workshop_id", sa.Uuid, nullable=True),
            sa.Column("area_company_id", sa.Uuid, nullable=True),
        )
        # Every organisation's name and role, to name the parties in the timeline.
        self.parties = sa.Table(
            self.table_name("parties"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("name", sa.String, nullable=False),
            sa.Column("role", sa.String, nullable=False),
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

    def headings(self, connection: Connection, order_ids: set[UUID]) -> dict[UUID, dict[str, Any]]:
        """What names each order for a person (its buyer, delivery site and day placed), by id, in one read."""
        found = connection.execute(sa.select(self.orders.c.id, self.orders.c.buyer_id, self.orders.c.delivery_site,
                                             self.orders.c.placed_at).where(self.orders.c.id.in_(order_ids)))
        return {row.id: dict(row._mapping) for row in found}

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

    def _note(self, order_id: UUID, domain_event: Any, position: int, kind: str, summary: str, *,
              line_no: int | None = None, parties: list[dict[str, Any]] | None = None,
              **detail: Any) -> dict[str, Any] | None:  # fmt: skip
        """Add an entry to the order's timeline; return the order row (None if never seen)."""
        order = self.row(self.view.orders, order_id)
        if order is None:
            return None
        order["updated_at"] = domain_event.timestamp
        order["timeline"] = [*order["timeline"], timeline.entry(
            position, domain_event.timestamp, kind, summary, line_no=line_no, parties=parties, **detail)]
        return order

    def _party(self, organisation_id: UUID | None, role: str) -> dict[str, Any]:
        row = self.get(self.view.parties, organisation_id) if organisation_id is not None else None
        return timeline.party(row, role, organisation_id)

    def _buyer(self, order_id: UUID) -> dict[str, Any]:
        order = self.get(self.view.orders, order_id)
        return self._party(order["buyer_id"] if order else None, "buyer")

    def _line_event(self, domain_event: Any, position: int, column: str, status: str, kind: str,
                    summary: Callable[[str, str], str], who: str | None = None, **detail: Any) -> None:  # fmt: skip
        """A production order's or delivery's event on its order line; ``summary(who, line)`` says it.

        ``who`` is the link's column naming the party that acted (``workshop_id`` or ``area_company_id``).
        """
        link = self.get(self.view.links, domain_event.originator_id)
        if link is None:
            return
        self.update(self.view.lines, (link["order_id"], link["line_no"]), **{column: status})
        parties = []
        if who is not None:
            parties = [self._party(link[who], "workshop" if who == "workshop_id" else "area_company")]
        text = summary(parties[0]["name"] if parties else "", f"line {link['line_no']}")
        self._note(link["order_id"], domain_event, position, kind, text[0].upper() + text[1:],
                   line_no=link["line_no"], parties=parties, **detail)  # fmt: skip

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
        linked_rows = [row for key in linked if (row := links.get(self.connection, key)) is not None]
        order_ids |= {row["order_id"] for row in linked_rows}
        self.load(self.view.orders, order_ids)
        self.load(self.view.lines, order_ids)
        orders = self.table_rows(self.view.orders)
        named = {row["buyer_id"] for key in order_ids if (row := orders.get(self.connection, key)) is not None}
        named |= {e.buyer_id for e in events if isinstance(e, Order.Placed)}
        named |= {row[who] for row in linked_rows for who in ("workshop_id", "area_company_id")}
        named |= {e.workshop_id for e in events if isinstance(e, ProductionOrder.Accepted | Delivery.Opened)}
        named |= {e.area_company_id for e in events if isinstance(e, Delivery.Opened)}
        self.load(self.view.parties, named - {None})

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Organisation.Registered, position: int) -> None:
        self.insert(self.view.parties, id=domain_event.originator_id, name=domain_event.name, role=domain_event.role)

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
        buyer = self._party(domain_event.buyer_id, "buyer")
        installing = " with installation" if domain_event.install else ""
        self._note(domain_event.originator_id, domain_event, position, "placed",
                   f"{buyer['name']} placed the order: {timeline.lines(len(lines))}{installing}, "
                   f"{timeline.sek(subtotal + vat)} including VAT", parties=[buyer], total_ore=subtotal + vat)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.CheckoutStarted, position: int) -> None:
        buyer = self._buyer(domain_event.originator_id)
        if order := self._note(domain_event.originator_id, domain_event, position, "checkout_started",
                               f"{buyer['name']} went to checkout", parties=[buyer]):  # fmt: skip
            order["payment_intent_id"] = domain_event.payment_intent_id

    @process_event.register
    def _(self, domain_event: Order.PaymentFailed, position: int) -> None:
        self._note(domain_event.originator_id, domain_event, position, "payment_failed",
                   f"A payment failed: {domain_event.reason}", reason=domain_event.reason)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.PaymentMismatched, position: int) -> None:
        amount = f"{domain_event.amount_ore / 100:,.2f} {domain_event.currency.upper()}"
        self._note(domain_event.originator_id, domain_event, position, "payment_mismatched",
                   f"A payment of {amount} did not match the order's total, so it did not pay the order",
                   amount_ore=domain_event.amount_ore, currency=domain_event.currency)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.PaymentReceived, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position, "paid",
                               f"Payment of {timeline.sek(domain_event.amount_ore)} received",
                               amount_ore=domain_event.amount_ore):  # fmt: skip
            order["paid_ore"] += domain_event.amount_ore
            if order["status"] == "placed":
                order["status"] = "paid"

    @process_event.register
    def _(self, domain_event: Order.ProductionStarted, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position, "in_production",
                               "Production started: the order can no longer be cancelled"):  # fmt: skip
            order["status"] = "in_production"

    @process_event.register
    def _(self, domain_event: Order.LineDelivered, position: int) -> None:
        self._note(domain_event.originator_id, domain_event, position, "line_delivered",
                   f"Line {domain_event.line_no} is delivered", line_no=domain_event.line_no)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.LineInstalled, position: int) -> None:
        self._note(domain_event.originator_id, domain_event, position, "line_installed",
                   f"Line {domain_event.line_no} is installed", line_no=domain_event.line_no)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Order.Fulfilled, position: int) -> None:
        if order := self._note(domain_event.originator_id, domain_event, position, "fulfilled",
                               "The order is fulfilled: every line delivered, and installed where asked"):  # fmt: skip
            order["status"] = "fulfilled"

    @process_event.register
    def _(self, domain_event: Order.Cancelled, position: int) -> None:
        buyer = self._buyer(domain_event.originator_id)
        reason = f": {domain_event.reason}" if domain_event.reason else ""
        if order := self._note(domain_event.originator_id, domain_event, position, "cancelled",
                               f"{buyer['name']} cancelled the order{reason}", parties=[buyer],
                               reason=domain_event.reason):  # fmt: skip
            order["status"] = "cancelled"

    @process_event.register
    def _(self, domain_event: Order.Refunded, position: int) -> None:
        buyer = self._buyer(domain_event.originator_id)
        if order := self._note(
            domain_event.originator_id, domain_event, position, "refunded",
            f"{timeline.sek(domain_event.amount_ore)} refunded to {buyer['name']}", parties=[buyer],
            refund_id=domain_event.refund_id, amount_ore=domain_event.amount_ore,
        ):  # fmt: skip
            order["refunded_ore"] += domain_event.amount_ore

    @process_event.register
    def _(self, domain_event: ProductionOrder.Opened, position: int) -> None:
        self.insert(self.view.links, id=domain_event.originator_id, order_id=domain_event.order_id,
                    line_no=domain_event.line_no, workshop_id=None, area_company_id=None)  # fmt: skip
        self.update(
            self.view.lines, (domain_event.order_id, domain_event.line_no),
            production_order_id=domain_event.originator_id, production_status="open",
        )  # fmt: skip
        self._note(domain_event.order_id, domain_event, position, "production_opened",
                   f"Line {domain_event.line_no} ({domain_event.title}) is open for a workshop to take",
                   line_no=domain_event.line_no)  # fmt: skip

    @process_event.register
    def _(self, domain_event: ProductionOrder.Accepted, position: int) -> None:
        self.update(self.view.links, domain_event.originator_id, workshop_id=domain_event.workshop_id)
        self._line_event(domain_event, position, "production_status", "accepted", "production_accepted",
                         lambda who, line: f"{who} took {line}", who="workshop_id")  # fmt: skip

    @process_event.register
    def _(self, domain_event: ProductionOrder.Started, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "in_progress", "production_started",
                         lambda who, line: f"{who} started work on {line}", who="workshop_id")  # fmt: skip

    @process_event.register
    def _(self, domain_event: ProductionOrder.Completed, position: int) -> None:
        hours = f"{domain_event.hours_worked:g} hour" + ("" if domain_event.hours_worked == 1 else "s")
        self._line_event(domain_event, position, "production_status", "completed", "production_completed",
                         lambda who, line: f"{who} completed {line} in {hours}", who="workshop_id",
                         hours_worked=domain_event.hours_worked)  # fmt: skip

    @process_event.register
    def _(self, domain_event: ProductionOrder.Released, position: int) -> None:
        reason = f": {domain_event.reason}" if domain_event.reason else ""
        self._line_event(domain_event, position, "production_status", "open", "production_released",
                         lambda who, line: f"{who} gave {line} back for another workshop to take{reason}", who="workshop_id",
                         reason=domain_event.reason)  # fmt: skip
        self.update(self.view.links, domain_event.originator_id, workshop_id=None)

    @process_event.register
    def _(self, domain_event: ProductionOrder.Cancelled, position: int) -> None:
        self._line_event(domain_event, position, "production_status", "cancelled", "production_cancelled",
                         lambda who, line: f"production of {line} is cancelled")  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Opened, position: int) -> None:
        self.insert(self.view.links, id=domain_event.originator_id, order_id=domain_event.order_id,
                    line_no=domain_event.line_no, workshop_id=domain_event.workshop_id,
                    area_company_id=domain_event.area_company_id)  # fmt: skip
        self.update(
            self.view.lines, (domain_event.order_id, domain_event.line_no),
            delivery_id=domain_event.originator_id, delivery_status="pending",
        )  # fmt: skip
        workshop = self._party(domain_event.workshop_id, "workshop")
        self._note(domain_event.order_id, domain_event, position, "delivery_opened",
                   f"Line {domain_event.line_no} is made and waits for {workshop['name']} to deliver it",
                   line_no=domain_event.line_no, parties=[workshop])  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Scheduled, position: int) -> None:
        when = timeline.local_window(domain_event.earliest, domain_event.latest)
        self._line_event(domain_event, position, "delivery_status", "scheduled", "delivery_scheduled",
                         lambda who, line: f"{who} will deliver {line} on {when}", who="workshop_id",
                         earliest=domain_event.earliest.isoformat(), latest=domain_event.latest.isoformat())  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Dispatched, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "dispatched", "delivery_dispatched",
                         lambda who, line: f"{who} sent {line} on its way", who="workshop_id")  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Delivered, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "delivered", "delivered",
                         lambda who, line: f"{who} delivered {line}", who="workshop_id")  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Failed, position: int) -> None:
        reason = f": {domain_event.reason}" if domain_event.reason else ""
        self._line_event(domain_event, position, "delivery_status", "failed", "delivery_failed",
                         lambda who, line: f"{who} could not deliver {line}{reason}", who="workshop_id",
                         reason=domain_event.reason)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Delivery.Installed, position: int) -> None:
        self._line_event(domain_event, position, "delivery_status", "installed", "installed",
                         lambda who, line: f"{who} installed {line}", who="area_company_id")  # fmt: skip
