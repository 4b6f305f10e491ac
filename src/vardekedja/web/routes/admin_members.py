"""The operator's page for one organisation: its people (invite, remove) and its API keys (issue, revoke).

The same commands and views as ``/v1/organisations/{id}/people`` and
``/v1/organisations/{id}/api-keys`` (inviting and removing through the very
functions the API uses, which also end the person's sessions). Every form
answers with a redirect (Post/Redirect/Get); a new invite link or API key rides
along once in a short-lived cookie for this page alone, is shown once, and is
then forgotten: neither is stored anywhere readable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.people_models import PersonIn, PersonOut
from vardekedja.api.routes.people import invite_link, remove_member
from vardekedja.api.sessions import secure_cookie
from vardekedja.application import Marketplace
from vardekedja.projections.organisations import OrganisationsView
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime
from vardekedja.web.auth import PageOperator
from vardekedja.web.commands import act
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)
ONCE = "vardekedja_once"  # a secret to show once: "invite:<link>" or "key:<API key>"
ONCE_SECONDS = 120


def _runner(page: Page, runtime: Runtime) -> Callable[[Callable[[Marketplace], Any]], Awaitable[Any]]:
    """Run a command as pages do (a broken rule becomes an error page that says which), for the API's helpers."""

    async def run(command: Callable[[Marketplace], Any]) -> Any:
        return (await act(page.gettext, runtime, command)).value

    return run


def _here(organisation_id: UUID) -> str:
    return f"/admin/organisations/{organisation_id}"


async def _read(page: Page, reads: Any, runtime: Runtime, organisation_id: UUID) -> dict[str, Any]:
    vault = runtime.personal_data

    def read(views: Connection) -> dict[str, Any]:
        organisation = runtime.view(OrganisationsView).organisation(views, organisation_id)
        if organisation is None:
            raise PageError(404, page.gettext("There is no such organisation."))
        people = [PersonOut.from_row(row, vault) for row in runtime.view(PeopleView).members(views, organisation_id)]
        return {"organisation": organisation, "people": people,
                "keys": runtime.view(OrganisationsView).keys_of(views, organisation_id)}  # fmt: skip

    return await reads.read(read)


def _render(page: Page, found: dict[str, Any], *, status: int = 200, values: dict[str, str] | None = None,
            errors: dict[str, str] | None = None, once: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    response = page.render("admin_organisation.html", status=status, values=values or {}, errors=errors or {},
                           once=once, **found)  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # a secret may be on it
    return response


@router.get("/admin/organisations/{organisation_id}", response_class=HTMLResponse)
async def organisation(organisation_id: UUID, page: PageDep, operator: PageOperator, reads: ViewsDep,
                       runtime: RuntimeDep) -> HTMLResponse:  # fmt: skip
    kind, _, value = page.request.cookies.get(ONCE, "").partition(":")
    once = {"kind": kind, "value": value} if kind in ("invite", "key") and value else None
    response = _render(page, await _read(page, reads, runtime, organisation_id), once=once)
    if once is not None:
        response.delete_cookie(ONCE, path=_here(organisation_id))
    return response


def _showing_once(request: Request, organisation_id: UUID, kind: str, secret: str) -> RedirectResponse:
    response = RedirectResponse(_here(organisation_id), status_code=303)
    response.set_cookie(ONCE, f"{kind}:{secret}", max_age=ONCE_SECONDS, httponly=True, samesite="strict",
                        secure=secure_cookie(request), path=_here(organisation_id))  # fmt: skip
    return response


@router.post("/admin/organisations/{organisation_id}/people", response_class=HTMLResponse)
async def invite(organisation_id: UUID, request: Request, page: PageDep, operator: PageOperator, reads: ViewsDep,
                 runtime: RuntimeDep) -> Response:  # fmt: skip
    """Invite a person (a member invited again gets a new link and chooses a new password)."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in ("name", "email", "language")}
    values["language"] = values["language"] or "sv"
    try:
        body = PersonIn.model_validate(values)
        done = await act(page.gettext, runtime, lambda app: app.invite_person(organisation_id, **body.model_dump()))
        url = await invite_link(request, runtime, done.value)
    except ValidationError as invalid:
        errors = {str(problem["loc"][0]): page.gettext("Check this field: %(reason)s") % {"reason": problem["msg"]}
                  for problem in invalid.errors()}  # fmt: skip
        return _render(page, await _read(page, reads, runtime, organisation_id), status=422, values=values,
                       errors=errors)  # fmt: skip
    except PageError as refused:
        return _render(page, await _read(page, reads, runtime, organisation_id), status=refused.status,
                       values=values, errors={"email": refused.message})  # fmt: skip
    return _showing_once(request, organisation_id, "invite", url)


@router.post("/admin/organisations/{organisation_id}/people/{person_id}/remove")
async def remove(organisation_id: UUID, person_id: UUID, request: Request, page: PageDep, operator: PageOperator,
                 runtime: RuntimeDep) -> RedirectResponse:  # fmt: skip
    """Remove a member: their sessions end at once."""
    await remove_member(request, _runner(page, runtime), organisation_id, person_id)
    return RedirectResponse(_here(organisation_id), status_code=303)


@router.post("/admin/organisations/{organisation_id}/api-keys")
async def issue_key(organisation_id: UUID, request: Request, page: PageDep, operator: PageOperator,
                    runtime: RuntimeDep) -> RedirectResponse:  # fmt: skip
    """Issue another API key; it is shown once, on the page this leads to."""
    done = await act(page.gettext, runtime, lambda app: app.issue_api_key(organisation_id))
    return _showing_once(request, organisation_id, "key", done.value.api_key)


@router.post("/admin/organisations/{organisation_id}/api-keys/{key_id}/revoke")
async def revoke_key(organisation_id: UUID, key_id: str, page: PageDep, operator: PageOperator,
                     runtime: RuntimeDep) -> RedirectResponse:  # fmt: skip
    """Revoke an API key: requests with it are refused once the views have it (waited for here)."""
    if len(key_id) > 64:
        raise PageError(404, page.gettext("There is no such page."))
    await act(page.gettext, runtime, lambda app: app.revoke_api_key(organisation_id, key_id))
    return RedirectResponse(_here(organisation_id), status_code=303)
