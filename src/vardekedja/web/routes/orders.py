"""A buyer's orders: the list, one order with its timeline, paying and cancelling.

The pages read the orders view with the same query as ``GET /v1/orders`` and run
the same application commands as the API; forms answer with a redirect.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Form, Query
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.resources import OrderDetail, OrderOut
from vardekedja.domain.errors import DomainError
from vardekedja.projections.orders import OrdersView
from vardekedja.stripe_gateway import StripeUnavailableError
from vardekedja.web.auth import PageBuyer
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import PageDep

router = APIRouter(include_in_schema=False)

CANCELLABLE = ("placed", "paid")


@router.get("/orders", response_class=HTMLResponse)
async def orders(page: PageDep, buyer: PageBuyer, reads: ViewsDep, runtime: RuntimeDep,
                 cursor: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:  # fmt: skip
    def read(connection: Connection) -> dict[str, Any]:
        found = runtime.view(OrdersView).list(connection, buyer_id=buyer.organisation_id, limit=20,
                                              cursor=cursor or None)  # fmt: skip
        return {"orders": [OrderOut.from_row(row) for row in found.items], "next_cursor": found.next_cursor}

    return page.render("orders.html", **await reads.read(read))


@router.get("/orders/{order_id}", response_class=HTMLResponse)
async def order(order_id: UUID, page: PageDep, buyer: PageBuyer, reads: ViewsDep, runtime: RuntimeDep,
                done: Annotated[str, Query(max_length=20)] = "") -> HTMLResponse:  # fmt: skip
    """One order: lines, amounts, delivery site, what happened when; pay or cancel while that can be done."""

    def read(connection: Connection) -> OrderDetail:
        row = runtime.view(OrdersView).order(connection, order_id)
        if row is None or row["buyer_id"] != buyer.organisation_id:
            raise PageError(404, page.gettext("There is no such order among yours."))
        return OrderDetail.from_row(row)

    found = await reads.read(read)
    return page.render("order.html", order=found, cancellable=found.status in CANCELLABLE, done=done,
                       payable=found.status == "placed" and runtime.stripe is not None)  # fmt: skip


@router.post("/orders/{order_id}/pay")
async def pay(order_id: UUID, page: PageDep, buyer: PageBuyer, runtime: RuntimeDep) -> RedirectResponse:
    """Start (or resume) paying and go to the payment page, as the API's checkout does."""
    if runtime.stripe is None:
        raise PageError(503, page.gettext("Payments are not set up on this server."))
    try:
        _, intent = await to_thread.run_sync(runtime.marketplace.checkout, buyer.organisation_id, order_id)
    except StripeUnavailableError:
        raise PageError(503, page.gettext("The payment service cannot be reached just now; try again soon.")) from None
    except DomainError as error:
        raise PageError(409, page.gettext("That could not be done: %(reason)s") % {"reason": page.reason(error)}) from None
    return RedirectResponse(f"/pay/{order_id}#{intent.client_secret}", status_code=303)


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: UUID, page: PageDep, buyer: PageBuyer, runtime: RuntimeDep,
                 reason: Annotated[str, Form(max_length=500)] = "") -> RedirectResponse:  # fmt: skip
    """Cancel before production starts (a paid order is refunded in full), then show the order again."""
    try:
        done = await to_thread.run_sync(runtime.marketplace.cancel_order, buyer.organisation_id, order_id, reason)
    except DomainError as error:
        raise PageError(409, page.gettext("That could not be done: %(reason)s") % {"reason": page.reason(error)}) from None
    await to_thread.run_sync(runtime.wait_for, done.position, 2.0)  # the order page then shows the cancellation
    return RedirectResponse(f"/orders/{order_id}?done=cancelled", status_code=303)
