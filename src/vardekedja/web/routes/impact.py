"""Impact pages: money that stayed local, work and CO₂e over a chosen period, as charts with their figures.

The operator (``/admin/impact``) and auditors (``/audit/impact``) see the
platform; a buyer (``/orders/impact``) its own orders; an area company
(``/area/impact``) its own work and a municipality it serves. Each reads the
report ``GET /v1/impact`` answers, under the same rule on who sees what.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.routes.impact import municipalities_of
from vardekedja.web.auth import PageAreaCompany, PageBuyer, PageOperator, PageOverseer
from vardekedja.web.impact import Period, impact_charts, period
from vardekedja.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)
Day = Annotated[str, Query(alias="from", max_length=20)]
LastDay = Annotated[str, Query(max_length=20)]


async def _render(page: Page, chosen: Period, sections: list[dict[str, Any]], **context: Any) -> HTMLResponse:
    return page.render("impact.html", status=422 if chosen.errors else 200, period=chosen.values() if not
                       chosen.errors else {"from": "", "to": ""}, errors=chosen.errors, sections=sections,
                       **{"municipalities": [], "municipality": "", **context})  # fmt: skip


async def _platform(page: Page, caller: Any, reads: Any, runtime: Any, start: str, end: str) -> HTMLResponse:
    chosen = period(page.gettext, start, end)
    charts = await impact_charts(reads, runtime, caller, "platform", None, chosen, "platform", page.gettext,
                                 page.formats)  # fmt: skip
    return await _render(page, chosen, [{"heading": page.gettext("The whole platform"), "charts": charts}])


@router.get("/admin/impact", response_class=HTMLResponse)
async def operator_impact(page: PageDep, caller: PageOperator, reads: ViewsDep, runtime: RuntimeDep,
                          start: Day = "", to: LastDay = "") -> HTMLResponse:  # fmt: skip
    return await _platform(page, caller, reads, runtime, start, to)


@router.get("/audit/impact", response_class=HTMLResponse)
async def audit_impact(page: PageDep, caller: PageOverseer, reads: ViewsDep, runtime: RuntimeDep,
                       start: Day = "", to: LastDay = "") -> HTMLResponse:  # fmt: skip
    return await _platform(page, caller, reads, runtime, start, to)


@router.get("/orders/impact", response_class=HTMLResponse)
async def buyer_impact(page: PageDep, caller: PageBuyer, reads: ViewsDep, runtime: RuntimeDep,
                       start: Day = "", to: LastDay = "") -> HTMLResponse:  # fmt: skip
    chosen = period(page.gettext, start, to)
    charts = await impact_charts(reads, runtime, caller, "organisation", str(caller.organisation_id), chosen,
                                 "orders", page.gettext, page.formats)  # fmt: skip
    return await _render(page, chosen, [{"heading": page.gettext("Your orders"), "charts": charts}])


@router.get("/area/impact", response_class=HTMLResponse)
async def area_impact(page: PageDep, caller: PageAreaCompany, reads: ViewsDep, runtime: RuntimeDep,
                      start: Day = "", to: LastDay = "",
                      municipality: Annotated[str, Query(max_length=200)] = "") -> HTMLResponse:  # fmt: skip
    chosen = period(page.gettext, start, to)
    places = await reads.read(lambda views: municipalities_of(runtime, views, caller))
    place = next((p for p in places if p.casefold() == municipality.strip().casefold()), places[0] if places else "")
    sections = [{"heading": page.gettext("Your work"), "charts": await impact_charts(
        reads, runtime, caller, "organisation", str(caller.organisation_id), chosen, "own", page.gettext, page.formats)}]
    if place:
        sections.append({"heading": page.gettext("All work in %(municipality)s") % {"municipality": place},
                         "charts": await impact_charts(reads, runtime, caller, "municipality", place, chosen, "place",
                                                       page.gettext, page.formats)})  # fmt: skip
    return await _render(page, chosen, sections, municipalities=places, municipality=place)
