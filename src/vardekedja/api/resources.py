"""Response bodies, and how each is made from a view row or, right after a command, from its aggregate.

Every resource has ``id`` and ``status``; amounts are integers named ``*_ore``.
"""

from __future__ import annotations

from datetime import datetime
from fractions import Fraction
from typing import Any, Generic, Literal, TypeVar
from uuid import UUID

from pydantic import BaseModel, Field

from vardekedja.domain.delivery import Delivery
from vardekedja.domain.design import Design, Specification
from vardekedja.domain.money import price_line
from vardekedja.domain.order import DeliverySite, Order, OrderStatus
from vardekedja.domain.organisation import Organisation
from vardekedja.domain.production import ProductionOrder, production_order_id
from vardekedja.personal_data import PersonalData

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None


class OrganisationOut(BaseModel):
    id: UUID
    status: Literal["active"] = "active"
    name: str
    role: str
    org_number: str
    municipality: str
    capabilities: list[str]
    service_area: list[str]

    @classmethod
    def from_aggregate(cls, organisation: Organisation) -> OrganisationOut:
        return cls(
            id=organisation.id, name=organisation.name, role=organisation.role.value,
            org_number=organisation.org_number, municipality=organisation.municipality,
            capabilities=organisation.capabilities, service_area=organisation.service_area,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OrganisationOut:
        return cls(**{name: row[name] for name in cls.model_fields if name != "status"})


class OrganisationCreated(OrganisationOut):
    key_id: str
    api_key: str


class ApiKeyOut(BaseModel):
    key_id: str
    api_key: str


class DimensionsOut(BaseModel):
    width: int
    depth: int
    height: int


class SpecificationOut(BaseModel):
    revision: int
    title: str
    description: str
    category: str
    materials: list[str]
    dimensions_mm: DimensionsOut
    weight_kg: float
    required_capabilities: list[str]
    lead_time_days: int
    licence: str
    royalty_ore: int
    production_fee_ore: int
    installation_fee_ore: int
    co2e_kg: float
    inspection_interval_months: int | None = None
    unit_price_ore: int
    unit_price_without_installation_ore: int

    @classmethod
    def build(cls, revision: int, spec: dict[str, Any], fee_rate: Fraction) -> SpecificationOut:
        def unit_price(install: bool) -> int:
            return price_line(
                quantity=1, royalty_ore=spec["royalty_ore"], production_fee_ore=spec["production_fee_ore"],
                installation_fee_ore=spec["installation_fee_ore"], install=install, platform_fee_rate=fee_rate,
            ).unit_price_ore  # fmt: skip

        return cls(
            revision=revision,
            dimensions_mm=DimensionsOut(width=spec["width_mm"], depth=spec["depth_mm"], height=spec["height_mm"]),
            unit_price_ore=unit_price(True),
            unit_price_without_installation_ore=unit_price(False),
            **{name: spec[name] for name in cls.model_fields if name in spec},
        )


class DesignOut(BaseModel):
    """A design: its published revision (``published``) and, for its designer only, the open draft."""

    id: UUID
    status: Literal["draft", "published", "retired"]
    designer_id: UUID
    latest_revision: int
    published: SpecificationOut | None
    draft: SpecificationOut | None

    @classmethod
    def from_aggregate(cls, design: Design, fee_rate: Fraction, *, owner: bool) -> DesignOut:
        published = design.latest_published_revision
        draft = design.draft_revision

        def spec(revision: int) -> SpecificationOut:
            return SpecificationOut.build(revision, _spec_dict(design.revisions[revision]), fee_rate)

        return cls(
            id=design.id, status=design.status.value, designer_id=design.designer_id,
            latest_revision=design.latest_revision,
            published=spec(published) if published is not None else None,
            draft=spec(draft) if owner and draft is not None else None,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any], fee_rate: Fraction, *, owner: bool) -> DesignOut:
        published = None
        if row["published_revision"] is not None:
            published = SpecificationOut.build(row["published_revision"], row, fee_rate)
        draft = None
        if owner and row["draft"] is not None:
            draft = SpecificationOut.build(row["draft_revision"], row["draft"], fee_rate)
        return cls(
            id=row["id"], status=row["status"], designer_id=row["designer_id"],
            latest_revision=row["latest_revision"], published=published, draft=draft,
        )  # fmt: skip


