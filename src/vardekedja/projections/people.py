"""People: each organisation's members, and what signing in needs (the invite's hash, the password hash).

Names, emails and password hashes are kept here as the events hold them,
sealed (personal_data.py); readers open them. When a person is erased the row
keeps only the id, the organisation and the status: the sealed values go too.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vardekedja.domain.person import Person, PersonStatus
from vardekedja.projections.base import Projection, View
from vardekedja.storage.types import UtcDateTime


class PeopleView(View):
    def define(self) -> None:
        self.people = sa.Table(
            self.table_name("people"),
            self.metadata,
            sa.Column("id", sa.Uuid, primary_key=True),
            sa.Column("organisation_id", sa.Uuid, nullable=False, index=True),
            sa.Column("name", sa.Text, nullable=True),  # sealed
            sa.Column("email", sa.Text, nullable=True),  # sealed
            sa.Column("language", sa.String(2), nullable=False),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("invite_hash", sa.String(64), nullable=True, index=True),
            sa.Column("invite_expires_at", UtcDateTime, nullable=True),
            sa.Column("password_hash", sa.Text, nullable=True),  # sealed
            sa.Column("invited_at", UtcDateTime, nullable=False),
            sa.Column("joined_at", UtcDateTime, nullable=True),
            sa.Column("position", sa.BigInteger, nullable=False),
        )

    def person(self, connection: Connection, person_id: UUID) -> dict[str, Any] | None:
        row = connection.execute(self.people.select().where(self.people.c.id == person_id)).mappings().first()
        return dict(row) if row else None

    def by_invite(self, connection: Connection, invite_hash: str) -> dict[str, Any] | None:
        """The person whose open invite has this hash (hashes of 256-bit tokens: an index look-up is safe)."""
        row = connection.execute(
            self.people.select().where(self.people.c.invite_hash == invite_hash)
        ).mappings().first()
        return dict(row) if row else None

    def members(self, connection: Connection, organisation_id: UUID) -> list[dict[str, Any]]:
        """The organisation's people, newest first (erased people are no longer members)."""
        rows = connection.execute(
            self.people.select()
            .where(self.people.c.organisation_id == organisation_id,
                   self.people.c.status != PersonStatus.ERASED.value)
            .order_by(self.people.c.position.desc())
        ).mappings()  # fmt: skip
        return [dict(row) for row in rows]


class PeopleProjection(Projection):
    name = "people"
    view_class = PeopleView
    view: PeopleView

    @singledispatchmethod
    def process_event(self, domain_event: Any, position: int) -> None:
        """Other events change nothing here."""

    def _invited(self, domain_event: Any, position: int) -> None:
        fields = dict(
            organisation_id=domain_event.organisation_id, name=domain_event.name, email=domain_event.email,
            language=domain_event.language, status=PersonStatus.INVITED.value,
            invite_hash=domain_event.invite_hash, invite_expires_at=domain_event.invite_expires_at,
            password_hash=None, invited_at=domain_event.timestamp, joined_at=None, position=position,
        )  # fmt: skip
        if self.update(self.view.people, domain_event.originator_id, **fields) is None:
            self.insert(self.view.people, id=domain_event.originator_id, **fields)

    @process_event.register
    def _(self, domain_event: Person.Invited, position: int) -> None:
        self._invited(domain_event, position)

    @process_event.register
    def _(self, domain_event: Person.Reinvited, position: int) -> None:
        self._invited(domain_event, position)

    @process_event.register
    def _(self, domain_event: Person.Joined, position: int) -> None:
        self.update(self.view.people, domain_event.originator_id, status=PersonStatus.ACTIVE.value,
                    password_hash=domain_event.password_hash, invite_hash=None, invite_expires_at=None,
                    joined_at=domain_event.timestamp)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Person.Removed, position: int) -> None:
        self.update(self.view.people, domain_event.originator_id, status=PersonStatus.REMOVED.value,
                    password_hash=None, invite_hash=None, invite_expires_at=None)  # fmt: skip

    @process_event.register
    def _(self, domain_event: Person.Erased, position: int) -> None:
        self.update(self.view.people, domain_event.originator_id, status=PersonStatus.ERASED.value, name=None,
                    email=None, password_hash=None, invite_hash=None, invite_expires_at=None)  # fmt: skip
