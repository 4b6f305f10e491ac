"""The designer's studio: designs and drafts, pictures and production files, publishing, sales and royalties.

The same commands as the API's design routes, with the specification checked by
the API's own request model (``DesignIn``), so a draft made here obeys exactly
the rules of one sent as JSON; prices are typed in kronor.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.problems import ApiError
from vardekedja.api.routes.media import media_store, store_upload
from vardekedja.api.schemas import DesignIn
from vardekedja.api.uploads import receive_upload
from vardekedja.domain.errors import DomainError
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.web.auth import PageDesigner
from vardekedja.web.commands import act
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import Page, PageDep
from vardekedja.web.routes.money import onboarding_allowed, party_money
from vardekedja.web.security import form_token_matches

router = APIRouter(include_in_schema=False)

FIELDS = ("title", "description", "category", "materials", "width_mm", "depth_mm", "height_mm", "weight_kg",
          "required_capabilities", "lead_time_days", "licence", "royalty", "production_fee", "installation_fee",
          "co2e_kg")  # fmt: skip
KRONOR = {"royalty": "royalty_ore", "production_fee": "production_fee_ore", "installation_fee": "installation_fee_ore"}


@router.get("/studio", response_class=HTMLResponse)
async def studio(page: PageDep, designer: PageDesigner, reads: ViewsDep, runtime: RuntimeDep) -> HTMLResponse:
    def read(connection: Connection) -> dict[str, Any]:
        designs = runtime.view(CatalogueView).designs_of(connection, designer.organisation_id)
        return {"designs": [_summary(row) for row in designs], **party_money(runtime, connection, designer.organisation_id)}

    return onboarding_allowed(page.render("studio.html", **await reads.read(read)), runtime)


@router.get("/studio/designs/new", response_class=HTMLResponse)
async def new_design(page: PageDep, designer: PageDesigner) -> HTMLResponse:
    return page.render("studio_form.html", values={"licence": "CC-BY-SA-4.0"}, errors={}, design_id=None)


@router.post("/studio/designs", response_class=HTMLResponse)
async def draft_design(request: Request, page: PageDep, designer: PageDesigner, runtime: RuntimeDep) -> Response:
    """Draft a design from the form; what is wrong is shown beside its field and nothing is recorded."""
    values, specification, errors = await _specification(request, page)
    if specification is None:
        return page.render("studio_form.html", status=422, values=values, errors=errors, design_id=None)
    done = await act(page.gettext, runtime, lambda app: app.draft_design(designer.organisation_id, specification))
    return _to_design(done.value.id)


@router.post("/studio/designs/{design_id}", response_class=HTMLResponse)
async def revise_design(design_id: UUID, request: Request, page: PageDep, designer: PageDesigner,
                        runtime: RuntimeDep) -> Response:  # fmt: skip
    values, specification, errors = await _specification(request, page)
    if specification is None:
        return page.render("studio_form.html", status=422, values=values, errors=errors, design_id=design_id)
    await act(page.gettext, runtime, lambda app: app.revise_design(designer.organisation_id, design_id, specification))
    return _to_design(design_id)


@router.get("/studio/designs/{design_id}", response_class=HTMLResponse)
async def design(design_id: UUID, page: PageDep, designer: PageDesigner, reads: ViewsDep,
                 runtime: RuntimeDep) -> HTMLResponse:  # fmt: skip
    """A design of one's own: its draft and published revisions, files, and what can be done next."""

    def read(connection: Connection) -> dict[str, Any]:
        view = runtime.view(CatalogueView)
        row = view.design(connection, design_id)
        if row is None or row["designer_id"] != designer.organisation_id:
            raise PageError(404, page.gettext("There is no such design among yours."))
        return {"design": _summary(row), "media": view.media_of(connection, design_id, row["latest_revision"]),
                "values": _form_values(row)}  # fmt: skip

    return page.render("studio_design.html", errors={}, **await reads.read(read))


