"""Money on the pages: each party's payout account and payouts, and the operator's and auditor's books.

A designer, workshop or area company connects its payout account from its own
page (``POST /studio/payout-account`` and the like: the marketplace's
``connect_payout_account``, then on to the provider's onboarding page) and sees
its payouts with their status, read with the API's queries. The operator and
auditors get ``/admin/money`` (``/audit/money``): the API's reconciliation for a
period, the transfers that failed with when they are tried next, and the
period's SIE file, each answered by calling the API's own route.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from vardekedja.api.deps import Caller, RuntimeDep, ViewsDep
from vardekedja.api.resources import PayoutOut
from vardekedja.api.routes import bookkeeping as api_bookkeeping
from vardekedja.api.routes import settlement as api_settlement
from vardekedja.application.payments import PaymentsUnavailableError, ProviderError
from vardekedja.domain.errors import DomainError
from vardekedja.projections.orders import OrdersView
from vardekedja.projections.organisations import OrganisationsView
from vardekedja.projections.payouts import PayoutsView
from vardekedja.projections.settlement import SettlementView
from vardekedja.runtime import Runtime
from vardekedja.web.auth import PageAreaCompany, PageDesigner, PageOverseer, PageWorkshop
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)
PAYOUTS_SHOWN = 20


def party_money(runtime: Runtime, connection: Connection, organisation_id: UUID) -> dict[str, Any]:
    """What a party's page shows of its money: its payout account's state, its latest payouts and what is
    owed to it in all (the API's ``GET /v1/payouts`` and ``GET …/payout-account`` queries, for itself)."""
    account = runtime.view(SettlementView).account(connection, organisation_id)
    payouts = runtime.view(PayoutsView)
    page = payouts.list(connection, party_id=organisation_id, limit=PAYOUTS_SHOWN)
    state = "not_connected" if account is None else "ready" if account["ready"] else "waiting"
    shown = [PayoutOut.from_row(row) for row in page.items]
    return {"payout_account": state, "payouts": shown, "sold": _what_was_sold(runtime, connection, shown),
            "payouts_total_ore": sum(payouts.totals(connection, party_id=organisation_id).values())}  # fmt: skip


def _what_was_sold(runtime: Runtime, connection: Connection, payouts: list[PayoutOut]) -> dict[str, str]:
    """Each payout's order line in words (``Parkbänk Fittja × 2, Alby gård``), by ``order_id:line_no``."""
    orders = runtime.view(OrdersView)
    found: dict[str, str] = {}
    for order_id in {payout.order_id for payout in payouts}:
        order = orders.order(connection, order_id)
        for line in order["lines"] if order else ():
            found[f"{order_id}:{line['line_no']}"] = f"{line['title']} × {line['quantity']}, {order['delivery_site']['name']}"
    return found


STRIPE_ONBOARDING = "https://connect.stripe.com"  # where Stripe's account links send the party


def onboarding_allowed(response: Response, runtime: Runtime) -> Response:
    """A page with the "Connect payout account" form: its Content-Security-Policy lets the form's answer, a
    redirect to the provider's onboarding page, through (``form-action`` covers where a form redirects to)."""
    base = runtime.settings.stripe_api_base
    origin = STRIPE_ONBOARDING if base is None or "stripe.com" in base else base.rstrip("/")
    policy = response.headers["Content-Security-Policy"]
    response.headers["Content-Security-Policy"] = policy.replace("form-action 'self'", f"form-action 'self' {origin}")
    return response


async def _connect(request: Request, page: Page, runtime: Runtime, caller: Caller, home: str) -> Response:
    """Open (once) the party's payout account and send the browser to the provider's onboarding page, which
    sends it back to ``home``."""
    back = runtime.settings.public_url(home, str(request.base_url))
    try:
        _, link = await to_thread.run_sync(
            lambda: runtime.marketplace.connect_payout_account(caller.organisation_id, back, back))
    except PaymentsUnavailableError:
        raise PageError(503, page.gettext("Payouts are not set up on this marketplace yet.")) from None
    except ProviderError:
        raise PageError(502, page.gettext("The payment provider could not be reached. Try again in a while.")) from None
    except DomainError as error:
        raise PageError(422, page.gettext("That could not be done: %(reason)s") % {"reason": page.reason(error)}) from None
    return RedirectResponse(link.onboarding_url, status_code=303)


@router.post("/studio/payout-account")
async def connect_designer(request: Request, page: PageDep, caller: PageDesigner, runtime: RuntimeDep) -> Response:
    return await _connect(request, page, runtime, caller, "/studio")


@router.post("/workshop/payout-account")
async def connect_workshop(request: Request, page: PageDep, caller: PageWorkshop, runtime: RuntimeDep) -> Response:
    return await _connect(request, page, runtime, caller, "/workshop")


@router.post("/area/payout-account")
async def connect_area_company(request: Request, page: PageDep, caller: PageAreaCompany,
                               runtime: RuntimeDep) -> Response:  # fmt: skip
    return await _connect(request, page, runtime, caller, "/area")


def _day(page: Page, value: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise PageError(422, page.gettext("Choose the period's days as dates, e.g. 2026-11-01.")) from None


@router.get("/admin/money", response_class=HTMLResponse)
@router.get("/audit/money", response_class=HTMLResponse)
async def books(request: Request, page: PageDep, caller: PageOverseer, reads: ViewsDep, runtime: RuntimeDep,
                start: Annotated[str, Query(alias="from", max_length=10)] = "",
                end: Annotated[str, Query(alias="to", max_length=10)] = "") -> HTMLResponse:  # fmt: skip
    """Reconciliation for a period (every order whose first money arrived in it, and the totals), transfers
    that failed, and the period's SIE file."""
    first, last = _day(page, start), _day(page, end)
    try:
        reconciled = await api_bookkeeping.reconciliation(caller, reads, runtime, first, last)
    except DomainError:
        raise PageError(422, page.gettext("The period ends before it starts.")) from None
    failures = await api_settlement.transfer_failures(caller, reads, runtime)

    order_ids = {row.order_id for row in reconciled.orders} | {failure.order_id for failure in failures}

    def named(connection: Connection) -> tuple[dict[UUID, str], dict[UUID, dict[str, Any]]]:
        orders = runtime.view(OrdersView).headings(connection, order_ids)
        view = runtime.view(OrganisationsView)
        parties = {f.party_id for f in failures} | {order["buyer_id"] for order in orders.values()}
        found = {party: view.organisation(connection, party) for party in parties}
        return {party: row["name"] for party, row in found.items() if row is not None}, orders

    names, orders = await reads.read(named)

    query = "&".join(f"{name}={value}" for name, value in (("from", start), ("to", end)) if value)
    return page.render("money.html", reconciliation=reconciled, failures=failures, names=names, orders=orders,
                       start=start, end=end, sie=f"{request.url.path}/sie" + (f"?{query}" if query else ""),
                       differences={d.order_id for d in reconciled.differences})  # fmt: skip


@router.get("/admin/money/sie")
@router.get("/audit/money/sie")
async def sie(page: PageDep, caller: PageOverseer, reads: ViewsDep, runtime: RuntimeDep,
              start: Annotated[str, Query(alias="from", max_length=10)] = "",
              end: Annotated[str, Query(alias="to", max_length=10)] = "") -> Response:  # fmt: skip
    """The period's SIE 4 file: the API's own answer, to download."""
    first, last = _day(page, start), _day(page, end)
    try:
        return await api_bookkeeping.sie_export(caller, reads, runtime, first, last)
    except DomainError:
        raise PageError(422, page.gettext("The period ends before it starts.")) from None