def _spec_dict(spec: Specification) -> dict[str, Any]:
    return spec.to_dict()


class CatalogueItem(BaseModel):
    id: UUID
    status: Literal["published"]
    designer_id: UUID
    published: SpecificationOut
    installation_available: bool | None = Field(
        description="With a municipality asked for: whether an area company installs there (an order with "
        "install true is refused where none does); null without one"
    )

    @classmethod
    def from_row(cls, row: dict[str, Any], fee_rate: Fraction, *,
                 installation_available: bool | None = None) -> CatalogueItem:  # fmt: skip
        return cls(
            id=row["id"], status="published", designer_id=row["designer_id"],
            published=SpecificationOut.build(row["published_revision"], row, fee_rate),
            installation_available=installation_available,
        )  # fmt: skip


class DeliverySiteOut(BaseModel):
    name: str
    street: str
    postal_code: str
    municipality: str


class OrderLineOut(BaseModel):
    line_no: int
    design_id: UUID
    revision: int
    title: str
    quantity: int
    royalty_ore: int
    production_fee_ore: int
    installation_fee_ore: int
    unit_price_ore: int
    platform_fee_ore: int
    amount_ore: int
    vat_ore: int
    production_order_id: UUID | None
    delivery_id: UUID | None


class OrderOut(BaseModel):
    id: UUID
    status: Literal["placed", "paid", "in_production", "fulfilled", "cancelled"]
    buyer_id: UUID
    delivery_site: DeliverySiteOut
    install: bool
    area_company_id: UUID | None
    lines: list[OrderLineOut]
    subtotal_ore: int
    vat_ore: int
    total_ore: int
    platform_fee_ore: int
    paid_ore: int
    refunded_ore: int
    placed_at: datetime

    @classmethod
    def from_aggregate(cls, order: Order) -> OrderOut:
        """Right after a command: production orders exist once paid; deliveries do not yet."""
        opened = order.paid_payment_intent_id is not None
        lines = [
            OrderLineOut(
                line_no=line.line_no, design_id=line.design_id, revision=line.revision, title=line.title,
                quantity=line.quantity, royalty_ore=line.royalty_ore, production_fee_ore=line.production_fee_ore,
                installation_fee_ore=line.installation_fee_ore, unit_price_ore=line.unit_price_ore,
                platform_fee_ore=line.platform_fee_ore, amount_ore=line.amount_ore, vat_ore=line.vat_ore,
                production_order_id=production_order_id(order.id, line.line_no) if opened else None,
                delivery_id=None,
            )
            for line in order.lines
        ]  # fmt: skip
        if order.status not in (OrderStatus.PLACED, OrderStatus.PAID, OrderStatus.CANCELLED):
            raise ValueError("an order past payment is rendered from its view")
        return cls(
            id=order.id, status=order.status.value, buyer_id=order.buyer_id,
            delivery_site=DeliverySiteOut(**order.delivery_site.to_dict()), install=order.install,
            area_company_id=order.area_company_id, lines=lines, subtotal_ore=order.subtotal_ore,
            vat_ore=order.vat_ore, total_ore=order.total_ore, platform_fee_ore=order.platform_fee_ore,
            paid_ore=order.paid_ore, refunded_ore=order.refunded_ore, placed_at=order.created_on,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OrderOut:
        lines = [OrderLineOut(**{name: line[name] for name in OrderLineOut.model_fields}) for line in row["lines"]]
        values = {name: row[name] for name in cls.model_fields if name not in ("lines",)}
        return cls(**values, lines=lines)


class TimelineParty(BaseModel):
    id: UUID
    name: str
    role: str


class TimelineEntry(BaseModel):
    position: int
    at: datetime
    kind: str = Field(description="What happened, as a stable word: placed, paid, production_accepted, "
                                  "delivery_scheduled, installed, fulfilled, …")
    summary: str = Field(description="What happened, as a sentence that names the parties")
    line_no: int | None
    parties: list[TimelineParty] = Field(description="The organisations the entry names")
    detail: dict[str, Any] = Field(description="The values behind the sentence: amounts in öre, reasons, times")


class OrderDetail(OrderOut):
    timeline: list[TimelineEntry]

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> OrderDetail:
        base = OrderOut.from_row(row)
        return cls(**base.model_dump(), timeline=[TimelineEntry(**entry) for entry in row["timeline"]])


class ProductionOrderOut(BaseModel):
    id: UUID
    status: Literal["open", "accepted", "in_progress", "completed", "cancelled"]
    order_id: UUID
    line_no: int
    design_id: UUID
    revision: int
    title: str
    required_capabilities: list[str]
    municipality: str
    quantity: int
    production_fee_ore: int
    workshop_id: UUID | None
    hours_worked: float | None
    notes: str | None
    delivery_id: UUID | None
    delivery_site: DeliverySiteOut | None = Field(
        description="Where the piece goes: shown to the workshop holding the order, the operator and auditors; "
        "null to a workshop that may take it (the municipality says where)"
    )

    @classmethod
    def from_aggregate(cls, production: ProductionOrder, delivery_id: UUID | None = None, *,
                       site: DeliverySite | None = None) -> ProductionOrderOut:  # fmt: skip
        return cls(
            id=production.id, status=production.status.value, order_id=production.order_id,
            line_no=production.line_no, design_id=production.design_id, revision=production.revision,
            title=production.title, required_capabilities=production.required_capabilities,
            municipality=production.municipality, quantity=production.quantity,
            production_fee_ore=production.production_fee_ore, workshop_id=production.workshop_id,
            hours_worked=production.hours_worked, notes=production.notes, delivery_id=delivery_id,
            delivery_site=DeliverySiteOut(**site.to_dict()) if site is not None else None,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any], *, show_site: bool) -> ProductionOrderOut:
        site = row["delivery_site"] if show_site else None
        return cls(delivery_site=DeliverySiteOut(**site) if site else None,
                   **{name: row[name] for name in cls.model_fields if name != "delivery_site"})  # fmt: skip

    def opened(self, vault: PersonalData) -> ProductionOrderOut:
        """With the notes opened (stored sealed: they may name people); None once erased."""
        return self.model_copy(update={"notes": vault.open(self.notes)})


