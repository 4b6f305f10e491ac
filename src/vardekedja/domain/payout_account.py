"""Payout accounts: where a designer, workshop or area company receives its money (a Stripe Connect account).

One per organisation, its id derived from the organisation's, so opening one
twice conflicts instead of making two. The account can receive money once the
provider says so (``account.updated`` with transfers enabled).
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import ForbiddenError
from vardekedja.domain.organisation import Organisation, Role

PAID_ROLES = (Role.DESIGNER, Role.WORKSHOP, Role.AREA_COMPANY)


def payout_account_id(organisation_id: UUID) -> UUID:
    return uuid5(NAMESPACE_URL, f"vardekedja:organisation/{organisation_id}/payout-account")


class PayoutAccount(Aggregate):
    TOPIC = "vardekedja:PayoutAccount"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:PayoutAccount.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:PayoutAccount.Event"

    class Opened(Created):
        TOPIC = "vardekedja:PayoutAccount.Opened"
        organisation_id: UUID
        account_id: str

    class LinkIssued(Event):
        """An onboarding link was handed out (the link itself is a bearer token and is not kept)."""

        TOPIC = "vardekedja:PayoutAccount.LinkIssued"

    class ReadinessChanged(Event):
        TOPIC = "vardekedja:PayoutAccount.ReadinessChanged"
        ready: bool

    @staticmethod
    def create_id(organisation_id: UUID, account_id: str) -> UUID:
        return payout_account_id(organisation_id)

    @classmethod
    def open(cls, organisation: Organisation, account_id: str) -> PayoutAccount:
        """Only a party that is paid (designer, workshop, area company) has a payout account."""
        if organisation.role not in PAID_ROLES:
            raise ForbiddenError(f"a {organisation.role} is not paid by the marketplace and has no payout account")
        return cls(organisation_id=organisation.id, account_id=account_id)

    @event(Opened)
    def __init__(self, *, organisation_id: UUID, account_id: str) -> None:
        self.organisation_id = organisation_id
        self.account_id = account_id
        self.ready = False
        self.links_issued = 0

    def note_link_issued(self) -> None:
        self._link_issued()

    @event(LinkIssued)
    def _link_issued(self) -> None:
        self.links_issued += 1

    def note_readiness(self, ready: bool) -> bool:
        """What the provider now says; False (nothing recorded) when that is no change."""
        if ready == self.ready:
            return False
        self._readiness_changed(ready=ready)
        return True

    @event(ReadinessChanged)
    def _readiness_changed(self, ready: bool) -> None:
        self.ready = ready
