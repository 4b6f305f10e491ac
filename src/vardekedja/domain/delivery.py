"""Deliveries: one per completed production order, scheduled and carried by its workshop."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import InvalidTransitionError, NotOwnerError, RuleViolationError

MAX_DISTANCE_KM = 10_000
MAX_INSTALLATION_HOURS = 1_000


class Vehicle(StrEnum):
    """What carries a piece; each has a factor in the transport tables (transport.py)."""

    CARGO_BIKE = "cargo_bike"
    ELECTRIC_VAN = "electric_van"
    VAN = "van"
    TRUCK = "truck"


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
        """Version 2 adds how far the piece travelled and in what (optional; None in version 1 events);
        version 3 the version of the transport factors in force (None in older events)."""

        TOPIC = "vardekedja:Delivery.Dispatched"
        class_version = 3
        distance_km: float | None
        vehicle: str | None
        factors_version: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["distance_km"] = None
            state["vehicle"] = None

        @staticmethod
        def upcast_v2_v3(state: dict[str, Any]) -> None:
            state["factors_version"] = None

    class Delivered(Event):
        TOPIC = "vardekedja:Delivery.Delivered"
        received_by: str

    class Failed(Event):
        TOPIC = "vardekedja:Delivery.Failed"
        reason: str

    class Installed(Event):
        """Version 2 adds the hours the installation took (optional; None in version 1 events)."""

        TOPIC = "vardekedja:Delivery.Installed"
        class_version = 2
        area_company_id: UUID
        hours_worked: float | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["hours_worked"] = None

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
        self.distance_km: float | None = None
        self.vehicle: str | None = None
        self.hours_worked: float | None = None

    def _check_workshop(self, organisation_id: UUID) -> None:
        if organisation_id != self.workshop_id:
            raise NotOwnerError("only the delivering workshop may do this")

    def _check_status(self, command: str, *allowed: DeliveryStatus) -> None:
        if self.status not in allowed:
            raise InvalidTransitionError(f"a delivery that is {self.status} cannot be {command}")

    def schedule(self, workshop_id: UUID, earliest: datetime, latest: datetime, *, now: datetime) -> None:
        """Set the window; ``now`` is the application's clock (a window already over is refused)."""
        self._check_workshop(workshop_id)
        self._check_status(
            "scheduled", DeliveryStatus.PENDING, DeliveryStatus.SCHEDULED, DeliveryStatus.FAILED
        )
        for name, moment in (("earliest", earliest), ("latest", latest)):
            if moment.tzinfo is None:
                raise RuleViolationError("times need a UTC offset", field=name)
        if latest <= earliest:
            raise RuleViolationError("the window must end after it starts", field="latest")
        if latest <= now:
            raise RuleViolationError(f"the window is over before it is set (it ended {latest.isoformat()}); "
                                     "give one that ends in the future", field="latest")  # fmt: skip
        self._scheduled(earliest=earliest, latest=latest)

    @event(Scheduled)
    def _scheduled(self, earliest: datetime, latest: datetime) -> None:
        self.status = DeliveryStatus.SCHEDULED
        self.window = (earliest, latest)

    def dispatch(self, workshop_id: UUID, distance_km: float | None = None, vehicle: str | None = None,
                 factors_version: str | None = None) -> None:  # fmt: skip
        """On its way; ``distance_km`` and ``vehicle``, where given, say how far and in what.

        ``factors_version`` names the table of transport factors in force, recorded with a vehicle so
        that its CO₂e is always figured by the table of its day.
        """
        self._check_workshop(workshop_id)
        self._check_status("dispatched", DeliveryStatus.SCHEDULED)
        if distance_km is not None and not 0 <= distance_km <= MAX_DISTANCE_KM:
            raise RuleViolationError(f"the distance must be 0–{MAX_DISTANCE_KM} km", field="distance_km")
        if vehicle is not None and vehicle not in set(Vehicle):
            raise RuleViolationError(f"vehicle must be one of {', '.join(Vehicle)}", field="vehicle")
        self._dispatched(distance_km=distance_km, vehicle=vehicle,
                         factors_version=factors_version if vehicle is not None else None)  # fmt: skip

    @event(Dispatched)
    def _dispatched(self, distance_km: float | None, vehicle: str | None, factors_version: str | None) -> None:
        self.status = DeliveryStatus.DISPATCHED
        self.distance_km = distance_km
        self.vehicle = vehicle

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

    def install_piece(self, area_company_id: UUID, hours_worked: float | None = None) -> None:
        """Installed; ``hours_worked``, where given, says how long it took."""
        if not self.install:
            raise InvalidTransitionError("this delivery is not to be installed")
        if area_company_id != self.area_company_id:
            raise NotOwnerError("only the area company serving the site may install")
        self._check_status("installed", DeliveryStatus.DELIVERED)
        if hours_worked is not None and not 0 <= hours_worked <= MAX_INSTALLATION_HOURS:
            raise RuleViolationError(f"hours worked must be 0–{MAX_INSTALLATION_HOURS}", field="hours_worked")
        self._installed(area_company_id=area_company_id, hours_worked=hours_worked)

    @event(Installed)
    def _installed(self, area_company_id: UUID, hours_worked: float | None) -> None:
        self.status = DeliveryStatus.INSTALLED
        self.hours_worked = hours_worked
