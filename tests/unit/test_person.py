"""People: invited, joined with an invite used once and in time, removed, re-invited and erased."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from uuid import uuid4

import pytest

from vardekedja.domain.errors import InvalidTransitionError, RuleViolationError
from vardekedja.domain.person import (
    InviteExpiredError,
    InviteNotValidError,
    MemberElsewhereError,
    Person,
    PersonStatus,
    person_id,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
ORGANISATION = uuid4()


def invited(**changes: object) -> Person:
    fields: dict[str, object] = dict(
        email_digest="d" * 64, organisation_id=ORGANISATION, subject=uuid4(), name="sealed-name",
        email="sealed-email", language="sv", invite_hash="h" * 64, invite_expires_at=NOW + timedelta(days=7),
    )  # fmt: skip
    fields.update(changes)
    return Person.invite(**fields)  # type: ignore[arg-type]


def test_one_email_is_one_person() -> None:
    assert invited().id == invited().id == person_id("d" * 64)
    assert invited(email_digest="e" * 64).id != person_id("d" * 64)


def test_joining_takes_the_invite_once() -> None:
    person = invited()
    person.join(invite_hash="h" * 64, password_hash="sealed-hash", now=NOW)
    assert person.status is PersonStatus.ACTIVE and person.password_hash == "sealed-hash"
    with pytest.raises(InviteNotValidError):
        person.join(invite_hash="h" * 64, password_hash="again", now=NOW)


def test_an_invite_with_another_token_or_out_of_time_is_refused() -> None:
    person = invited()
    with pytest.raises(InviteNotValidError):
        person.join(invite_hash="x" * 64, password_hash="p", now=NOW)
    with pytest.raises(InviteExpiredError):
        person.join(invite_hash="h" * 64, password_hash="p", now=NOW + timedelta(days=7))
    assert person.status is PersonStatus.INVITED


def test_a_new_invite_resets_the_password_and_another_organisation_cannot_take_a_member() -> None:
    person = invited()
    person.join(invite_hash="h" * 64, password_hash="p", now=NOW)
    again = dict(subject=person.subject, name="n", email="e", language="en", invite_hash="i" * 64,
                 invite_expires_at=NOW + timedelta(days=7))  # fmt: skip
    with pytest.raises(MemberElsewhereError):
        person.reinvite(organisation_id=uuid4(), **again)  # type: ignore[arg-type]
    person.reinvite(organisation_id=ORGANISATION, **again)  # type: ignore[arg-type]
    assert (person.status, person.password_hash, person.language) == (PersonStatus.INVITED, None, "en")


def test_removed_and_erased_people_keep_nothing_to_sign_in_with() -> None:
    person = invited()
    person.join(invite_hash="h" * 64, password_hash="p", now=NOW)
    person.remove()
    assert (person.status, person.password_hash) == (PersonStatus.REMOVED, None)
    with pytest.raises(InvalidTransitionError):
        person.remove()
    person.erase()
    assert (person.status, person.name, person.email) == (PersonStatus.ERASED, None, None)
    assert person.needs_new_subject()
    [*_, erased] = person.collect_events()
    assert isinstance(erased, Person.Erased) and set(vars(erased)) == {
        "originator_id", "originator_version", "timestamp", "subject"}


def test_replaying_the_events_gives_the_same_person() -> None:
    person = invited()
    person.join(invite_hash="h" * 64, password_hash="p", now=NOW)
    events = person.collect_events()
    replayed = None
    for event in events:
        replayed = event.mutate(replayed)
    assert replayed is not None and (replayed.status, replayed.password_hash) == (PersonStatus.ACTIVE, "p")


def test_the_language_is_swedish_or_english() -> None:
    with pytest.raises(RuleViolationError) as refused:
        invited(language="de")
    assert refused.value.field == "language"
