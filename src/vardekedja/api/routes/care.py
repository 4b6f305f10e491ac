"""Förvaltning: the assets (delivered pieces) and the maintenance orders the area companies work through."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Annotated, Literal
from uuid import UUID

import segno
from fastapi import APIRouter, Query, Request, Response
from sqlalchemy.engine import Connection

from vardekedja.api.care_models import AssetOut, MaintenanceOrderOut, RejectIn, ResolveIn
from vardekedja.api.deps import (
    SHUTTING_DOWN,
    AreaCompanyDep,
    CallerDep,
    Cursor,
    Limit,
    OperatorDep,
    RuntimeDep,
    ViewsDep,
    command_answered,
    seen_by,
    settle_erasure,
)
from vardekedja.api.problems import ApiError
from vardekedja.api.resources import Page
from vardekedja.application import Marketplace, Recorded
from vardekedja.domain.organisation import Role
from vardekedja.projections.care import CareView
from vardekedja.runtime import Runtime

assets = APIRouter(prefix="/assets", tags=["förvaltning"])
maintenance = APIRouter(prefix="/maintenance-orders", tags=["förvaltning"])

StatusFilter = Annotated[
    Literal["open", "acknowledged", "in_progress", "resolved", "rejected"] | None, Query()
]


def _party(caller: CallerDep) -> UUID | None:
    """Whose pieces the caller sees: everyone's for the operator and auditors; a buyer's own; an area company's."""
    return seen_by(caller, Role.BUYER, Role.AREA_COMPANY, what="installed piece")


def _asset_row(runtime: Runtime, views: Connection, caller: CallerDep, asset_id: UUID) -> dict:
    party = _party(caller)
    row = runtime.view(CareView).asset(views, asset_id)
    if row is None or (party is not None and party not in (row["buyer_id"], row["caretaker_id"])):
        raise ApiError(404, f"no asset {asset_id}")
    return row


@assets.get("", response_model=Page[AssetOut])
async def list_assets(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep, limit: Limit = 20,
                      cursor: Cursor = None) -> Page[AssetOut]:  # fmt: skip
    """Newest first: a buyer's own pieces, those an area company looks after, or all (operator, auditors)."""

    def read(views: Connection) -> Page[AssetOut]:
        page = runtime.view(CareView).list_assets(views, party_id=_party(caller), limit=limit, cursor=cursor)
        return Page(items=[AssetOut.from_row(row) for row in page.items], next_cursor=page.next_cursor)

    return await reads.read(read)


