"""Bodies of förvaltning: assets and maintenance orders, from a view row or right after a command."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from vardekedja.api.schemas import Amount, Body, Count, Text
from vardekedja.domain.asset import Asset
from vardekedja.domain.maintenance import MAX_HOURS, MAX_MATERIALS_ORE, MaintenanceOrder, is_overdue
from vardekedja.personal_data import PersonalData


class SiteOut(BaseModel):
    name: str
    street: str
    postal_code: str
    municipality: str


class CaretakerOut(BaseModel):
    id: UUID
    name: str | None


class AssetOut(BaseModel):
    """A delivered piece: ``installed`` once the area company installed it, else ``delivered``."""

    id: UUID
    status: Literal["delivered", "installed"]
    code: str = Field(description="The short public code on the piece's label; its page is /a/{code}")
    design_id: UUID
    revision: int
    title: str
    order_id: UUID
    line_no: int
    piece: int
    site: SiteOut
    delivered_at: datetime
    installed_at: datetime | None
    looked_after_by: CaretakerOut | None
    inspection_interval_months: int | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> AssetOut:
        caretaker = row["caretaker_id"]
        return cls(
            id=row["id"], status="installed" if row["installed_at"] else "delivered", code=row["code"],
            design_id=row["design_id"], revision=row["revision"], title=row["title"], order_id=row["order_id"],
            line_no=row["line_no"], piece=row["piece"],
            site=SiteOut(name=row["site_name"], street=row["street"], postal_code=row["postal_code"],
                         municipality=row["municipality"]),
            delivered_at=row["delivered_at"], installed_at=row["installed_at"],
            looked_after_by=CaretakerOut(id=caretaker, name=row["caretaker_name"]) if caretaker else None,
            inspection_interval_months=row["inspection_interval_months"],
        )  # fmt: skip


MaintenanceStatusOut = Literal["open", "acknowledged", "in_progress", "resolved", "rejected"]


class ContactOut(BaseModel):
    """How to reach whoever reported the fault, as far as they said (personal data)."""

    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None


class MaintenanceOrderOut(BaseModel):
    id: UUID
    status: MaintenanceStatusOut
    source: Literal["report", "inspection"]
    service_code: str
    description: str | None = Field(description="What is wrong; null once the reporter's data was erased")
    contact: ContactOut | None = Field(
        default=None, description="The reporter's contact details: to the area company, the operator and auditors")
    asset_id: UUID
    asset_code: str
    title: str
    order_id: UUID
    municipality: str
    area_company_id: UUID
    area_company_name: str | None
    inspection_no: int | None
    lat: float | None
    long: float | None
    media_url: str | None
    opened_at: datetime
    expected_by: datetime
    overdue: bool = Field(description="Neither resolved nor rejected by the time it was expected")
    hours_worked: float | None
    materials_ore: int | None
    notes: str | None
    reason: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any], now: datetime) -> MaintenanceOrderOut:
        values = {name: row[name] for name in cls.model_fields if name in row and name != "contact"}
        values["contact"] = row.get("contact")
        return cls(**values, source="inspection" if row["inspection_no"] else "report",
                   overdue=is_overdue(row["status"], row["expected_by"], now))  # fmt: skip

    @classmethod
    def from_aggregate(cls, order: MaintenanceOrder, asset: Asset, area_company_name: str | None,
                       now: datetime) -> MaintenanceOrderOut:  # fmt: skip
        return cls(
            id=order.id, status=order.status.value,
            source="inspection" if order.inspection_no else "report", service_code=order.service_code.value,
            description=None if order.reporter_erased else order.description,
            contact=None if order.reporter_erased else order.contact, asset_id=asset.id, asset_code=asset.code, title=asset.title,
            order_id=asset.order_id, municipality=asset.municipality, area_company_id=order.area_company_id,
            area_company_name=area_company_name, inspection_no=order.inspection_no, lat=order.lat, long=order.long,
            media_url=order.media_url, opened_at=order.created_on, expected_by=order.expected_by,
            overdue=is_overdue(order.status.value, order.expected_by, now), hours_worked=order.hours_worked,
            materials_ore=order.materials_ore, notes=order.notes, reason=order.reason,
        )  # fmt: skip

    def opened(self, vault: PersonalData, *, contact: bool) -> MaintenanceOrderOut:
        """With the notes, the report and (when ``contact``) the reporter's details opened; None once erased.

        They are stored sealed: they may name people. A buyer sees the report but not who made it.
        """
        sealed = self.contact if contact else None
        opened = ContactOut(**{name: vault.open(value) for name, value in sealed.model_dump().items()
                               if value is not None}) if sealed is not None else None  # fmt: skip
        return self.model_copy(update={"notes": vault.open(self.notes), "description": vault.open(self.description),
                                       "contact": opened})


class ResolveIn(Body):
    hours_worked: Annotated[Amount, Field(ge=0, le=MAX_HOURS, allow_inf_nan=False)]
    materials_ore: Annotated[Count, Field(ge=0, le=MAX_MATERIALS_ORE)] = 0
    notes: Text = ""


class RejectIn(Body):
    reason: Annotated[Text, Field(min_length=1)]