@router.post("/studio/designs/{design_id}/media")
async def attach(design_id: UUID, request: Request, page: PageDep, designer: PageDesigner,
                 runtime: RuntimeDep) -> Response:  # fmt: skip
    """A picture or production file from the form (streamed to disk as the API's upload is)."""
    store = media_store(runtime)
    try:
        upload = await receive_upload(request, store)
        try:
            if not form_token_matches(request, upload.fields.get("csrftoken")):
                raise PageError(403, page.gettext("The form has expired; open the page again and resend it."))
            stored = await to_thread.run_sync(store_upload, store, upload)
        finally:
            upload.discard()
    except ApiError as error:
        reason = {"reason": error.detail}
        raise PageError(error.status, page.gettext("The file could not be taken: %(reason)s") % reason) from None
    await act(page.gettext, runtime, lambda app: app.attach_media(designer.organisation_id, design_id, **stored))
    return _to_design(design_id)


@router.post("/studio/designs/{design_id}/publish")
async def publish(design_id: UUID, page: PageDep, designer: PageDesigner, runtime: RuntimeDep) -> Response:
    await act(page.gettext, runtime, lambda app: app.publish_design(designer.organisation_id, design_id))
    return _to_design(design_id)


@router.post("/studio/designs/{design_id}/retire")
async def retire(design_id: UUID, page: PageDep, designer: PageDesigner, runtime: RuntimeDep) -> Response:
    await act(page.gettext, runtime, lambda app: app.retire_design(designer.organisation_id, design_id))
    return _to_design(design_id)


def _to_design(design_id: UUID) -> RedirectResponse:
    return RedirectResponse(f"/studio/designs/{design_id}", status_code=303)


async def _specification(request: Request, page: Page) -> tuple[dict[str, str], Any, dict[str, str]]:
    """The form's values, the specification they make (None if they make none), and errors by field."""
    form = await request.form()
    values = {name: str(form.get(name, "")).strip() for name in FIELDS}
    errors: dict[str, str] = {}
    body: dict[str, Any] = {name: values[name] for name in ("title", "description", "category", "licence")}
    body["materials"] = [part.strip() for part in values["materials"].split(",") if part.strip()]
    body["required_capabilities"] = [p.strip() for p in values["required_capabilities"].split(",") if p.strip()]
    body["dimensions_mm"] = {axis: values[f"{axis}_mm"] for axis in ("width", "depth", "height")}
    for name in ("weight_kg", "lead_time_days", "co2e_kg"):
        body[name] = values[name].replace(",", ".")
    for name, field in KRONOR.items():
        try:
            body[field] = int(Decimal(values[name].replace(" ", "").replace(",", ".") or "x") * 100)
        except (InvalidOperation, ValueError):
            errors[name] = page.gettext("Write an amount in kronor, e.g. 250 or 250,50.")
    try:
        parsed = DesignIn.model_validate(body, strict=False)
    except ValidationError as invalid:
        for problem in invalid.errors():
            location = [str(part) for part in problem["loc"]]
            field = f"{location[1]}_mm" if location[0] == "dimensions_mm" and len(location) > 1 else location[0]
            field = {v: k for k, v in KRONOR.items()}.get(field, field)
            errors.setdefault(field, page.gettext("Check this field: %(reason)s") % {"reason": problem["msg"]})
        return values, None, errors
    if errors:
        return values, None, errors
    try:
        return values, parsed.specification(), errors
    except DomainError as error:
        field = error.field or "title"
        errors[{v: k for k, v in KRONOR.items()}.get(field, field)] = page.explain(error)
        return values, None, errors


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    spec = row["draft"] or row
    return {"id": row["id"], "title": spec["title"], "status": row["status"], "latest_revision": row["latest_revision"],
            "published_revision": row["published_revision"], "draft_revision": row["draft_revision"],
            "updated_at": row["updated_at"]}  # fmt: skip


def _form_values(row: dict[str, Any]) -> dict[str, str]:
    spec = row["draft"] or row
    values = {name: str(spec.get(name, "") if spec.get(name) is not None else "") for name in FIELDS}
    values["materials"] = ", ".join(spec.get("materials") or [])
    values["required_capabilities"] = ", ".join(spec.get("required_capabilities") or [])
    for name, field in KRONOR.items():
        values[name] = str(Decimal(spec.get(field) or 0) / 100)
    return values

