"""Organisations: who takes part in the marketplace, in which role, and their API keys."""

from __future__ import annotations

import re
from enum import StrEnum

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import (
    InvalidOrgNumberError,
    InvalidTransitionError,
    RuleViolationError,
    UnknownApiKeyError,
)

# ASCII only: ``\d`` would also take other scripts' digits, storing a number that the
# duplicate check cannot match against the same number in ASCII.
_ORG_NUMBER = re.compile(r"^(?:16)?(\d{6})-?(\d{4})$", re.ASCII)


class Role(StrEnum):
    OPERATOR = "operator"
    DESIGNER = "designer"
    WORKSHOP = "workshop"
    BUYER = "buyer"
    AREA_COMPANY = "area_company"
    AUDITOR = "auditor"

    @property
    def label(self) -> str:
        """The role as a person says it: "area company", not "area_company"."""
        return self.value.replace("_", " ")

    @property
    def with_article(self) -> str:
        """ "an auditor", "a workshop": the role in a sentence."""
        label = self.label
        return f"{'an' if label[0] in 'aeiou' else 'a'} {label}"


def normalise_org_number(text: str) -> str:
    """Return ``NNNNNN-NNNN`` for a valid Swedish organisation number.

    The ten digits must pass the Luhn check that Bolagsverket uses; the
    optional century-style prefix ``16`` and the hyphen are accepted.
    """
    match = _ORG_NUMBER.match(text.strip())
    if not match:
        raise InvalidOrgNumberError(
            f"{text!r} is not an organisation number (NNNNNN-NNNN)", field="org_number"
        )
    digits = match.group(1) + match.group(2)
    total = 0
    for index, char in enumerate(digits):
        product = int(char) * (2 if index % 2 == 0 else 1)
        total += product - 9 if product > 9 else product
    if total % 10:
        raise InvalidOrgNumberError(
            f"{text!r} fails the organisation number check digit", field="org_number"
        )
    return f"{match.group(1)}-{match.group(2)}"


def normalise_names(values: list[str] | tuple[str, ...]) -> list[str]:
    """Capabilities and municipalities compare without case or stray spaces."""
    return sorted({value.strip().casefold() for value in values if value.strip()})


class Organisation(Aggregate):
    """A registered party; an organisation has exactly one role."""

    TOPIC = "vardekedja:Organisation"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Organisation.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Organisation.Event"

    class Registered(Created):
        TOPIC = "vardekedja:Organisation.Registered"
        name: str
        role: str
        org_number: str
        municipality: str
        capabilities: list[str]
        service_area: list[str]

    class ApiKeyIssued(Event):
        TOPIC = "vardekedja:Organisation.ApiKeyIssued"
        key_id: str
        key_hash: str

    class ApiKeyRevoked(Event):
        TOPIC = "vardekedja:Organisation.ApiKeyRevoked"
        key_id: str

    @classmethod
    def register(
        cls,
        *,
        name: str,
        role: Role | str,
        org_number: str,
        municipality: str,
        capabilities: list[str] | tuple[str, ...] = (),
        service_area: list[str] | tuple[str, ...] = (),
    ) -> Organisation:
        if not name.strip():
            raise RuleViolationError("an organisation needs a name", field="name")
        try:
            role = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise RuleViolationError(f"unknown role {role!r}; the roles are {roles}", field="role") from None
        if not municipality.strip():
            raise RuleViolationError("an organisation needs a municipality", field="municipality")
        capabilities = normalise_names(capabilities)
        service_area = normalise_names(service_area)
        if role is Role.WORKSHOP and not capabilities:
            raise RuleViolationError("a workshop needs capabilities", field="capabilities")
        if role in (Role.WORKSHOP, Role.AREA_COMPANY) and not service_area:
            raise RuleViolationError(f"{role.with_article} needs a service area", field="service_area")
        return cls(
            name=name.strip(),
            role=role.value,
            org_number=normalise_org_number(org_number),
            municipality=municipality.strip(),
            capabilities=capabilities,
            service_area=service_area,
        )

    @event(Registered)
    def __init__(
        self,
        *,
        name: str,
        role: str,
        org_number: str,
        municipality: str,
        capabilities: list[str],
        service_area: list[str],
    ) -> None:
        self.name = name
        self.role = Role(role)
        self.org_number = org_number
        self.municipality = municipality
        self.capabilities = list(capabilities)
        self.service_area = list(service_area)
        self.api_keys: dict[str, str] = {}

    def issue_api_key(self, key_id: str, key_hash: str) -> None:
        if key_id in self.api_keys:
            raise InvalidTransitionError(f"API key {key_id} already exists")
        self._api_key_issued(key_id=key_id, key_hash=key_hash)

    @event(ApiKeyIssued)
    def _api_key_issued(self, key_id: str, key_hash: str) -> None:
        self.api_keys[key_id] = key_hash

    def revoke_api_key(self, key_id: str) -> None:
        if key_id not in self.api_keys:
            raise UnknownApiKeyError(f"no API key {key_id}")
        self._api_key_revoked(key_id=key_id)

    @event(ApiKeyRevoked)
    def _api_key_revoked(self, key_id: str) -> None:
        del self.api_keys[key_id]

    def serves(self, municipality: str) -> bool:
        return municipality.strip().casefold() in self.service_area

    def can_make(self, required_capabilities: list[str]) -> bool:
        return set(required_capabilities) <= set(self.capabilities)
