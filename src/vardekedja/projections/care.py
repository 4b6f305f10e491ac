"""Förvaltning: the assets (every delivered piece) and their maintenance orders.

The view keeps its own copy of organisations' names, so that a piece's public
page can say who looks after it, and of which assets each delivery made, so
that an installation reaches every piece it installed.
"""

from __future__ import annotations

import calendar
from datetime import datetime
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.asset import Asset, asset_id
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.maintenance import UNDONE, MaintenanceOrder
from vardekedja.domain.organisation import Organisation
from vardekedja.projections.base import Projection, View
from vardekedja.projections.paging import Page, newest_first
from vardekedja.storage.types import UtcDateTime


def add_months(moment: datetime, months: int) -> datetime:
    """The same day and time ``months`` later (the month's last day where it is shorter)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    return moment.replace(year=year, month=month, day=min(moment.day, calendar.monthrange(year, month)[1]))


class CareView(View):
    def define(self) -> None:
        self.names = sa.Table(
            self.table_name("names"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("name", sa.String, nullable=False),
        )
        self.assets = sa.Table(
            self.table_name("assets"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("code", sa.String(16), nullable=False, unique=True),
            sa.Column("order_id", sa.Uuid, nullable=False, index=True),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("piece", sa.Integer, nullable=False),
            sa.Column("delivery_id", sa.Uuid, nullable=False),
            sa.Column("design_id", sa.Uuid, nullable=False),
            sa.Column("revision", sa.Integer, nullable=False),
            sa.Column("title", sa.String, nullable=False),
            sa.Column("buyer_id", sa.Uuid, nullable=False, index=True),
            sa.Column("site_name", sa.String, nullable=False),
            sa.Column("street", sa.String, nullable=False),
            sa.Column("postal_code", sa.String, nullable=False),
            sa.Column("municipality", sa.String, nullable=False),
            sa.Column("caretaker_id", sa.Uuid, nullable=True, index=True),
            sa.Column("caretaker_name", sa.String, nullable=True),
            sa.Column("inspection_interval_months", sa.Integer, nullable=True),
            sa.Column("delivered_at", UtcDateTime, nullable=False),
            sa.Column("installed_at", UtcDateTime, nullable=True),
            sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        )
        # The pieces each delivery made, so that its installation reaches all of them.
        self.pieces = sa.Table(
            self.table_name("pieces"),
            self.metadata,
            sa.Column("delivery_id", sa.Uuid, primary_key=True),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("line_no", sa.Integer, nullable=False),
            sa.Column("count", sa.Integer, nullable=False),
        )
        self.orders = sa.Table(
            self.table_name("maintenance_orders"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("asset_id", sa.Uuid, nullable=False, index=True),
            sa.Column("asset_code", sa.String(16), nullable=False),
            sa.Column("title", sa.String, nullable=False),
            sa.Column("order_id", sa.Uuid, nullable=False),
            sa.Column("buyer_id", sa.Uuid, nullable=False, index=True),
            sa.Column("municipality", sa.String, nullable=False),
            sa.Column("area_company_id", sa.Uuid, nullable=False, index=True),
            sa.Column("area_company_name", sa.String, nullable=True),
            sa.Column("service_code", sa.String, nullable=False),
            sa.Column("description", sa.Text, nullable=True),  # sealed; None once the reporter is erased
            sa.Column("status", sa.String, nullable=False, index=True),
            sa.Column("inspection_no", sa.Integer, nullable=True),
            sa.Column("lat", sa.Float, nullable=True),
            sa.Column("long", sa.Float, nullable=True),
            sa.Column("media_url", sa.String, nullable=True),
            sa.Column("contact", sa.JSON, nullable=True),  # the reporter's, sealed
            sa.Column("opened_at", UtcDateTime, nullable=False),
            sa.Column("expected_by", UtcDateTime, nullable=False, index=True),
            sa.Column("updated_at", UtcDateTime, nullable=False),
            sa.Column("hours_worked", sa.Float, nullable=True),
            sa.Column("materials_ore", sa.BigInteger, nullable=True),
            sa.Column("notes", sa.Text, nullable=True),
            sa.Column("reason", sa.Text, nullable=True),
            sa.Column("position", sa.BigInteger, nullable=False, unique=True),
        )

    # Assets.

    def asset(self, connection: Connection, asset_id_: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.assets.select().where(self.assets.c.id == asset_id_)).mappings().first()
        return dict(row) if row else None

    def asset_by_code(self, connection: Connection, code: str) -> dict[str, Any] | None:
        row = connection.execute(self.assets.select().where(self.assets.c.code == code)).mappings().first()
        return dict(row) if row else None

    def list_assets(self, connection: Connection, *, party_id: UUID | None = None, limit: int = 20,
                    cursor: str | None = None) -> Page:  # fmt: skip
        """Newest first: every asset, or those a buyer owns or an area company looks after."""
        a = self.assets
        query = sa.select(a)
        if party_id is not None:
            query = query.where(sa.or_(a.c.buyer_id == party_id, a.c.caretaker_id == party_id))
        return newest_first(connection, query, a.c.position, limit=limit, cursor=cursor)

    def due_inspections(self, connection: Connection, now: datetime) -> list[tuple[UUID, int]]:
        """(asset, inspection number) for every inspection due by ``now`` that is not open yet.

        Inspections count from installation (or delivery, for a piece nobody installs).
        """
        a, m = self.assets, self.orders
        opened = {(row.asset_id, row.inspection_no) for row in connection.execute(
            sa.select(m.c.asset_id, m.c.inspection_no).where(m.c.inspection_no.is_not(None)))}  # fmt: skip
        query = sa.select(a.c.id, a.c.delivered_at, a.c.installed_at, a.c.inspection_interval_months).where(
            a.c.inspection_interval_months.is_not(None)
        )
        due = []
        for row in connection.execute(query):
            start = row.installed_at or row.delivered_at
            number = 1
            while add_months(start, number * row.inspection_interval_months) <= now:
                if (row.id, number) not in opened:
                    due.append((row.id, number))
                number += 1
        return due

    # Maintenance orders.

    def maintenance_order(self, connection: Connection, order_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.orders.select().where(self.orders.c.id == order_id)).mappings().first()
        return dict(row) if row else None

    def list_maintenance(
        self, connection: Connection, *, party_id: UUID | None = None, status: str | None = None,
        asset_id_: UUID | None = None, overdue_at: datetime | None = None, limit: int = 20, cursor: str | None = None,
    ) -> Page:  # fmt: skip
        """Newest first; for one party (the area company or the buyer), a status, an asset, or overdue at a time."""
        m = self.orders
        query = sa.select(m)
        if party_id is not None:
            query = query.where(sa.or_(m.c.area_company_id == party_id, m.c.buyer_id == party_id))
        if status is not None:
            query = query.where(m.c.status == status)
        if asset_id_ is not None:
            query = query.where(m.c.asset_id == asset_id_)
        if overdue_at is not None:
            query = query.where(m.c.status.in_([s.value for s in UNDONE]), m.c.expected_by < overdue_at)
        return newest_first(connection, query, m.c.position, limit=limit, cursor=cursor)

    def reports(self, connection: Connection, *, ids: list[UUID] | None = None, service_code: str | None = None,
                since: datetime | None = None, until: datetime | None = None, open_: bool | None = None,
                limit: int = 1000) -> list[dict[str, Any]]:  # fmt: skip
        """Maintenance orders with their piece's address, for the public Open311 list, newest first."""
        m, a = self.orders, self.assets
        query = sa.select(m, a.c.street, a.c.postal_code).join(a, a.c.id == m.c.asset_id)
        if ids is not None:
            query = query.where(m.c.id.in_(ids))
        if service_code is not None:
            query = query.where(m.c.service_code == service_code)
        if since is not None:
            query = query.where(m.c.opened_at >= since)
        if until is not None:
            query = query.where(m.c.opened_at <= until)
        if open_ is not None:
            undone = m.c.status.in_([s.value for s in UNDONE])
            query = query.where(undone if open_ else sa.not_(undone))
        rows = connection.execute(query.order_by(m.c.position.desc()).limit(limit)).mappings()
        return [dict(row) for row in rows]


