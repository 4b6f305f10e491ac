"""Organisations and their API key hashes: who is who, and who may call the API."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.organisation import Organisation
from vardekedja.projections.base import Projection, View
from vardekedja.storage.types import UtcDateTime


class OrganisationsView(View):
    def define(self) -> None:
        self.organisations = sa.Table(
            self.table_name("organisations"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("name", sa.String, nullable=False),
            sa.Column("role", sa.String, nullable=False, index=True),
            sa.Column("org_number", sa.String, nullable=False),
            sa.Column("municipality", sa.String, nullable=False),
            sa.Column("capabilities", sa.JSON, nullable=False),
            sa.Column("service_area", sa.JSON, nullable=False),
            sa.Column("registered_at", UtcDateTime, nullable=False),
            sa.Column("position", sa.BigInteger, nullable=False, index=True),
        )
        self.api_keys = sa.Table(
            self.table_name("api_keys"),
            self.metadata,
            sa.Column("organisation_id", sa.Uuid, primary_key=True),
            sa.Column("key_id", sa.String, primary_key=True, index=True),
            sa.Column("key_hash", sa.String, nullable=False),
            sa.Column("issued_at", UtcDateTime, nullable=False),
            sa.Column("revoked_at", UtcDateTime, nullable=True),
        )

    def organisation(self, connection: Connection, organisation_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(
            self.organisations.select().where(self.organisations.c.id == organisation_id)
        ).mappings().first()
        return dict(row) if row else None

    def everyone(self, connection: Connection) -> list[dict[str, Any]]:
        """Every organisation, by role and name (for the operator's page)."""
        o = self.organisations
        return [dict(row) for row in connection.execute(o.select().order_by(o.c.role, o.c.name)).mappings()]

    def active_keys(self, connection: Connection, key_id: str) -> list[tuple[UUID, str]]:
        """(organisation id, key hash) of each unrevoked key with this id (ids are random, so one)."""
        rows = connection.execute(
            sa.select(self.api_keys.c.organisation_id, self.api_keys.c.key_hash).where(
                self.api_keys.c.key_id == key_id, self.api_keys.c.revoked_at.is_(None)
            )
        )
        return [(row[0], row[1]) for row in rows]

    def keys_of(self, connection: Connection, organisation_id: UUID) -> list[dict[str, Any]]:
        rows = connection.execute(
            sa.select(self.api_keys.c.key_id, self.api_keys.c.issued_at, self.api_keys.c.revoked_at)
            .where(self.api_keys.c.organisation_id == organisation_id)
            .order_by(self.api_keys.c.issued_at)
        ).mappings()
        return [dict(row) for row in rows]


class OrganisationsProjection(Projection):
    name = "organisations"
    view_class = OrganisationsView
    view: OrganisationsView

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    @process_event.register
    def _(self, domain_event: Organisation.Registered, position: int) -> None:
        self.insert(
            self.view.organisations,
            id=domain_event.originator_id,
            name=domain_event.name,
            role=domain_event.role,
            org_number=domain_event.org_number,
            municipality=domain_event.municipality,
            capabilities=list(domain_event.capabilities),
            service_area=list(domain_event.service_area),
            registered_at=domain_event.timestamp,
            position=position,
        )

    @process_event.register
    def _(self, domain_event: Organisation.ApiKeyIssued, position: int) -> None:
        self.insert(
            self.view.api_keys,
            key_id=domain_event.key_id,
            organisation_id=domain_event.originator_id,
            key_hash=domain_event.key_hash,
            issued_at=domain_event.timestamp,
            revoked_at=None,
        )

    @process_event.register
    def _(self, domain_event: Organisation.ApiKeyRevoked, position: int) -> None:
        self.update(self.view.api_keys, (domain_event.originator_id, domain_event.key_id), revoked_at=domain_event.timestamp)
