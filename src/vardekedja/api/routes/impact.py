"""Impact: local money, local work and CO₂e for an order, an organisation, a municipality or the platform."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlalchemy.engine import Connection

from vardekedja.api.deps import CallerDep, RuntimeDep, ViewsDep
from vardekedja.api.problems import ApiError
from vardekedja.domain.organisation import Role
from vardekedja.impact.report import Query as ImpactQuery
from vardekedja.impact.report import baseline_from, summarise
from vardekedja.projections.impact import ImpactView

router = APIRouter(tags=["impact"])


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

    The operator and auditors see every scope; a party sees its own orders and its organisation.
    """
    if scope != "platform" and not id:
        raise ApiError(422, f"a {scope} scope needs an id")
    for name, moment in (("from", from_), ("to", to)):
        if moment is not None and moment.tzinfo is None:
            raise ApiError(422, f"{name} needs a UTC offset")
    query = ImpactQuery(scope, None if scope == "platform" else id, from_, to)

    def read(views: Connection) -> dict[str, Any]:
        view = runtime.view(ImpactView)
        if not caller.is_(Role.OPERATOR, Role.AUDITOR):
            own = str(caller.organisation_id)
            if scope in ("municipality", "platform"):
                raise ApiError(403, "only the operator and auditors see a municipality's or the platform's impact")
            if scope == "organisation" and id != own:
                raise ApiError(404, f"no organisation {id} of yours")
            if scope == "order" and not view.takes_part(views, id or "", own):
                raise ApiError(404, f"no order {id} of yours")
        return summarise(query, view.sums(views, query), baseline_from(runtime.settings))

    return await reads.read(read)
