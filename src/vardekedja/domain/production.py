"""Production orders: one per paid order line, taken by exactly one eligible workshop."""

from __future__ import annotations

from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import (
    AlreadyTakenError,
    InvalidTransitionError,
    NotEligibleError,
    NotOwnerError,
    RuleViolationError,
)
from vardekedja.domain.organisation import Organisation, Role

MAX_HOURS = 10_000


class ProductionStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


def production_order_id(order_id: UUID, line_no: int) -> UUID:
    """Derived from the order line, so that opening it twice is a conflict, not a duplicate."""
    return uuid5(NAMESPACE_URL, f"vardekedja:order/{order_id}/line/{line_no}/production")


class ProductionOrder(Aggregate):
    TOPIC = "vardekedja:ProductionOrder"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:ProductionOrder.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:ProductionOrder.Event"

    class Opened(Created):
        TOPIC = "vardekedja:ProductionOrder.Opened"
        order_id: UUID
        line_no: int
        design_id: UUID
        revision: int
        title: str
        required_capabilities: list[str]
        municipality: str
        quantity: int
        production_fee_ore: int

    class Accepted(Event):
        TOPIC = "vardekedja:ProductionOrder.Accepted"
        workshop_id: UUID

    class Started(Event):
        TOPIC = "vardekedja:ProductionOrder.Started"

    class Completed(Event):
        TOPIC = "vardekedja:ProductionOrder.Completed"
        hours_worked: float
        notes: str

    class Released(Event):
        TOPIC = "vardekedja:ProductionOrder.Released"
        workshop_id: UUID
        reason: str

    class Cancelled(Event):
        TOPIC = "vardekedja:ProductionOrder.Cancelled"
        reason: str

    @staticmethod
    def create_id(order_id: UUID, line_no: int) -> UUID:
        return production_order_id(order_id, line_no)

    @event(Opened)
    def __init__(
        self,
        *,
        order_id: UUID,
        line_no: int,
        design_id: UUID,
        revision: int,
        title: str,
        required_capabilities: list[str],
        municipality: str,
        quantity: int,
        production_fee_ore: int,
    ) -> None:
        self.order_id = order_id
        self.line_no = line_no
        self.design_id = design_id
        self.revision = revision
        self.title = title
        self.required_capabilities = list(required_capabilities)
        self.municipality = municipality
        self.quantity = quantity
        self.production_fee_ore = production_fee_ore
        self.status = ProductionStatus.OPEN
        self.workshop_id: UUID | None = None
        self.hours_worked: float | None = None
        self.notes: str | None = None

    def is_eligible(self, workshop: Organisation) -> bool:
        return (
            workshop.role is Role.WORKSHOP
            and workshop.can_make(self.required_capabilities)
            and workshop.serves(self.municipality)
        )

    def accept(self, workshop: Organisation) -> None:
        if self.status is not ProductionStatus.OPEN:
            if self.status is ProductionStatus.CANCELLED:
                raise InvalidTransitionError("the production order is cancelled")
            if self.workshop_id is not None and self.workshop_id != workshop.id:
                raise AlreadyTakenError("another workshop has accepted this production order")
            raise InvalidTransitionError(f"a production order that is {self.status} cannot be accepted")
        if not self.is_eligible(workshop):
            raise NotEligibleError(
                "a workshop may take a production order when its capabilities cover the design's "
                "and its service area holds the delivery site's municipality"
            )
        self._accepted(workshop_id=workshop.id)

    @event(Accepted)
    def _accepted(self, workshop_id: UUID) -> None:
        self.status = ProductionStatus.ACCEPTED
        self.workshop_id = workshop_id

    def _check_holder(self, workshop_id: UUID) -> None:
        if workshop_id != self.workshop_id:
            raise NotOwnerError("only the workshop that accepted the order may do this")

    def start(self, workshop_id: UUID) -> None:
        self._check_holder(workshop_id)
        if self.status is not ProductionStatus.ACCEPTED:
            raise InvalidTransitionError(f"a production order that is {self.status} cannot start")
        self._started()

    @event(Started)
    def _started(self) -> None:
        self.status = ProductionStatus.IN_PROGRESS

    def complete(self, workshop_id: UUID, hours_worked: float, notes: str) -> None:
        self._check_holder(workshop_id)
        if self.status is not ProductionStatus.IN_PROGRESS:
            raise InvalidTransitionError(f"a production order that is {self.status} cannot complete")
        if not 0 <= hours_worked <= MAX_HOURS:
            raise RuleViolationError(f"hours_worked must be 0–{MAX_HOURS}", field="hours_worked")
        self._completed(hours_worked=hours_worked, notes=notes)

    @event(Completed)
    def _completed(self, hours_worked: float, notes: str) -> None:
        self.status = ProductionStatus.COMPLETED
        self.hours_worked = hours_worked
        self.notes = notes

    def release(self, workshop_id: UUID, reason: str) -> None:
        """Give the order back to the open pool for another workshop to take."""
        self._check_holder(workshop_id)
        if self.status not in (ProductionStatus.ACCEPTED, ProductionStatus.IN_PROGRESS):
            raise InvalidTransitionError(f"a production order that is {self.status} cannot be released")
        self._released(workshop_id=workshop_id, reason=reason)

    @event(Released)
    def _released(self, workshop_id: UUID, reason: str) -> None:
        self.status = ProductionStatus.OPEN
        self.workshop_id = None

    def cancel(self, reason: str) -> None:
        if self.status not in (ProductionStatus.OPEN, ProductionStatus.ACCEPTED):
            raise InvalidTransitionError(f"a production order that is {self.status} cannot be cancelled")
        self._cancelled(reason=reason)

    @event(Cancelled)
    def _cancelled(self, reason: str) -> None:
        self.status = ProductionStatus.CANCELLED
