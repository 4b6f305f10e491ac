"""Organisations and their API keys."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Path, Response, status
from sqlalchemy.engine import Connection

from vardekedja.api.deps import SHUTTING_DOWN, CallerDep, OperatorDep, RuntimeDep, ViewsDep, WriterDep, command
from vardekedja.api.problems import ApiError
from vardekedja.api.resources import ApiKeyOut, OrganisationCreated, OrganisationOut
from vardekedja.api.schemas import OrganisationIn
from vardekedja.application import Marketplace
from vardekedja.domain.organisation import Role
from vardekedja.projections.organisations import OrganisationsView

router = APIRouter(tags=["organisations"])


def _operator_or_self(caller: CallerDep, organisation_id: UUID) -> None:
    if caller.role is not Role.OPERATOR and caller.organisation_id != organisation_id:
        raise ApiError(404, f"no organisation {organisation_id}")


@router.post("/organisations", status_code=status.HTTP_201_CREATED, response_model=OrganisationCreated,
             responses=SHUTTING_DOWN)  # fmt: skip
async def register_organisation(body: OrganisationIn, caller: OperatorDep, runtime: RuntimeDep,
                                response: Response) -> OrganisationCreated:  # fmt: skip
    """Register an organisation in one role; its first API key is in the response, once."""
    fields = body.model_dump()

    def run(app: Marketplace) -> OrganisationCreated:
        issued = app.register_organisation(**fields)
        organisation = OrganisationOut.from_aggregate(app.organisation(issued.organisation_id))
        return OrganisationCreated(**organisation.model_dump(), key_id=issued.key_id, api_key=issued.api_key)

    return await command(runtime, response, run)


@router.get("/me", response_model=OrganisationOut)
async def me(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> OrganisationOut:
    """The caller's own organisation."""

    def read(views: Connection) -> OrganisationOut:
        row = runtime.view(OrganisationsView).organisation(views, caller.organisation_id)
        if row is None:
            raise ApiError(404, "your organisation was registered a moment ago and cannot be read yet; "
                                "try again shortly")
        return OrganisationOut.from_row(row)

    return await reads.read(read)


@router.get("/organisations/{organisation_id}", response_model=OrganisationOut)
async def get_organisation(organisation_id: UUID, caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep) -> OrganisationOut:
    """An organisation, to the operator, to auditors (who read everything) or to itself."""

    def read(views: Connection) -> OrganisationOut:
        if caller.role is not Role.AUDITOR:
            _operator_or_self(caller, organisation_id)
        row = runtime.view(OrganisationsView).organisation(views, organisation_id)
        if row is None:
            raise ApiError(404, f"no organisation {organisation_id}")
        return OrganisationOut.from_row(row)

    return await reads.read(read)


@router.post("/organisations/{organisation_id}/api-keys", status_code=status.HTTP_201_CREATED,
             response_model=ApiKeyOut, responses=SHUTTING_DOWN)  # fmt: skip
async def issue_api_key(organisation_id: UUID, caller: WriterDep, runtime: RuntimeDep,
                        response: Response) -> ApiKeyOut:  # fmt: skip
    """Issue another API key; it is shown here once and stored only as a hash."""
    _operator_or_self(caller, organisation_id)
    issued = await command(runtime, response, lambda app: app.issue_api_key(organisation_id))
    return ApiKeyOut(key_id=issued.key_id, api_key=issued.api_key)


@router.delete("/organisations/{organisation_id}/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT,
               response_class=Response, responses={**SHUTTING_DOWN, 202: {
                   "description": "revoked, but the views had not caught up within 2 s: the key may still be "
                                  "accepted until they reach Vardekedja-Position"}})  # fmt: skip
async def revoke_api_key(organisation_id: UUID, key_id: Annotated[str, Path(max_length=64)], caller: WriterDep,
                         runtime: RuntimeDep) -> Response:  # fmt: skip
    """Revoke an API key; once this answers 204, requests with the key are refused.

    The revocation takes effect when the views have it; if they lag more than
    2 s behind, the answer is 202 instead, with the position to wait for.
    """
    _operator_or_self(caller, organisation_id)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    done = await command(runtime, response, lambda app: app.revoke_api_key(organisation_id, key_id))
    if not await to_thread.run_sync(runtime.wait_for, done.position):
        response.status_code = status.HTTP_202_ACCEPTED
    return response
