"""Förvaltning on the web: a piece's public page (``/a/{code}``) with its fault report form, and a buyer's view
of the maintenance of its pieces (``/orders/maintenance``).

The report goes through the very checks and limits of Open311 (api/fault_reports.py: the rate per client
address, the size, the fields, the hidden ``website`` field a bot fills in); this module only says what went
wrong in the reader's language, beside the field it concerns. A report that is sent answers with a redirect
to the page's thank-you state (Post/Redirect/Get), so reloading sends nothing twice.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.fault_reports import (
    HONEYPOT,
    MAX_DESCRIPTION,
    MAX_FIELD,
    REPORTABLE,
    ReportError,
    check,
    read_form,  # fmt: skip
    submit,
)
from vardekedja.api.routes.care import list_maintenance_orders
from vardekedja.domain.asset import normalise_code
from vardekedja.projections.care import CareView
from vardekedja.web.auth import PageBuyer
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import Page, PageDep
from vardekedja.web.vocabulary import N_

router = APIRouter(include_in_schema=False)
FORM_TOKEN = "csrftoken"
SERVICES = {"safety": N_("Safety hazard: it can hurt someone"), "damage": N_("Damage, not dangerous"),
            "graffiti": N_("Graffiti or stickers"), "cleaning": N_("It needs cleaning"), "other": N_("Something else"),
            "inspection": N_("Scheduled inspection")}  # fmt: skip


async def _asset(page: Page, reads: Any, runtime: Any, code: str) -> dict[str, Any]:
    normal = normalise_code(code)
    found = None
    if normal is not None:
        found = await reads.read(lambda views: runtime.view(CareView).asset_by_code(views, normal))
    if found is None:
        raise PageError(404, page.gettext("No piece has the code %(code)s. Check the code under the QR code on "
                                          "the piece.") % {"code": code[:20]})  # fmt: skip
    return found  # type: ignore[no-any-return]


def _render(page: Page, asset: dict[str, Any], status: int = 200, values: dict[str, str] | None = None,
            errors: dict[str, str] | None = None, sent: str = "", headers: dict[str, str] | None = None,
            ) -> HTMLResponse:  # fmt: skip
    services = [(code.value, page.gettext(SERVICES[code.value])) for code in REPORTABLE]
    response = page.render("asset.html", status=status, asset=asset, services=services, values=values or {},
                           errors=errors or {}, sent=sent, honeypot=HONEYPOT, max_description=MAX_DESCRIPTION,
                           max_field=MAX_FIELD)  # fmt: skip
    response.headers.update(headers or {})
    return response


@router.get("/a/{code}", response_class=HTMLResponse, name="asset_page")
async def asset_page(code: str, page: PageDep, reads: ViewsDep, runtime: RuntimeDep,
                     sent: Annotated[UUID | None, Query()] = None) -> HTMLResponse:  # fmt: skip
    """The piece's public page: what it is, where, who looks after it, and a fault report form."""
    return _render(page, await _asset(page, reads, runtime, code), sent=str(sent) if sent else "")


def _said(page: Page, refused: ReportError, values: dict[str, str]) -> tuple[str, str]:
    """Where a refusal goes on the page (a field, or ``form`` for the whole) and what it says there."""
    _ = page.gettext
    if refused.status == 429:
        return "form", _("Too many reports have come from your address just now; try again in %(seconds)s "
                         "seconds.") % {"seconds": (refused.headers or {}).get("Retry-After", "60")}  # fmt: skip
    if refused.field == "service_code":
        return "service_code", _("Choose what kind of fault it is.")
    if refused.field == "description":
        if values.get("description", "").strip():
            return "description", _("Write at most %(count)s characters.") % {"count": MAX_DESCRIPTION}
        return "description", _("Say what is wrong.")
    if refused.field in ("email", "first_name", "last_name", "phone"):
        return refused.field, _("Write at most %(count)s characters.") % {"count": MAX_FIELD}
    if refused.field == "attribute[asset]":
        return "form", _("No area company looks after this piece yet, so the report cannot be sent. Try again later.")
    return "form", _("The report could not be read. Write it again in the form below.")


@router.post("/a/{code}", response_class=HTMLResponse)
async def report(code: str, request: Request, page: PageDep, reads: ViewsDep, runtime: RuntimeDep) -> Response:
    """A fault report from the piece's page: the thank-you state, or the form again with what to change."""
    asset = await _asset(page, reads, runtime, code)
    values: dict[str, str] = {}
    try:
        await request.app.state.client_limits.check(request, "reports")
        values = await read_form(request, also=frozenset({FORM_TOKEN}))
        request_id = await submit(runtime, Response(), check({**values, "attribute[asset]": asset["code"]}),
                                  request.app.state.asset_codes)
    except ReportError as refused:
        where, said = _said(page, refused, values)
        status = 422 if refused.status == 400 else refused.status
        values.pop(HONEYPOT, None)
        return _render(page, asset, status, values, {where: said}, headers=refused.headers)
    return RedirectResponse(f"/a/{asset['code']}?sent={request_id}", status_code=303)


@router.get("/orders/maintenance", response_class=HTMLResponse)
async def maintenance(page: PageDep, buyer: PageBuyer, reads: ViewsDep, runtime: RuntimeDep,
                      overdue: Annotated[bool, Query()] = False) -> HTMLResponse:  # fmt: skip
    """The maintenance of the buyer's pieces, newest first, as ``GET /v1/maintenance-orders`` answers the buyer."""
    found = await list_maintenance_orders(buyer, reads, runtime, status=None, asset_id=None, overdue=overdue,
                                          limit=100, cursor=None)  # fmt: skip

    def assets(views: Connection) -> list[dict[str, Any]]:
        return runtime.view(CareView).list_assets(views, party_id=buyer.organisation_id, limit=100).items

    return page.render("maintenance.html", orders=found.items, overdue=overdue, pieces=await reads.read(assets),
                       services={code: page.gettext(name) for code, name in SERVICES.items()})  # fmt: skip
