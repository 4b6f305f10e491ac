"""The directory: one aggregate that knows every organisation's role and reach.

Placing an order must know, at that moment, whether some workshop can make each
line and some area company serves the site; registering must refuse a second
organisation with the same organisation number. Both need one consistent view
of all organisations, so the directory is an aggregate of its own, saved in the
same transaction as each registration. Registrations are rare, so the single
stream is no bottleneck, and snapshots keep loading it cheap.
"""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import DuplicateOrganisationError
from vardekedja.domain.organisation import Organisation, Role

DIRECTORY_ID = uuid5(NAMESPACE_URL, "vardekedja:directory")


@dataclass(frozen=True)
class Listing:
    organisation_id: UUID
    role: Role
    org_number: str
    capabilities: frozenset[str]
    service_area: frozenset[str]

    def serves(self, municipality: str) -> bool:
        return municipality.strip().casefold() in self.service_area


class Directory(Aggregate):
    TOPIC = "vardekedja:Directory"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Directory.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Directory.Event"

    class Opened(Created):
        TOPIC = "vardekedja:Directory.Opened"

    class Listed(Event):
        TOPIC = "vardekedja:Directory.Listed"
        organisation_id: UUID
        role: str
        org_number: str
        capabilities: list[str]
        service_area: list[str]

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @event(Opened)
    def __init__(self) -> None:
        self.listings: dict[UUID, Listing] = {}

    def list(self, organisation: Organisation) -> None:
        if any(item.org_number == organisation.org_number for item in self.listings.values()):
            raise DuplicateOrganisationError(
                f"organisation number {organisation.org_number} is already registered"
            )
        self._listed(
            organisation_id=organisation.id,
            role=organisation.role.value,
            org_number=organisation.org_number,
            capabilities=list(organisation.capabilities),
            service_area=list(organisation.service_area),
        )

    @event(Listed)
    def _listed(
        self,
        organisation_id: UUID,
        role: str,
        org_number: str,
        capabilities: list[str],
        service_area: list[str],
    ) -> None:
        self.listings[organisation_id] = Listing(
            organisation_id=organisation_id,
            role=Role(role),
            org_number=org_number,
            capabilities=frozenset(capabilities),
            service_area=frozenset(service_area),
        )

    def eligible_workshops(self, required_capabilities: list[str], municipality: str) -> list[UUID]:
        """Workshops whose capabilities cover the design's and whose area holds the site."""
        needed = set(required_capabilities)
        return [
            item.organisation_id
            for item in self.listings.values()
            if item.role is Role.WORKSHOP and needed <= item.capabilities and item.serves(municipality)
        ]

    def area_companies_serving(self, municipality: str) -> list[UUID]:
        return [
            item.organisation_id
            for item in self.listings.values()
            if item.role is Role.AREA_COMPANY and item.serves(municipality)
        ]
