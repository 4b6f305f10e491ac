"""Impact: local money, local work and CO₂e for an order, an organisation, a municipality or the platform."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy.engine import Connection

from vardekedja.api.deps import Caller, CallerDep, RuntimeDep, ViewsDep
from vardekedja.api.problems import ApiError
from vardekedja.domain.organisation import Role
from vardekedja.impact.report import Query as ImpactQuery
from vardekedja.impact.report import Scope, baseline_from, summarise
from vardekedja.projections.impact import ImpactView
from vardekedja.projections.organisations import OrganisationsView
from vardekedja.runtime import Runtime

router = APIRouter(tags=["impact"])


def _place(text: str | None) -> str:
    return (text or "").strip().casefold()


def municipalities_of(runtime: Runtime, views: Connection, caller: Caller) -> list[str]:
    """The municipalities whose impact an area company sees: where it is registered and those it serves."""
    if not caller.is_(Role.AREA_COMPANY):
        return []
    found = runtime.view(OrganisationsView).organisation(views, caller.organisation_id)
    if found is None:
        return []
    return list(dict.fromkeys([found["municipality"], *found["service_area"]]))


def make_query(scope: Scope, id: str | None, start: datetime | None, end: datetime | None) -> ImpactQuery:
    """The query, or a 422 naming what is missing: an id for any scope but the platform, offsets on the times."""
    if scope != "platform" and not id:
        raise ApiError(422, f"a {scope} scope needs an id")
    for name, moment in (("from", start), ("to", end)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, f"{name} needs a UTC offset")
    return ImpactQuery(scope, None if scope == "platform" else id, start, end)


def report_for(runtime: Runtime, views: Connection, caller: Caller, query: ImpactQuery) -> dict[str, Any]:
    """The report, if the caller may see it: the API's answer and the web UI's charts both come from here.

    The operator and auditors see every scope; a party sees its own orders and its own organisation; an area
    company also sees the municipalities it is registered in or serves.
    """
    view = runtime.view(ImpactView)
    if not caller.is_(Role.OPERATOR, Role.AUDITOR):
        own, id = str(caller.organisation_id), query.id or ""
        if query.scope == "platform":
            raise ApiError(403, "only the operator and auditors see the platform's impact")
        if query.scope == "municipality" and _place(id) not in map(_place, municipalities_of(runtime, views, caller)):
            raise ApiError(403, "only the operator, auditors and the area companies serving a municipality see "
                                "its impact")  # fmt: skip
        if query.scope == "organisation" and id != own:
            raise ApiError(404, f"no organisation {id} of yours")
        if query.scope == "order" and not view.takes_part(views, id, own):
            raise ApiError(404, f"no order {id} of yours")
    return summarise(query, view.sums(views, query), baseline_from(runtime.settings))


@router.get("/impact")
async def impact(
    caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep,
    scope: Annotated[Literal["order", "organisation", "municipality", "platform"], Query()] = "platform",
    id: Annotated[str | None, Query(max_length=200, pattern=r"^[^\x00]*$",
                                    description="The order, organisation or municipality; none for the platform")] = None,
    from_: Annotated[datetime | None, Query(alias="from", description="From this moment (inclusive)")] = None,
    to: Annotated[datetime | None, Query(description="Until this moment (exclusive)")] = None,
) -> dict[str, Any]:  # fmt: skip
    """Money paid and paid to local parties, work hours (local and all) and CO₂e beside a stated baseline.

    The operator and auditors see every scope; a party sees its own orders and its organisation; an area
    company also sees the municipalities it is registered in or serves.
    """
    query = make_query(scope, id, from_, to)
    return await reads.read(lambda views: report_for(runtime, views, caller, query))
