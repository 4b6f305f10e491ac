"""Production orders: the open pool, and the work a workshop holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from sqlalchemy.engine import Connection

from vardekedja.api.deps import (
    SHUTTING_DOWN,
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
from vardekedja.api.resources import Page, ProductionOrderOut
from vardekedja.api.schemas import CompleteIn, ReasonIn
from vardekedja.application import Marketplace, Recorded
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.organisation import Role
from vardekedja.domain.production import ProductionStatus
from vardekedja.projections.production import ProductionView
from vardekedja.runtime import Runtime

router = APIRouter(prefix="/production-orders", tags=["production"])

StatusFilter = Annotated[Literal["open", "accepted", "in_progress", "completed", "cancelled"] | None, Query()]


def _workshop_scope(caller: Caller) -> UUID | None:
    return seen_by(caller, Role.WORKSHOP, what="production order")


@router.get("", response_model=Page[ProductionOrderOut])
async def list_production_orders(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep, status: StatusFilter = None,
                                 limit: Limit = 20, cursor: Cursor = None) -> Page[ProductionOrderOut]:  # fmt: skip
    """Newest first: for a workshop, the open ones it is eligible for and those it holds."""

    def read(views: Connection) -> Page[ProductionOrderOut]:
        workshop = _workshop_scope(caller)
        page = runtime.view(ProductionView).list(views, workshop_id=workshop, status=status, limit=limit,
                                               cursor=cursor)  # fmt: skip
        vault = runtime.personal_data
        return Page(items=[_out(row, workshop).opened(vault) for row in page.items], next_cursor=page.next_cursor)

    return await reads.read(read)


@router.get("/{production_order_id}", response_model=ProductionOrderOut)
async def get_production_order(production_order_id: UUID, caller: CallerDep, reads: ViewsDep,
                               runtime: RuntimeDep) -> ProductionOrderOut:  # fmt: skip
    """One production order, if the caller may see it."""

    def read(views: Connection) -> ProductionOrderOut:
        workshop = _workshop_scope(caller)
        view = runtime.view(ProductionView)
        row = view.production_order(views, production_order_id)
        if row is None or (workshop is not None and not view.is_visible_to(views, production_order_id, workshop)):
            raise ApiError(404, f"no production order {production_order_id}")
        return _out(row, workshop).opened(runtime.personal_data)

    return await reads.read(read)


def _out(row: dict[str, Any], workshop: UUID | None) -> ProductionOrderOut:
    """The delivery site goes to the workshop holding the order (and the operator and auditors), no further."""
    return ProductionOrderOut.from_row(row, show_site=workshop is None or row["workshop_id"] == workshop)


def _production_order(app: Marketplace, production_order_id: UUID, caller: Caller) -> ProductionOrderOut:
    production = app.production_order(production_order_id)
    opened = production.status is ProductionStatus.COMPLETED
    held = production.workshop_id == caller.organisation_id
    return ProductionOrderOut.from_aggregate(
        production, delivery_id(production.order_id, production.line_no) if opened else None,
        site=app.order(production.order_id).delivery_site if held else None,
    ).opened(app.personal_data)


async def _answer(runtime: Runtime, response: Response, caller: Caller,
                  run: Callable[[Marketplace], Recorded]) -> ProductionOrderOut:  # fmt: skip
    return await command_answered(runtime, response, run, lambda app, id_: _production_order(app, id_, caller))


@router.post("/{production_order_id}/accept", response_model=ProductionOrderOut, responses=SHUTTING_DOWN)
async def accept(production_order_id: UUID, caller: WorkshopDep, runtime: RuntimeDep,
                 response: Response) -> ProductionOrderOut:  # fmt: skip
    """Take the order; of several eligible workshops exactly one wins, the others get 409."""
    return await _answer(runtime, response, caller, lambda app: app.accept_production(caller.organisation_id,
                                                                               production_order_id))  # fmt: skip


@router.post("/{production_order_id}/start", response_model=ProductionOrderOut, responses=SHUTTING_DOWN)
async def start(production_order_id: UUID, caller: WorkshopDep, runtime: RuntimeDep,
                response: Response) -> ProductionOrderOut:  # fmt: skip
    """Start work; from now on the buyer can no longer cancel the order."""
    return await _answer(runtime, response, caller, lambda app: app.start_production(caller.organisation_id,
                                                                              production_order_id))  # fmt: skip


@router.post("/{production_order_id}/complete", response_model=ProductionOrderOut, responses=SHUTTING_DOWN)
async def complete(production_order_id: UUID, body: CompleteIn, caller: WorkshopDep, runtime: RuntimeDep,
                   response: Response) -> ProductionOrderOut:  # fmt: skip
    """Finish the work; its delivery opens at once."""
    return await _answer(runtime, response, caller, lambda app: app.complete_production(
        caller.organisation_id, production_order_id, body.hours_worked, body.notes))  # fmt: skip


@router.post("/{production_order_id}/release", response_model=ProductionOrderOut, responses=SHUTTING_DOWN)
async def release(production_order_id: UUID, caller: WorkshopDep, runtime: RuntimeDep, response: Response,
                  body: ReasonIn | None = None) -> ProductionOrderOut:  # fmt: skip
    """Give the order back to the open pool for another workshop."""
    reason = body.reason if body else ""
    return await _answer(runtime, response, caller, lambda app: app.release_production(caller.organisation_id,
                                                                                production_order_id, reason))  # fmt: skip