class DeliveryOut(BaseModel):
    id: UUID
    status: Literal["pending", "scheduled", "dispatched", "delivered", "failed", "installed"]
    order_id: UUID
    line_no: int
    production_order_id: UUID
    workshop_id: UUID
    area_company_id: UUID | None
    install: bool
    delivery_site: DeliverySiteOut | None = Field(description="Where to deliver (and install)")
    earliest: datetime | None
    latest: datetime | None
    received_by: str | None
    failures: int

    @classmethod
    def from_aggregate(cls, delivery: Delivery, site: DeliverySite) -> DeliveryOut:
        earliest, latest = delivery.window if delivery.window else (None, None)
        return cls(
            id=delivery.id, status=delivery.status.value, order_id=delivery.order_id, line_no=delivery.line_no,
            production_order_id=delivery.production_order_id, workshop_id=delivery.workshop_id,
            area_company_id=delivery.area_company_id, install=delivery.install,
            delivery_site=DeliverySiteOut(**site.to_dict()), earliest=earliest,
            latest=latest, received_by=delivery.received_by, failures=delivery.failures,
        )  # fmt: skip

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> DeliveryOut:
        site = row["delivery_site"]
        return cls(delivery_site=DeliverySiteOut(**site) if site else None,
                   **{name: row[name] for name in cls.model_fields if name != "delivery_site"})  # fmt: skip

    def opened(self, vault: PersonalData) -> DeliveryOut:
        """With ``received_by`` opened (stored sealed: it names a person); None once erased."""
        return self.model_copy(update={"received_by": vault.open(self.received_by)})


class PayoutOut(BaseModel):
    id: UUID
    status: Literal["owed", "transferred", "reversed"] = Field(
        description="owed until transferred; reversed once a claim took any of it back")
    party_id: UUID
    role: str
    order_id: UUID
    line_no: int
    amount_ore: int = Field(description="what the line's settlement made owed")
    reduced_ore: int = Field(description="what claims took back from it")
    reversed_ore: int = Field(description="what was reversed of its transfer")
    reason: str
    transfer_id: str | None
    owed_at: datetime

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> PayoutOut:
        return cls(**{name: row[name] for name in cls.model_fields})


class PayoutPage(Page[PayoutOut]):
    totals_ore: dict[str, int]