@assets.get("/{asset_id}", response_model=AssetOut)
async def get_asset(asset_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> AssetOut:
    """One piece: what it is, where it stands, who looks after it, and its public code."""
    return await reads.read(lambda views: AssetOut.from_row(_asset_row(runtime, views, caller, asset_id)))


@assets.get("/{asset_id}/qr.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}, "description": "A QR code for the piece's page"}})
async def asset_qr(asset_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep,
                   request: Request) -> Response:  # fmt: skip
    """A QR code (SVG) for the absolute address of the piece's public page, `/a/{code}`, to print on its label."""
    row = await reads.read(lambda views: _asset_row(runtime, views, caller, asset_id))
    url = f"{request.base_url}a/{row['code']}"  # the web UI's page for the piece
    out = io.BytesIO()
    segno.make(url, error="m").save(out, kind="svg", scale=4, title=f"{row['title']} {row['code']}")
    return Response(out.getvalue(), media_type="image/svg+xml")


# Maintenance orders.


def _maintenance_party(caller: CallerDep) -> UUID | None:
    return seen_by(caller, Role.BUYER, Role.AREA_COMPANY, what="maintenance order")


@maintenance.get("", response_model=Page[MaintenanceOrderOut])
async def list_maintenance_orders(
    caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep, status: StatusFilter = None,
    asset_id: Annotated[UUID | None, Query()] = None,
    overdue: Annotated[bool, Query(description="Only those past their expected time")] = False,
    limit: Limit = 20, cursor: Cursor = None,
) -> Page[MaintenanceOrderOut]:  # fmt: skip
    """Newest first: the area company's own, a buyer's pieces', or all (operator, auditors)."""
    now = runtime.clock()

    def read(views: Connection) -> Page[MaintenanceOrderOut]:
        page = runtime.view(CareView).list_maintenance(
            views, party_id=_maintenance_party(caller), status=status, asset_id_=asset_id,
            overdue_at=now if overdue else None, limit=limit, cursor=cursor,
        )  # fmt: skip
        vault = runtime.personal_data
        contact = not caller.is_(Role.BUYER)
        return Page(items=[MaintenanceOrderOut.from_row(row, now).opened(vault, contact=contact) for row in page.items],
                    next_cursor=page.next_cursor)  # fmt: skip

    return await reads.read(read)


@maintenance.get("/{maintenance_order_id}", response_model=MaintenanceOrderOut)
async def get_maintenance_order(maintenance_order_id: UUID, caller: CallerDep, reads: ViewsDep,
                                runtime: RuntimeDep) -> MaintenanceOrderOut:  # fmt: skip
    """One maintenance order, to its area company, the buyer who owns the piece, the operator and auditors."""

    def read(views: Connection) -> MaintenanceOrderOut:
        party = _maintenance_party(caller)
        row = runtime.view(CareView).maintenance_order(views, maintenance_order_id)
        if row is None or (party is not None and party not in (row["area_company_id"], row["buyer_id"])):
            raise ApiError(404, f"no maintenance order {maintenance_order_id}")
        return MaintenanceOrderOut.from_row(row, runtime.clock()).opened(runtime.personal_data,
                                                                         contact=not caller.is_(Role.BUYER))

    return await reads.read(read)


async def _answer(runtime: Runtime, response: Response, run: Callable[[Marketplace], Recorded]) -> MaintenanceOrderOut:
    def answer(app: Marketplace, maintenance_order_id: UUID) -> MaintenanceOrderOut:
        order = app.maintenance_order(maintenance_order_id)
        name = app.organisation(order.area_company_id).name
        return MaintenanceOrderOut.from_aggregate(order, app.asset(order.asset_id), name,
                                                  runtime.clock()).opened(app.personal_data, contact=True)

    return await command_answered(runtime, response, run, answer)


@maintenance.post("/{maintenance_order_id}/acknowledge", response_model=MaintenanceOrderOut, responses=SHUTTING_DOWN)
async def acknowledge(maintenance_order_id: UUID, caller: AreaCompanyDep, runtime: RuntimeDep,
                      response: Response) -> MaintenanceOrderOut:  # fmt: skip
    """The area company has seen the report."""
    return await _answer(runtime, response,
                         lambda app: app.acknowledge_maintenance(caller.organisation_id, maintenance_order_id))


@maintenance.post("/{maintenance_order_id}/start", response_model=MaintenanceOrderOut, responses=SHUTTING_DOWN)
async def start(maintenance_order_id: UUID, caller: AreaCompanyDep, runtime: RuntimeDep,
                response: Response) -> MaintenanceOrderOut:  # fmt: skip
    """Work on it has begun."""
    return await _answer(runtime, response,
                         lambda app: app.start_maintenance(caller.organisation_id, maintenance_order_id))


@maintenance.post("/{maintenance_order_id}/resolve", response_model=MaintenanceOrderOut, responses=SHUTTING_DOWN)
async def resolve(maintenance_order_id: UUID, body: ResolveIn, caller: AreaCompanyDep, runtime: RuntimeDep,
                  response: Response) -> MaintenanceOrderOut:  # fmt: skip
    """Fixed: the hours it took, what materials cost (öre, ex VAT) and notes."""
    return await _answer(runtime, response, lambda app: app.resolve_maintenance(
        caller.organisation_id, maintenance_order_id, body.hours_worked, body.materials_ore, body.notes))


@maintenance.post("/{maintenance_order_id}/reject", response_model=MaintenanceOrderOut, responses=SHUTTING_DOWN)
async def reject(maintenance_order_id: UUID, body: RejectIn, caller: AreaCompanyDep, runtime: RuntimeDep,
                 response: Response) -> MaintenanceOrderOut:  # fmt: skip
    """Not a fault the area company will fix, and why."""
    return await _answer(runtime, response,
                         lambda app: app.reject_maintenance(caller.organisation_id, maintenance_order_id, body.reason))


@maintenance.post("/{maintenance_order_id}/reporter/erase", response_model=MaintenanceOrderOut,
                  responses=SHUTTING_DOWN)  # fmt: skip
async def erase_reporter(maintenance_order_id: UUID, caller: OperatorDep, runtime: RuntimeDep,
                         response: Response) -> MaintenanceOrderOut:  # fmt: skip
    """Erase the reporter's personal data (the operator): the key they were sealed under is deleted, so the
    report's free text and contact details read as null everywhere from now on, in the views, exports and
    replays as of any time. An inspection has no reporter (422); a reporter is erased once (409)."""
    erased = await _answer(runtime, response, lambda app: app.erase_reporter(maintenance_order_id))
    await settle_erasure(runtime, response)
    return erased
