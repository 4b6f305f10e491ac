"""Deliveries: one per completed production order, scheduled and carried by its workshop."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import InvalidTransitionError, NotOwnerError, RuleViolationError


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    SCHEDULED = "scheduled"
    DISPATCHED = "dispatched"
    DELIVERED = "delivered"
    FAILED = "failed"
    INSTALLED = "installed"


def delivery_id(order_id: UUID, line_no: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"vardekedja:order/{order_id}/line/{line_no}/delivery")


class Delivery(Aggregate):
    TOPIC = "vardekedja:Delivery"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Delivery.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Delivery.Event"

    class Opened(Created):
        TOPIC = "vardekedja:Delivery.Opened"
        order_id: UUID
        line_no: int
        production_order_id: UUID
        workshop_id: UUID
        install: bool
        area_company_id: UUID | None

    class Scheduled(Event):
        TOPIC = "vardekedja:Delivery.Scheduled"
        earliest: datetime
        latest: datetime

    class Dispatched(Event):
        TOPIC = "vardekedja:Delivery.Dispatched"

    class Delivered(Event):
        TOPIC = "vardekedja:Delivery.Delivered"
        received_by: str

    class Failed(Event):
        TOPIC = "vardekedja:Delivery.Failed"
        reason: str

    class Installed(Event):
        TOPIC = "vardekedja:Delivery.Installed"
        area_company_id: UUID

    @staticmethod
    def create_id(order_id: UUID, line_no: int) -> UUID:
        return delivery_id(order_id, line_no)

    @event(Opened)
    def __init__(
        self,
        *,
        order_id: UUID,
        line_no: int,
        production_order_id: UUID,
        workshop_id: UUID,
        install: bool,
        area_company_id: UUID | None,
    ) -> None:
        self.order_id = order_id
        self.line_no = line_no
        self.production_order_id = production_order_id
        self.workshop_id = workshop_id
        self.install = install
        self.area_company_id = area_company_id
        self.status = DeliveryStatus.PENDING
        self.window: tuple[datetime, datetime] | None = None
        self.received_by: str | None = None
        self.failures = 0

    def _check_workshop(self, organisation_id: UUID) -> None:
        if organisation_id != self.workshop_id:
            raise NotOwnerError("only the delivering workshop may do this")

    def _check_status(self, command: str, *allowed: DeliveryStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransitionError(f"a delivery that is {self.status} cannot be {command}")

    def schedule(self, workshop_id: UUID, earliest: datetime, latest: datetime) -> None:
        self._check_workshop(workshop_id)
        self._check_status(
            "scheduled", DeliveryStatus.PENDING, DeliveryStatus.SCHEDULED, DeliveryStatus.FAILED
        )
        for name, moment in (("earliest", earliest), ("latest", latest)):
            if moment.tzinfo is None:
                raise RuleViolationError("times need a UTC offset", field=name)
        if latest <= earliest:
            raise RuleViolationError("the window must end after it starts", field="latest")
        self._scheduled(earliest=earliest, latest=latest)

    @event(Scheduled)
    def _scheduled(self, earliest: datetime, latest: datetime) -> None:
        self.status = DeliveryStatus.SCHEDULED
        self.window = (earliest, latest)

    def dispatch(self, workshop_id: UUID) -> None:
        self._check_workshop(workshop_id)
        self._check_status("dispatched", DeliveryStatus.SCHEDULED)
        self._dispatched()

    @event(Dispatched)
    def _dispatched(self) -> None:
        self.status = DeliveryStatus.DISPATCHED

    def deliver(self, workshop_id: UUID, received_by: str) -> None:
        self._check_workshop(workshop_id)
        self._check_status("delivered", DeliveryStatus.DISPATCHED)
        if not received_by.strip():
            raise RuleViolationError("say who received the delivery", field="received_by")
        self._delivered(received_by=received_by.strip())

    @event(Delivered)
    def _delivered(self, received_by: str) -> None:
        self.status = DeliveryStatus.DELIVERED
        self.received_by = received_by

    def fail(self, workshop_id: UUID, reason: str) -> None:
        self._check_workshop(workshop_id)
        self._check_status("failed", DeliveryStatus.SCHEDULED, DeliveryStatus.DISPATCHED)
        self._failed(reason=reason)

    @event(Failed)
    def _failed(self, reason: str) -> None:
        self.status = DeliveryStatus.FAILED
        self.window = None
        self.failures += 1

    def install_piece(self, area_company_id: UUID) -> None:
        if not self.install:
            raise InvalidTransitionError("this delivery is not to be installed")
        if area_company_id != self.area_company_id:
            raise NotOwnerError("only the area company serving the site may install")
        self._check_status("installed", DeliveryStatus.DELIVERED)
        self._installed(area_company_id=area_company_id)

    @event(Installed)
    def _installed(self, area_company_id: UUID) -> None:
        self.status = DeliveryStatus.INSTALLED
