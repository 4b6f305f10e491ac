"""Deliveries: scheduled and carried by the workshop, installed by the area company."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from sqlalchemy.engine import Connection

from vardekedja.api.deps import (
    SHUTTING_DOWN,
    AreaCompanyDep,
    Caller,
    CallerDep,
    Cursor,
    Limit,
    RuntimeDep,
    ViewsDep,
    WorkshopDep,
    command_answered,
    seen_by,
)
from vardekedja.api.problems import ApiError
from vardekedja.api.resources import DeliveryOut, Page
from vardekedja.api.schemas import DeliverIn, DispatchIn, InstallIn, ReasonIn, ScheduleIn
from vardekedja.application import Marketplace, Recorded
from vardekedja.domain.organisation import Role
from vardekedja.projections.deliveries import DeliveriesView
from vardekedja.runtime import Runtime

router = APIRouter(prefix="/deliveries", tags=["deliveries"])

StatusFilter = Annotated[
    Literal["pending", "scheduled", "dispatched", "delivered", "failed", "installed"] | None, Query()
]


def _party(caller: Caller) -> UUID | None:
    return seen_by(caller, Role.WORKSHOP, Role.AREA_COMPANY, Role.BUYER, what="delivery")


@router.get("", response_model=Page[DeliveryOut])
async def list_deliveries(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep, status: StatusFilter = None,
                          limit: Limit = 20, cursor: Cursor = None) -> Page[DeliveryOut]:  # fmt: skip
    """Newest first: the deliveries the caller is party to (all, for the operator and auditors)."""

    def read(views: Connection) -> Page[DeliveryOut]:
        page = runtime.view(DeliveriesView).list(views, party_id=_party(caller), status=status, limit=limit, cursor=cursor)
        vault = runtime.personal_data
        return Page(items=[DeliveryOut.from_row(row).opened(vault) for row in page.items],
                    next_cursor=page.next_cursor)  # fmt: skip

    return await reads.read(read)


@router.get("/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(delivery_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> DeliveryOut:
    """One delivery, to the parties to it."""

    def read(views: Connection) -> DeliveryOut:
        party = _party(caller)
        row = runtime.view(DeliveriesView).delivery(views, delivery_id)
        if row is None or (party is not None and party not in (row["workshop_id"], row["area_company_id"], row["buyer_id"])):
            raise ApiError(404, f"no delivery {delivery_id}")
        return DeliveryOut.from_row(row).opened(runtime.personal_data)

    return await reads.read(read)


def _delivery(app: Marketplace, delivery_id: UUID) -> DeliveryOut:
    delivery = app.delivery(delivery_id)
    return DeliveryOut.from_aggregate(delivery, app.order(delivery.order_id).delivery_site).opened(app.personal_data)


async def _answer(runtime: Runtime, response: Response, run: Callable[[Marketplace], Recorded]) -> DeliveryOut:
    return await command_answered(runtime, response, run, _delivery)


@router.post("/{delivery_id}/schedule", response_model=DeliveryOut, responses=SHUTTING_DOWN)
async def schedule(delivery_id: UUID, body: ScheduleIn, caller: WorkshopDep, runtime: RuntimeDep,
                   response: Response) -> DeliveryOut:  # fmt: skip
    """Set (or move) the delivery window; a failed delivery is scheduled again this way."""
    return await _answer(runtime, response, lambda app: app.schedule_delivery(caller.organisation_id, delivery_id,
                                                                               body.earliest, body.latest))  # fmt: skip


@router.post("/{delivery_id}/dispatch", response_model=DeliveryOut, responses=SHUTTING_DOWN)
async def dispatch(delivery_id: UUID, caller: WorkshopDep, runtime: RuntimeDep, response: Response,
                   body: DispatchIn | None = None) -> DeliveryOut:  # fmt: skip
    """The piece is on its way; optionally say how far it travels and in what."""
    distance_km, vehicle = (body.distance_km, body.vehicle) if body else (None, None)
    return await _answer(runtime, response, lambda app: app.dispatch_delivery(caller.organisation_id, delivery_id,
                                                                              distance_km, vehicle))  # fmt: skip


@router.post("/{delivery_id}/deliver", response_model=DeliveryOut, responses=SHUTTING_DOWN)
async def deliver(delivery_id: UUID, body: DeliverIn, caller: WorkshopDep, runtime: RuntimeDep,
                  response: Response) -> DeliveryOut:  # fmt: skip
    """Delivered: the designer's royalty and the workshop's fee become owed."""
    return await _answer(runtime, response, lambda app: app.deliver(caller.organisation_id, delivery_id,
                                                                     body.received_by))  # fmt: skip


@router.post("/{delivery_id}/fail", response_model=DeliveryOut, responses=SHUTTING_DOWN)
async def fail(delivery_id: UUID, caller: WorkshopDep, runtime: RuntimeDep, response: Response,
               body: ReasonIn | None = None) -> DeliveryOut:  # fmt: skip
    """The delivery did not happen; schedule it again."""
    reason = body.reason if body else ""
    return await _answer(runtime, response, lambda app: app.fail_delivery(caller.organisation_id, delivery_id, reason))


@router.post("/{delivery_id}/install", response_model=DeliveryOut, responses=SHUTTING_DOWN)
async def install(delivery_id: UUID, caller: AreaCompanyDep, runtime: RuntimeDep, response: Response,
                  body: InstallIn | None = None) -> DeliveryOut:  # fmt: skip
    """Installed by the area company serving the site: its fee becomes owed; optionally say the hours it took."""
    hours_worked = body.hours_worked if body else None
    return await _answer(runtime, response, lambda app: app.install(caller.organisation_id, delivery_id, hours_worked))
