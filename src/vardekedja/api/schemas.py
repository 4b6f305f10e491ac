"""Request bodies: unknown fields are refused, strings may not hold NUL bytes, numbers have ranges.

Types are strict JSON types: a number given as a string (``"2"``), a boolean
given for a number (``true``), a word for a boolean (``"yes"``) and a Unix
number for a time are refused, not converted. Times are ISO 8601 text with an
offset, and only those whose UTC equivalent is a representable time: an
event holding one that is not could be stored but never projected or replayed.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
)

from vardekedja.domain.delivery import Vehicle
from vardekedja.domain.design import MAX_INSPECTION_INTERVAL_MONTHS, MAX_ORE, Specification
from vardekedja.domain.order import MAX_LINES, MAX_QUANTITY, DeliverySite, LineRequest
from vardekedja.domain.organisation import Role

NO_NUL = r"^[^\x00]*$"

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=NO_NUL)]
Text = Annotated[str, StringConstraints(max_length=5000, pattern=NO_NUL)]
Word = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_NUL)]
Ore = Annotated[int, Strict(), Field(ge=0, le=MAX_ORE)]
Count = Annotated[int, Strict()]
Amount = Annotated[float, Strict()]
Flag = Annotated[bool, Strict()]

# Calendar date, time, then an offset (Z or ±hh:mm): what ``datetime.isoformat`` writes, and RFC 3339.
_ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})")


def _iso_text(value: Any) -> Any:
    if not isinstance(value, str) or not _ISO_TIME.fullmatch(value):
        raise ValueError("give a time as ISO 8601 text with an offset, such as 2026-12-01T08:00:00+01:00")
    return value


def _representable_in_utc(value: datetime) -> datetime:
    try:
        value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("the time is outside the years 1–9999 once converted to UTC") from None
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_representable_in_utc)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OrganisationIn(Body):
    name: Name
    role: Role
    org_number: Annotated[str, StringConstraints(min_length=10, max_length=13, pattern=NO_NUL)] = Field(
        description="Swedish organisation number, NNNNNN-NNNN (Luhn-checked)"
    )
    municipality: Name
    capabilities: list[Word] = Field(default_factory=list, max_length=50)
    service_area: list[Name] = Field(default_factory=list, max_length=300)


class Dimensions(Body):
    width: Annotated[Count, Field(ge=1, le=100_000)]
    depth: Annotated[Count, Field(ge=1, le=100_000)]
    height: Annotated[Count, Field(ge=1, le=100_000)]


class DesignIn(Body):
    title: Name
    description: Text = ""
    category: Word
    materials: list[Word] = Field(max_length=50)
    dimensions_mm: Dimensions
    weight_kg: Annotated[Amount, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
    required_capabilities: list[Word] = Field(max_length=50)
    lead_time_days: Annotated[Count, Field(ge=0, le=3650)]
    licence: Name
    royalty_ore: Ore
    production_fee_ore: Ore
    installation_fee_ore: Ore
    co2e_kg: Annotated[Amount, Field(ge=0, le=1_000_000, allow_inf_nan=False)]
    inspection_interval_months: Annotated[Count | None, Field(ge=1, le=MAX_INSPECTION_INTERVAL_MONTHS)] = Field(
        default=None, description="Inspect each installed piece this often (months); none: no scheduled inspections"
    )

    def specification(self) -> Specification:
        return Specification(
            title=self.title,
            description=self.description,
            category=self.category,
            materials=tuple(self.materials),
            width_mm=self.dimensions_mm.width,
            depth_mm=self.dimensions_mm.depth,
            height_mm=self.dimensions_mm.height,
            weight_kg=self.weight_kg,
            required_capabilities=tuple(self.required_capabilities),
            lead_time_days=self.lead_time_days,
            licence=self.licence,
            royalty_ore=self.royalty_ore,
            production_fee_ore=self.production_fee_ore,
            installation_fee_ore=self.installation_fee_ore,
            co2e_kg=self.co2e_kg,
            inspection_interval_months=self.inspection_interval_months,
        )


class DeliverySiteIn(Body):
    name: Name
    street: Name
    postal_code: Annotated[str, StringConstraints(min_length=1, max_length=20, pattern=NO_NUL)]
    municipality: Name

    def site(self) -> DeliverySite:
        return DeliverySite(self.name, self.street, self.postal_code, self.municipality)


class OrderLineIn(Body):
    design_id: UUID
    revision: Annotated[Count, Field(ge=1, le=1_000_000)] | None = None
    quantity: Annotated[Count, Field(ge=1, le=MAX_QUANTITY)]


class OrderIn(Body):
    delivery_site: DeliverySiteIn
    install: Flag
    lines: list[OrderLineIn] = Field(min_length=1, max_length=MAX_LINES)

    def line_requests(self) -> list[LineRequest]:
        return [LineRequest(line.design_id, line.quantity, line.revision) for line in self.lines]


class CancelIn(Body):
    reason: Text = ""


class CompleteIn(Body):
    hours_worked: Annotated[Amount, Field(ge=0, le=10_000, allow_inf_nan=False)]
    notes: Text = ""


class ReasonIn(Body):
    reason: Text = ""


class ScheduleIn(Body):
    earliest: Instant = Field(description="ISO 8601 with offset")
    latest: Instant = Field(description="ISO 8601 with offset; after earliest")


class DispatchIn(Body):
    distance_km: Annotated[Amount, Field(ge=0, le=10_000, allow_inf_nan=False)] | None = Field(
        default=None, description="How far the piece travels, in km"
    )
    vehicle: Vehicle | None = Field(default=None, description="What carries it (for the transport's CO₂e)")


class InstallIn(Body):
    hours_worked: Annotated[Amount, Field(ge=0, le=1_000, allow_inf_nan=False)] | None = Field(
        default=None, description="How long the installation took"
    )


class DeliverIn(Body):
    received_by: Name
