"""Orders: placed by a buyer, seen by that buyer, the operator and auditors."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response, status
from sqlalchemy.engine import Connection

from vardekedja.api.deps import (
    SHUTTING_DOWN,
    BuyerDep,
    Caller,
    CallerDep,
    Cursor,
    Limit,
    RuntimeDep,
    ViewsDep,
    command_answered,
    idempotent_id,
    recorded,
    seen_by,
)
from vardekedja.api.problems import ApiError, Problem
from vardekedja.api.resources import OrderDetail, OrderOut, Page
from vardekedja.api.schemas import CancelIn, OrderIn
from vardekedja.application import Marketplace
from vardekedja.domain.organisation import Role
from vardekedja.projections.orders import OrdersView

router = APIRouter(tags=["orders"])

OrderStatusFilter = Annotated[
    Literal["placed", "paid", "in_production", "fulfilled", "cancelled"] | None, Query()
]


def _may_read_orders(caller: Caller) -> UUID | None:
    return seen_by(caller, Role.BUYER, what="order", elsewhere={
        Role.WORKSHOP: "a workshop finds the delivery site on its production orders and deliveries",
        Role.AREA_COMPANY: "an area company finds the delivery site on its deliveries",
        Role.DESIGNER: "a designer sees its sales in GET /v1/payouts",
    })  # fmt: skip


def _order(app: Marketplace, order_id: UUID) -> OrderOut:
    return OrderOut.from_aggregate(app.order(order_id))


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut, responses=SHUTTING_DOWN)
async def place_order(body: OrderIn, caller: BuyerDep, runtime: RuntimeDep, request: Request,
                      response: Response) -> OrderOut:  # fmt: skip
    """Place an order: prices, VAT and totals are frozen now.

    With an Idempotency-Key the order's id comes from the key, so a retry after a
    crash or a timeout answers with the order already placed instead of a second one."""
    site, lines, order_id = body.delivery_site.site(), body.line_requests(), idempotent_id(request)

    return await command_answered(
        runtime, response, lambda app: app.place_order(caller.organisation_id, site, body.install, lines, order_id),
        _order,
    )


@router.get("/orders", response_model=Page[OrderOut])
async def list_orders(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep, status: OrderStatusFilter = None,
                      limit: Limit = 20, cursor: Cursor = None) -> Page[OrderOut]:  # fmt: skip
    """Orders newest first: a buyer's own, or all of them for the operator and auditors."""

    def read(views: Connection) -> Page[OrderOut]:
        page = runtime.view(OrdersView).list(views, buyer_id=_may_read_orders(caller), status=status,
                                           limit=limit, cursor=cursor)  # fmt: skip
        return Page(items=[OrderOut.from_row(row) for row in page.items], next_cursor=page.next_cursor)

    return await reads.read(read)


@router.get("/orders/{order_id}", response_model=OrderDetail)
async def get_order(order_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> OrderDetail:
    """An order with its lines, amounts and a timeline of what happened when."""

    def read(views: Connection) -> OrderDetail:
        buyer = _may_read_orders(caller)
        row = runtime.view(OrdersView).order(views, order_id)
        if row is None or (buyer is not None and row["buyer_id"] != buyer):
            raise ApiError(404, f"no order {order_id}")
        return OrderDetail.from_row(row)

    return await reads.read(read)


@router.post("/orders/{order_id}/cancel", response_model=OrderOut,
             responses={503: {"model": Problem, "description": "the refund could not be made now"}})
def cancel_order(order_id: UUID, caller: BuyerDep, runtime: RuntimeDep, response: Response,
                 body: CancelIn | None = None) -> OrderOut:  # fmt: skip
    """Cancel before production starts; a paid order is refunded in full."""
    done = runtime.marketplace.cancel_order(caller.organisation_id, order_id, body.reason if body else "")
    recorded(response, done.position)
    return _order(runtime.marketplace, order_id)