class CareProjection(Projection):
    name = "care"
    version = 2  # 2: a report's description and contact are dropped when its reporter is erased
    view_class = CareView
    view: CareView

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Organisation.Registered, position: int) -> None:
        self.insert(self.view.names, id=domain_event.originator_id, name=domain_event.name)

    def _name(self, organisation_id: UUID | None) -> str | None:
        row = self.get(self.view.names, organisation_id) if organisation_id is not None else None
        return row["name"] if row else None

    @process_event.register
    def _(self, domain_event: Asset.Registered, position: int) -> None:
        e, site = domain_event, domain_event.site
        self.insert(
            self.view.assets, id=e.originator_id, code=e.code, order_id=e.order_id, line_no=e.line_no,
            piece=e.piece, delivery_id=e.delivery_id, design_id=e.design_id, revision=e.revision, title=e.title,
            buyer_id=e.buyer_id, site_name=site["name"], street=site["street"], postal_code=site["postal_code"],
            municipality=site["municipality"], caretaker_id=e.caretaker_id, caretaker_name=self._name(e.caretaker_id),
            inspection_interval_months=e.inspection_interval_months, delivered_at=e.timestamp, installed_at=None,
            position=position,
        )  # fmt: skip
        pieces = self.row(self.view.pieces, e.delivery_id)
        if pieces is None:
            self.insert(self.view.pieces, delivery_id=e.delivery_id, order_id=e.order_id, line_no=e.line_no,
                        count=e.piece)  # fmt: skip
        else:
            pieces["count"] = max(pieces["count"], e.piece)

    @process_event.register
    def _(self, domain_event: Delivery.Installed, position: int) -> None:
        pieces = self.get(self.view.pieces, domain_event.originator_id)
        if pieces is None:
            return  # delivered before pieces became assets
        for piece in range(1, pieces["count"] + 1):
            self.update(self.view.assets, asset_id(pieces["order_id"], pieces["line_no"], piece),
                        installed_at=domain_event.timestamp)  # fmt: skip

    @process_event.register
    def _(self, domain_event: MaintenanceOrder.Opened, position: int) -> None:
        e = domain_event
        asset = self.get(self.view.assets, e.asset_id)
        if asset is None:
            return
        expected_by = e.timestamp + MaintenanceOrder.expected_delta(e.expected_hours)
        self.insert(
            self.view.orders, id=e.originator_id, asset_id=e.asset_id, asset_code=asset["code"], title=asset["title"],
            order_id=asset["order_id"], buyer_id=asset["buyer_id"], municipality=asset["municipality"],
            area_company_id=e.area_company_id, area_company_name=self._name(e.area_company_id),
            service_code=e.service_code, description=e.description, status="open", inspection_no=e.inspection_no,
            lat=e.lat, long=e.long, media_url=e.media_url, contact=e.contact, opened_at=e.timestamp, expected_by=expected_by,
            updated_at=e.timestamp, hours_worked=None, materials_ore=None, notes=None, reason=None, position=position,
        )  # fmt: skip

    def _set(self, domain_event: Any, **values: Any) -> None:
        self.update(self.view.orders, domain_event.originator_id, updated_at=domain_event.timestamp, **values)

    @process_event.register
    def _(self, domain_event: MaintenanceOrder.Acknowledged, position: int) -> None:
        self._set(domain_event, status="acknowledged")

    @process_event.register
    def _(self, domain_event: MaintenanceOrder.Started, position: int) -> None:
        self._set(domain_event, status="in_progress")

    @process_event.register
    def _(self, domain_event: MaintenanceOrder.Resolved, position: int) -> None:
        e = domain_event
        self._set(e, status="resolved", hours_worked=e.hours_worked, materials_ore=e.materials_ore, notes=e.notes)

    @process_event.register
    def _(self, domain_event: MaintenanceOrder.ReporterErased, position: int) -> None:
        # Nothing can open them now: keep none (the order's own times stay as they were).
        self.update(self.view.orders, domain_event.originator_id, description=None, contact=None)

    @process_event.register
    def _(self, domain_event: MaintenanceOrder.Rejected, position: int) -> None:
        self._set(domain_event, status="rejected", reason=domain_event.reason)
