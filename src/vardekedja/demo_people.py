"""Demo people: one person per demo organisation, with a password, so the web UI can be tried in every role.

The passwords are made for one data folder and printed by ``vardekedja demo``
(they open demo data only). A later run reuses each password it is given back
while it still signs its person in, and otherwise invites the person again
(which resets the password) and joins with a new one, so what is printed works.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from uuid import UUID

from vardekedja.application import Marketplace
from vardekedja.application.passwords import hash_password, verify_password
from vardekedja.domain.errors import NotFoundError
from vardekedja.domain.organisation import Role
from vardekedja.domain.person import PersonStatus

# The demo organisation's organisation number → its person: name, email, language.
PEOPLE = {
    "556016-0680": ("Sara Lind", "sara.lind@studio-allmanning.example", "sv"),
    "556036-0793": ("Jonas Ek", "jonas.ek@formforgarden.example", "sv"),
    "556000-0753": ("Amir Haddad", "amir.haddad@fittjasnickeri.example", "sv"),
    "556012-5790": ("Lina Berg", "lina.berg@jarvaverkstad.example", "en"),
    "556056-6258": ("Petra Holm", "petra.holm@ronnabetong.example", "sv"),
    "556074-3089": ("Yusuf Demir", "yusuf.demir@botkyrka-omrade.example", "sv"),
    "556125-4433": ("Maria Sandberg", "maria.sandberg@jarvalyftet.example", "sv"),
    "556006-8420": ("Erik Nyström", "erik.nystrom@hovsjogardar.example", "sv"),
    "556030-7885": ("Leyla Ahmed", "leyla.ahmed@botkyrkabyggen.example", "sv"),
    "556101-6600": ("Karin Öberg", "karin.oberg@granskning.example", "en"),
}  # fmt: skip
OPERATOR_PERSON = ("Olle Drift", "olle.drift@vardekedja.example", "sv")
WORDS = ("bank", "ek", "lind", "torg", "sol", "regn", "sten", "bro", "lykta", "cykel", "pergola", "humle", "mossa",
         "vind", "trappa", "kvarn", "stuga", "hamn", "skog", "gran", "tall", "ljus", "park", "plank")  # no å, ä, ö: any keyboard  # fmt: skip


@dataclass(frozen=True)
class DemoSignIn:
    """What a person needs to sign in to the web UI as a demo organisation's member."""

    organisation: str
    role: Role
    name: str
    email: str
    password: str
    reused: bool


def new_password() -> str:
    """Four words and a number: easy to type, and far from any common password."""
    return "-".join(secrets.choice(WORDS) for _ in range(4)) + f"-{secrets.randbelow(90) + 10}"


def signs_in(app: Marketplace, organisation_id: UUID, email: str, password: str) -> bool:
    """Whether this email and password sign in now, as a member of that organisation (Argon2id: slow)."""
    try:
        person = app.person(app.person_id_for(email))
    except NotFoundError:
        return False
    if person.status is not PersonStatus.ACTIVE or person.organisation_id != organisation_id:
        return False
    return verify_password(app.personal_data.open(person.password_hash), password)


def seed_people(app: Marketplace, kept: Mapping[str, str] | None = None) -> list[DemoSignIn]:
    """A person with a password in each demo organisation (and the operator's, if there is one).

    ``kept`` maps an email to the password printed last time: reused while it signs in.
    """
    kept = kept or {}
    listed = {item.org_number: item for item in app.listed().listings.values()}
    members = [(listed[number], person) for number, person in PEOPLE.items() if number in listed]
    found = []
    for listing, (name, email, language) in members:
        organisation = app.organisation(listing.organisation_id)
        found.append(_member(app, organisation.id, organisation.name, organisation.role, name, email, language, kept))
    for operator_id in app.operators()[:1]:
        operator = app.organisation(operator_id)
        found.append(_member(app, operator_id, operator.name, Role.OPERATOR, *OPERATOR_PERSON, kept))
    return found


def _member(app: Marketplace, organisation_id: UUID, organisation: str, role: Role, name: str, email: str,
            language: str, kept: Mapping[str, str]) -> DemoSignIn:  # fmt: skip
    password = kept.get(email)
    if password is not None and signs_in(app, organisation_id, email, password):
        return DemoSignIn(organisation, role, name, email, password, True)
    password = new_password()
    invitation = app.invite_person(organisation_id, name=name, email=email, language=language)
    app.join_person(invitation.person_id, token=invitation.token, password_hash=hash_password(password))
    return DemoSignIn(organisation, role, name, email, password, False)
