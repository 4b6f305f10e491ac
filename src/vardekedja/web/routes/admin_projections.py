"""The operator's projections: how far each view has come, what stopped it, and rebuilding one (after asking).

A rebuild is the one ``vardekedja projections rebuild NAME`` does: the view is
built afresh from the events beside the live one, which keeps serving, and
swapped in at once (projections/rebuild.py).
"""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from vardekedja.api.deps import RuntimeDep
from vardekedja.projections import PROJECTIONS, faults
from vardekedja.projections.rebuild import rebuild
from vardekedja.runtime import Runtime
from vardekedja.web.auth import PageOperator
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)


def _status(runtime: Runtime) -> dict[str, Any]:
    positions = runtime.database.positions(runtime.views_list)
    with runtime.database.reader.connect() as connection:
        found = faults.all_faults(connection)
    states = {fault.projection: fault.action for fault in found if fault.action == faults.STOPPED}
    parked = {name: sum(fault.projection == name and fault.action == faults.PARKED for fault in found)
              for name in positions}  # fmt: skip
    return {"head": runtime.marketplace.position, "positions": positions, "states": states, "parked": parked,
            "rebuildable": set(PROJECTIONS)}  # fmt: skip


def _known(page: Page, name: str) -> str:
    if name not in PROJECTIONS:
        raise PageError(404, page.gettext("There is no such projection."))
    return name


@router.get("/admin/projections", response_class=HTMLResponse)
async def projections(page: PageDep, operator: PageOperator, runtime: RuntimeDep,
                      rebuilt: Annotated[str, Query(max_length=64)] = "") -> HTMLResponse:  # fmt: skip
    status = await to_thread.run_sync(_status, runtime)
    return page.render("admin_projections.html", rebuilt=rebuilt if rebuilt in PROJECTIONS else None,
                       asking=None, **status)  # fmt: skip


@router.get("/admin/projections/{name}/rebuild", response_class=HTMLResponse)
async def confirm_rebuild(name: str, page: PageDep, operator: PageOperator, runtime: RuntimeDep) -> HTMLResponse:
    """Ask before rebuilding: it reads every event again."""
    status = await to_thread.run_sync(_status, runtime)
    return page.render("admin_projections.html", rebuilt=None, asking=_known(page, name), **status)


@router.post("/admin/projections/{name}/rebuild")
async def rebuild_projection(name: str, page: PageDep, operator: PageOperator,
                             runtime: RuntimeDep) -> RedirectResponse:  # fmt: skip
    """Rebuild the view from the events beside the live one, then swap it in."""
    known = _known(page, name)
    await to_thread.run_sync(lambda: rebuild(runtime.marketplace, runtime.database, known))
    return RedirectResponse(f"/admin/projections?rebuilt={known}", status_code=303)
