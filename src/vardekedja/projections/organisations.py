"""Organisations and their API key hashes: who is who, and who may call the API."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.organisation import Organisation
from vardekedja.projections.base import Projection, UtcDateTime, View


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


class KeyLookups:
    """API key lookups kept in memory, trusted only while this process's projector applies every change.

    The server looks a key up in the views on every request unless it finds it
    here. Entries are dropped before any batch that changes organisations or
    their keys commits, and a lookup that overlapped such a change is not kept,
    so once a revocation has reached the views (which is when revoking answers)
    no entry from before it is left. When another process applies the changes
    (``vardekedja project``, another server worker, a rebuild swapped in), this
    process cannot see them happen, and nothing is kept: every lookup reads the
    views.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, Any] = {}
        self._generation = 0
        self._changing = False
        self._trusted = False
        self.applied: int | None = None  # the position this process's projector last committed

    def trust(self, trusted: bool) -> None:
        """Say whether this process's projector is the one applying changes (it holds the lock)."""
        with self._lock:
            self._trusted = trusted
            self._entries.clear()
            self._generation += 1
            self.applied = None

    def find(self, key_id: str) -> Any:
        if not self._trusted or self._changing:
            return None
        return self._entries.get(key_id)

    @property
    def generation(self) -> int:
        """Read before looking a key up in the views; hand it to ``remember`` with what was found."""
        return self._generation

    def remember(self, key_id: str, found: Any, generation: int) -> None:
        with self._lock:
            if self._trusted and not self._changing and generation == self._generation:
                self._entries[key_id] = found

    def changing(self) -> None:
        """Keys are about to change in the views: drop everything, keep nothing until ``settled``."""
        with self._lock:
            self._changing = True
            self._entries.clear()
            self._generation += 1

    def settled(self, applied: int | None) -> None:
        """The batch has committed at ``applied`` (None: it did not, or the position is unknown)."""
        with self._lock:
            if self._changing:
                self._changing = False
                self._generation += 1
            self.applied = applied


class OrganisationsProjection(Projection):
    name = "organisations"
    view_class = OrganisationsView
    view: OrganisationsView

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.keys = KeyLookups()
        self._batch_end: int | None = None

    def process_batch(self, connection: Connection, events: Sequence[tuple[int, Any]]) -> int:
        # Someone else moved the view (a swapped-in rebuild, another projector) or keys change:
        # either way what is kept may be stale.
        old = self.view.position(connection)
        if old != self.keys.applied or any(isinstance(domain_event, Organisation.Event) for _, domain_event in events):
            self.keys.changing()
        self._batch_end = max([old, *(position for position, _ in events)])
        return super().process_batch(connection, events)

    def settled(self, committed: bool) -> None:
        position, self._batch_end = self._batch_end, None
        self.keys.settled(position if committed else None)

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
