"""The directory: one aggregate that knows every organisation's role and reach.

Placing an order must know, at that moment, whether some workshop can make each
line and some area company serves the site; registering must refuse a second
organisation with the same organisation number. Both need one consistent view
of all organisations, so the directory is an aggregate of its own, saved in the
same transaction as each registration. Registrations are rare, so the single
stream is no bottleneck. It grows with every organisation, though, so it is not
loaded in full for each command: the application keeps a copy and reads only the
events recorded since (``MarketplaceBase.listed``; a registration changes a
``copy()`` of it); a snapshot every ``SNAPSHOT_EVERY`` events bounds what the
first load replays; and the listings are indexed by role and municipality, so a
lookup does not walk every organisation.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event
from eventsourcing.domain import Snapshot as BaseSnapshot

from vardekedja.domain.errors import DuplicateOrganisationError
from vardekedja.domain.organisation import Organisation, Role

DIRECTORY_ID = uuid5(NAMESPACE_URL, "vardekedja:directory")
SNAPSHOT_EVERY = 100  # events between snapshots of the directory
_INDEXES = ("_serving", "_org_numbers")  # derived from the listings; never stored


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

    class Snapshot(BaseSnapshot):
        """The directory at one version, its listings as plain lists (JSON has no UUID keys or sets)."""

        TOPIC = "vardekedja:Directory.Snapshot"

        @classmethod
        def take(cls, aggregate: Any) -> Any:
            taken = super().take(aggregate)
            state = {key: value for key, value in taken.state.items() if key not in _INDEXES}
            state["listings"] = [
                [str(item.organisation_id), item.role.value, item.org_number, sorted(item.capabilities),
                 sorted(item.service_area)]
                for item in aggregate.listings.values()
            ]  # fmt: skip
            object.__setattr__(taken, "state", state)
            return taken

        def mutate(self, _: None) -> Any:
            directory = super().mutate(None)
            rows: list[list[Any]] = directory.__dict__.pop("listings")
            directory._reset()
            for organisation_id, role, org_number, capabilities, service_area in rows:
                directory._add(Listing(UUID(organisation_id), Role(role), org_number, frozenset(capabilities),
                                       frozenset(service_area)))  # fmt: skip
            return directory

    @staticmethod
    def create_id() -> UUID:
        return DIRECTORY_ID

    @event(Opened)
    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        self.listings: dict[UUID, Listing] = {}
        self._serving: dict[tuple[Role, str], list[UUID]] = {}  # (role, municipality) -> in the order listed
        self._org_numbers: dict[str, UUID] = {}

    def _add(self, listing: Listing) -> None:
        self.listings[listing.organisation_id] = listing
        self._org_numbers[listing.org_number] = listing.organisation_id
        for municipality in listing.service_area:
            self._serving.setdefault((listing.role, municipality), []).append(listing.organisation_id)

    def copy(self) -> Directory:
        """A copy to bring up to date (``mutate`` newer events on it) while readers keep this one."""
        twin = copy.copy(self)
        twin._pending_events = []  # its own: events recorded on the copy must never show up on this one
        twin.listings = dict(self.listings)
        twin._serving = {key: list(ids) for key, ids in self._serving.items()}
        twin._org_numbers = dict(self._org_numbers)
        return twin

    def list(self, organisation: Organisation) -> None:
        if organisation.org_number in self._org_numbers:
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
        self._add(Listing(
            organisation_id=organisation_id,
            role=Role(role),
            org_number=org_number,
            capabilities=frozenset(capabilities),
            service_area=frozenset(service_area),
        ))  # fmt: skip

    def _serving_in(self, role: Role, municipality: str) -> list[UUID]:
        return self._serving.get((role, municipality.strip().casefold()), [])

    def eligible_workshops(self, required_capabilities: list[str], municipality: str) -> list[UUID]:
        """Workshops whose capabilities cover the design's and whose area holds the site."""
        needed = set(required_capabilities)
        return [workshop_id for workshop_id in self._serving_in(Role.WORKSHOP, municipality)
                if needed <= self.listings[workshop_id].capabilities]  # fmt: skip

    def area_companies_serving(self, municipality: str) -> list[UUID]:
        return list(self._serving_in(Role.AREA_COMPANY, municipality))
