"""Maintenance orders: a fault report or a due inspection, for the area company looking after the piece.

open → acknowledged → in_progress → resolved, or rejected from any of the
first three. Each order carries the time it is expected to take (by service
code, decided by the application's settings when it opens); it is overdue
once that has passed and it is neither resolved nor rejected.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import InvalidTransitionError, NotOwnerError, RuleViolationError

MAX_HOURS = 10_000
MAX_MATERIALS_ORE = 100_000_000_00
MAX_TEXT = 5000


class ServiceCode(StrEnum):
    SAFETY = "safety"
    DAMAGE = "damage"
    GRAFFITI = "graffiti"
    CLEANING = "cleaning"
    OTHER = "other"
    INSPECTION = "inspection"


class MaintenanceStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"
    REJECTED = "rejected"


UNDONE = (MaintenanceStatus.OPEN, MaintenanceStatus.ACKNOWLEDGED, MaintenanceStatus.IN_PROGRESS)


def inspection_id(asset_id: UUID, number: int) -> UUID:
    """The n-th inspection of an asset: derived, so that however many schedulers open it, it opens once."""
    return uuid5(NAMESPACE_URL, f"vardekedja:asset/{asset_id}/inspection/{number}")


def is_overdue(status: str, expected_by: datetime, now: datetime) -> bool:
    return status in UNDONE and now > expected_by


class MaintenanceOrder(Aggregate):
    TOPIC = "vardekedja:MaintenanceOrder"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:MaintenanceOrder.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:MaintenanceOrder.Event"

    class Opened(Created):
        """Opened by a fault report (``inspection_no`` None) or a due inspection.

        Version 2 adds the reporter's contact details (sealed personal data; None when none were given).
        """

        TOPIC = "vardekedja:MaintenanceOrder.Opened"
        class_version = 2
        asset_id: UUID
        area_company_id: UUID
        service_code: str
        description: str
        expected_hours: int
        lat: float | None
        long: float | None
        media_url: str | None
        inspection_no: int | None
        contact: dict[str, str] | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["contact"] = None

    class Acknowledged(Event):
        TOPIC = "vardekedja:MaintenanceOrder.Acknowledged"

    class Started(Event):
        TOPIC = "vardekedja:MaintenanceOrder.Started"

    class Resolved(Event):
        TOPIC = "vardekedja:MaintenanceOrder.Resolved"
        hours_worked: float
        materials_ore: int
        notes: str

    class Rejected(Event):
        TOPIC = "vardekedja:MaintenanceOrder.Rejected"
        reason: str

    class ReporterErased(Event):
        """The reporter's data subject was erased: the report's free text and contact details, sealed under
        its key, can be read no more. Carries no personal data."""

        TOPIC = "vardekedja:MaintenanceOrder.ReporterErased"
        subject: UUID

    @staticmethod
    def create_id(asset_id: UUID, inspection_no: int | None) -> UUID:
        """A report gets a fresh id; the n-th inspection of an asset always the same one."""
        return uuid4() if inspection_no is None else inspection_id(asset_id, inspection_no)

    @classmethod
    def report(
        cls, *, asset_id: UUID, area_company_id: UUID, service_code: ServiceCode, description: str,
        expected_hours: int, lat: float | None = None, long: float | None = None, media_url: str | None = None,
        contact: dict[str, str] | None = None,
    ) -> MaintenanceOrder:  # fmt: skip
        """A fault report; ``description`` and ``contact`` arrive sealed (personal data, see personal_data.py)."""
        if service_code is ServiceCode.INSPECTION:
            raise RuleViolationError("inspections are scheduled, not reported", field="service_code")
        if not description.strip():
            raise RuleViolationError("say what is wrong", field="description")
        if (lat is None) != (long is None):
            raise RuleViolationError("give both lat and long, or neither", field="lat")
        if lat is not None and long is not None and not (-90 <= lat <= 90 and -180 <= long <= 180):
            raise RuleViolationError("lat must be -90–90 and long -180–180", field="lat")
        return cls(
            asset_id=asset_id, area_company_id=area_company_id, service_code=service_code.value,
            description=description.strip(), expected_hours=expected_hours, lat=lat, long=long,
            media_url=media_url, inspection_no=None, contact=dict(contact) if contact else None,
        )  # fmt: skip

    @classmethod
    def inspection(cls, *, asset_id: UUID, area_company_id: UUID, number: int, expected_hours: int) -> MaintenanceOrder:
        return cls(
            asset_id=asset_id, area_company_id=area_company_id,
            service_code=ServiceCode.INSPECTION.value, description=f"Inspection {number}",
            expected_hours=expected_hours, lat=None, long=None, media_url=None, inspection_no=number, contact=None,
        )  # fmt: skip

    @event(Opened)
    def __init__(
        self, *, asset_id: UUID, area_company_id: UUID, service_code: str, description: str, expected_hours: int,
        lat: float | None, long: float | None, media_url: str | None, inspection_no: int | None,
        contact: dict[str, str] | None = None,
    ) -> None:  # fmt: skip
        self.asset_id = asset_id
        self.area_company_id = area_company_id
        self.service_code = ServiceCode(service_code)
        self.description = description
        self.expected_hours = expected_hours
        self.lat, self.long, self.media_url = lat, long, media_url
        self.inspection_no = inspection_no
        self.contact = dict(contact) if contact else None
        self.status = MaintenanceStatus.OPEN
        self.hours_worked: float | None = None
        self.materials_ore: int | None = None
        self.notes: str | None = None
        self.reason: str | None = None
        self.reporter_erased = False

    @staticmethod
    def expected_delta(expected_hours: int) -> timedelta:
        return timedelta(hours=expected_hours)

    @property
    def expected_by(self) -> datetime:
        return self.created_on + self.expected_delta(self.expected_hours)

    def _check(self, area_company_id: UUID, command: str, *allowed: MaintenanceStatus) -> None:
        if area_company_id != self.area_company_id:
            raise NotOwnerError("only the area company looking after the piece may do this")
        if self.status not in allowed:
            raise InvalidTransitionError(f"a maintenance order that is {self.status} cannot be {command}")

    def acknowledge(self, area_company_id: UUID) -> None:
        self._check(area_company_id, "acknowledged", MaintenanceStatus.OPEN)
        self._acknowledged()

    @event(Acknowledged)
    def _acknowledged(self) -> None:
        self.status = MaintenanceStatus.ACKNOWLEDGED

    def start(self, area_company_id: UUID) -> None:
        self._check(area_company_id, "started", MaintenanceStatus.OPEN, MaintenanceStatus.ACKNOWLEDGED)
        self._started()

    @event(Started)
    def _started(self) -> None:
        self.status = MaintenanceStatus.IN_PROGRESS

    def resolve(self, area_company_id: UUID, hours_worked: float, materials_ore: int, notes: str) -> None:
        self._check(area_company_id, "resolved", MaintenanceStatus.IN_PROGRESS)
        if not 0 <= hours_worked <= MAX_HOURS:
            raise RuleViolationError(f"hours_worked must be 0–{MAX_HOURS}", field="hours_worked")
        if not 0 <= materials_ore <= MAX_MATERIALS_ORE:
            raise RuleViolationError("materials_ore must be 0 or more", field="materials_ore")
        self._resolved(hours_worked=hours_worked, materials_ore=materials_ore, notes=notes)

    @event(Resolved)
    def _resolved(self, hours_worked: float, materials_ore: int, notes: str) -> None:
        self.status = MaintenanceStatus.RESOLVED
        self.hours_worked, self.materials_ore, self.notes = hours_worked, materials_ore, notes

    def erase_reporter(self, subject: UUID | None) -> None:
        """Record that the reporter (the data subject ``subject``, which their sealed data names) was erased."""
        if self.inspection_no is not None:
            raise RuleViolationError("an inspection has no reporter to erase")
        if subject is None:
            raise RuleViolationError("this report was recorded before reporters' data was sealed: it has no "
                                     "reporter's key to erase")  # fmt: skip
        if self.reporter_erased:
            raise InvalidTransitionError("this report's reporter is erased already")
        self._reporter_erased(subject=subject)

    @event(ReporterErased)
    def _reporter_erased(self, subject: UUID) -> None:
        self.reporter_erased = True

    def reject(self, area_company_id: UUID, reason: str) -> None:
        self._check(area_company_id, "rejected", *UNDONE)
        if not reason.strip():
            raise RuleViolationError("say why the report is rejected", field="reason")
        self._rejected(reason=reason.strip())

    @event(Rejected)
    def _rejected(self, reason: str) -> None:
        self.status = MaintenanceStatus.REJECTED
        self.reason = reason
