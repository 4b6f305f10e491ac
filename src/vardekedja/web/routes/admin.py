"""The operator's page: organisations (registering one shows its first API key once), the projections' progress,
and every payout. The same commands, request model and views as the API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.schemas import OrganisationIn
from vardekedja.domain.errors import DomainError
from vardekedja.projections.organisations import OrganisationsView
from vardekedja.projections.payouts import PayoutsView
from vardekedja.web.auth import PageOperator
from vardekedja.web.commands import run_command, until_shown
from vardekedja.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)
FIELDS = ("name", "role", "org_number", "municipality", "capabilities", "service_area")


async def _overview(reads: Any, runtime: Any) -> dict[str, Any]:
    def read(connection: Connection) -> dict[str, Any]:
        payouts = runtime.view(PayoutsView)
        return {"organisations": runtime.view(OrganisationsView).everyone(connection),
                "positions": runtime.database.positions(runtime.views_list),
                "payouts": payouts.list(connection, limit=20).items, "totals": payouts.totals(connection)}  # fmt: skip

    found = await reads.read(read)
    return {**found, "head": runtime.marketplace.position}


async def _render(page: Page, reads: Any, runtime: Any, status: int = 200, **shown: Any) -> Response:
    """The page with whatever the form left to show: its values and errors, or the key given once."""
    forms = {"values": {}, "errors": {}, "issued": None}
    response = page.render("admin.html", status=status, **{**forms, **shown}, **await _overview(reads, runtime))
    if shown.get("issued"):
        response.headers["Cache-Control"] = "no-store"  # the key is shown once and must not be kept anywhere
    return response


@router.get("/admin", response_class=HTMLResponse)
async def admin(page: PageDep, operator: PageOperator, reads: ViewsDep, runtime: RuntimeDep) -> Response:
    return await _render(page, reads, runtime)


@router.post("/admin/organisations", response_class=HTMLResponse)
async def register(request: Request, page: PageDep, operator: PageOperator, reads: ViewsDep,
                   runtime: RuntimeDep) -> Response:  # fmt: skip
    """Register an organisation; the answer shows its one-time API key (never stored, so never shown again)."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    errors, issued = _errors(page, values), None
    if not errors:
        body = OrganisationIn.model_validate({**values, "capabilities": _list(values["capabilities"]),
                                              "service_area": _list(values["service_area"])})  # fmt: skip
        try:
            done = await run_command(runtime, lambda app: app.register_organisation(**body.model_dump()))
        except DomainError as error:
            errors[error.field or "name"] = page.gettext("That could not be done: %(reason)s") % {"reason": page.reason(error)}
        else:
            issued, values = {"name": body.name, "api_key": done.value.api_key}, {}
            await until_shown(runtime, done.position)
    return await _render(page, reads, runtime, status=422 if errors else 201, values=values, errors=errors,
                         issued=issued)  # fmt: skip


def _list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _errors(page: Page, values: dict[str, str]) -> dict[str, str]:
    try:
        OrganisationIn.model_validate({**values, "capabilities": _list(values["capabilities"]),
                                       "service_area": _list(values["service_area"])})  # fmt: skip
    except ValidationError as invalid:
        return {str(problem["loc"][0]): page.gettext("Check this field: %(reason)s") % {"reason": problem["msg"]}
                for problem in invalid.errors()}  # fmt: skip
    return {}
