"""People: members of one organisation who sign in, invited, joined, removed and erased.

A person's name, email and password hash reach the events only sealed (see
personal_data.py): here they are opaque strings, and erasing the person's data
subject makes them unreadable everywhere. The person's id is derived from a
keyed digest of the email, so one email is one person (a second invite for it
is a conflict or a re-invite, never a duplicate). Invites are stored as a hash
of their token, used once and valid until the time the invite names.
"""

from __future__ import annotations

import hmac
from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import ConflictError, InvalidTransitionError, NotFoundError, RuleViolationError

LANGUAGES = ("sv", "en")


class PersonStatus(StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    REMOVED = "removed"
    ERASED = "erased"


class MemberElsewhereError(ConflictError):
    """The email belongs to a member of another organisation."""


class InviteNotValidError(NotFoundError):
    """No open invite with this token: unknown, used already, or replaced by a newer one."""


class InviteExpiredError(ConflictError):
    """The invite's time ran out; ask for a new one."""


def person_id(email_digest: str) -> UUID:
    """One id per email (its keyed digest), so that two invites for one email meet on one stream."""
    return uuid5(NAMESPACE_URL, f"vardekedja:person:{email_digest}")


class Person(Aggregate):
    TOPIC = "vardekedja:Person"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Person.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Person.Event"

    class Invited(Created):
        TOPIC = "vardekedja:Person.Invited"
        organisation_id: UUID
        subject: UUID
        name: str
        email: str
        language: str
        invite_hash: str
        invite_expires_at: datetime

    class Reinvited(Event):
        """A new invite: for a member it resets the password; a removed or erased person may come back."""

        TOPIC = "vardekedja:Person.Reinvited"
        organisation_id: UUID
        subject: UUID
        name: str
        email: str
        language: str
        invite_hash: str
        invite_expires_at: datetime

    class Joined(Event):
        TOPIC = "vardekedja:Person.Joined"
        password_hash: str

    class Removed(Event):
        TOPIC = "vardekedja:Person.Removed"

    class Erased(Event):
        """The person's data subject was erased; this event carries no personal data."""

        TOPIC = "vardekedja:Person.Erased"
        subject: UUID

    @staticmethod
    def create_id(email_digest: str, **_: object) -> UUID:
        return person_id(email_digest)

    @classmethod
    def invite(cls, *, email_digest: str, organisation_id: UUID, subject: UUID, name: str, email: str,
               language: str, invite_hash: str, invite_expires_at: datetime) -> Person:  # fmt: skip
        _check_language(language)
        return cls._create(
            cls.Invited, id=person_id(email_digest), organisation_id=organisation_id, subject=subject, name=name,
            email=email, language=language, invite_hash=invite_hash, invite_expires_at=invite_expires_at,
        )  # fmt: skip

    @event(Invited)
    def __init__(self, *, organisation_id: UUID, subject: UUID, name: str, email: str, language: str,
                 invite_hash: str, invite_expires_at: datetime) -> None:  # fmt: skip
        self._take_invite(organisation_id, subject, name, email, language, invite_hash, invite_expires_at)

    def _take_invite(self, organisation_id: UUID, subject: UUID, name: str | None, email: str | None,
                     language: str, invite_hash: str | None, invite_expires_at: datetime | None) -> None:  # fmt: skip
        self.organisation_id = organisation_id
        self.subject = subject
        self.name: str | None = name
        self.email: str | None = email
        self.language = language
        self.invite_hash: str | None = invite_hash
        self.invite_expires_at: datetime | None = invite_expires_at
        self.password_hash: str | None = None
        self.status = PersonStatus.INVITED

    def belongs_to(self, organisation_id: UUID) -> bool:
        return self.organisation_id == organisation_id and self.status is not PersonStatus.ERASED

    def needs_new_subject(self) -> bool:
        """An erased person coming back gets a new data subject: the old one's key is gone for good."""
        return self.status is PersonStatus.ERASED

    def reinvite(self, *, organisation_id: UUID, subject: UUID, name: str, email: str, language: str,
                 invite_hash: str, invite_expires_at: datetime) -> None:  # fmt: skip
        _check_language(language)
        member = self.status in (PersonStatus.INVITED, PersonStatus.ACTIVE)
        if member and organisation_id != self.organisation_id:
            raise MemberElsewhereError("this email belongs to a member of another organisation", field="email")
        self._reinvited(organisation_id=organisation_id, subject=subject, name=name, email=email,
                        language=language, invite_hash=invite_hash, invite_expires_at=invite_expires_at)  # fmt: skip

    @event(Reinvited)
    def _reinvited(self, organisation_id: UUID, subject: UUID, name: str, email: str, language: str,
                   invite_hash: str, invite_expires_at: datetime) -> None:  # fmt: skip
        self._take_invite(organisation_id, subject, name, email, language, invite_hash, invite_expires_at)

    def join(self, *, invite_hash: str, password_hash: str, now: datetime) -> None:
        """Take the invite (once, before it expires) and set the password."""
        if self.invite_hash is None or not hmac.compare_digest(invite_hash, self.invite_hash):
            raise InviteNotValidError("this invite link is not valid: it was used already or replaced")
        if self.invite_expires_at is None or now >= self.invite_expires_at:
            raise InviteExpiredError("this invite link has expired: ask for a new one")
        self._joined(password_hash=password_hash)

    @event(Joined)
    def _joined(self, password_hash: str) -> None:
        self.password_hash = password_hash
        self.invite_hash = None
        self.invite_expires_at = None
        self.status = PersonStatus.ACTIVE

    def remove(self) -> None:
        if self.status in (PersonStatus.REMOVED, PersonStatus.ERASED):
            raise InvalidTransitionError(f"this person is {self.status.value} already")
        self._removed()

    @event(Removed)
    def _removed(self) -> None:
        self.status = PersonStatus.REMOVED
        self.invite_hash = None
        self.invite_expires_at = None
        self.password_hash = None

    def erase(self) -> None:
        if self.status is PersonStatus.ERASED:
            raise InvalidTransitionError("this person is erased already")
        self._erased(subject=self.subject)

    @event(Erased)
    def _erased(self, subject: UUID) -> None:
        self.status = PersonStatus.ERASED
        self.name = self.email = self.password_hash = self.invite_hash = None
        self.invite_expires_at = None


def _check_language(language: str) -> None:
    if language not in LANGUAGES:
        raise RuleViolationError(f"language is one of {', '.join(LANGUAGES)}", field="language")
