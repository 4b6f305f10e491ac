"""People: invited into an organisation, joined with a password, removed, and erased.

Names, emails and password hashes are sealed under the person's own data
subject before they reach an event (personal_data.py). Invite tokens are
random, shown once and stored as a SHA-256 hash (256 bits of randomness: a
fast hash is as strong as a slow one). Passwords are hashed by the caller,
off the event loop and outside the command thread (passwords.py): a command
only seals and records the hash it is given.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.rounds import Recorded, retrying
from vardekedja.domain.errors import NotFoundError
from vardekedja.domain.person import Person, PersonStatus, person_id

INVITE_LIFETIME = timedelta(days=7)


@dataclass(frozen=True)
class Invitation:
    person_id: UUID
    token: str  # shown once, in the invite link
    position: int


def normalise_email(email: str) -> str:
    """Emails compare without case or surrounding spaces."""
    return email.strip().casefold()


def hash_invite_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class PeopleCommands(MarketplaceBase):

    def person(self, person_id_: UUID) -> Person:
        return self._get(Person, person_id_)

    def person_id_for(self, email: str) -> UUID:
        """The id the person with this email has (or would have)."""
        return person_id(self.personal_data.digest(normalise_email(email)))

    @retrying
    def invite_person(self, organisation_id: UUID, *, name: str, email: str, language: str,
                      now: datetime | None = None) -> Invitation:  # fmt: skip
        """Invite someone into the organisation; a new invite for a member resets their password."""
        self.organisation(organisation_id)  # the organisation exists
        digest = self.personal_data.digest(normalise_email(email))
        token = secrets.token_urlsafe(32)
        expires = (now or datetime.now(timezone.utc)) + INVITE_LIFETIME
        try:
            person: Person | None = self.person(person_id(digest))
        except NotFoundError:
            person = None
        subject = uuid.uuid4() if person is None or person.needs_new_subject() else person.subject
        fields: dict[str, Any] = dict(
            organisation_id=organisation_id, subject=subject, name=self._seal(subject, name.strip()),
            email=self._seal(subject, email.strip()), language=language,
            invite_hash=hash_invite_token(token), invite_expires_at=expires,
        )  # fmt: skip
        if person is None:
            person = Person.invite(email_digest=digest, **fields)
        else:
            person.reinvite(**fields)
        recorded = self._commit(person.id, person)
        return Invitation(person.id, token, recorded.position)

    @retrying
    def join_person(self, person_id_: UUID, *, token: str, password_hash: str, now: datetime | None = None) -> Recorded:
        """Take the invite with this token and set the (already hashed) password."""
        person = self.person(person_id_)
        person.join(invite_hash=hash_invite_token(token), password_hash=self._seal(person.subject, password_hash),
                    now=now or datetime.now(timezone.utc))  # fmt: skip
        return self._commit(person.id, person)

    @retrying
    def remove_person(self, organisation_id: UUID, person_id_: UUID) -> Recorded:
        person = self._member_of(organisation_id, person_id_)
        person.remove()
        return self._commit(person.id, person)

    @retrying
    def erase_person(self, person_id_: UUID) -> Recorded:
        """Erase the person's personal data: delete their key, then record that they were erased.

        The key goes first: should recording fail, the data is already
        unreadable and erasing again finishes the job.
        """
        person = self.person(person_id_)
        if person.status is PersonStatus.ERASED:
            self.personal_data.erase(person.subject)
        person.erase()
        self.personal_data.erase(person.subject)
        return self._commit(person.id, person)

    def _member_of(self, organisation_id: UUID, person_id_: UUID) -> Person:
        person = self.person(person_id_)
        if not person.belongs_to(organisation_id):
            raise NotFoundError(f"no person {person_id_} in this organisation")
        return person

    def _seal(self, subject: UUID, text: str) -> str:
        return self.personal_data.seal(subject, text)
