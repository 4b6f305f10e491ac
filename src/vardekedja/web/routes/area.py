"""The area company's page: pieces to install, installed pieces it looks after, and their maintenance.

Reads the deliveries and förvaltning views with the API's queries and runs the
API's commands (install; acknowledge, start, resolve or reject maintenance).
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from vardekedja.api.care_models import AssetOut, MaintenanceOrderOut
from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.resources import DeliveryOut
from vardekedja.projections.care import CareView
from vardekedja.projections.deliveries import DeliveriesView
from vardekedja.projections.production import ProductionView
from vardekedja.web.auth import PageAreaCompany
from vardekedja.web.commands import run_then_show
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import PageDep
from vardekedja.web.routes.money import onboarding_allowed, party_money

router = APIRouter(include_in_schema=False)
HOME = "/area"
Text = Annotated[str, Form(max_length=2000)]


@router.get("/area", response_class=HTMLResponse)
async def area(page: PageDep, caller: PageAreaCompany, reads: ViewsDep, runtime: RuntimeDep) -> HTMLResponse:
    now = runtime.clock()

    def read(connection: Connection) -> dict[str, Any]:
        me = caller.organisation_id
        deliveries = runtime.view(DeliveriesView).list(connection, party_id=me, limit=50)
        care, production = runtime.view(CareView), runtime.view(ProductionView)
        to_install = [d for d in (DeliveryOut.from_row(row) for row in deliveries.items)
                      if d.install and d.area_company_id == me and d.status in ("scheduled", "dispatched", "delivered",
                                                                                  "installed")]  # fmt: skip
        made = {d.id: production.production_order(connection, d.production_order_id) for d in to_install}
        return {
            "to_install": to_install,
            "titles": {key: f"{row['title']} × {row['quantity']}" for key, row in made.items() if row},
            "assets": [AssetOut.from_row(row) for row in care.list_assets(connection, party_id=me, limit=50).items],
            # Opened as the API opens them for the area company: the report's text and the reporter's contact.
            "maintenance": [MaintenanceOrderOut.from_row(row, now).opened(runtime.personal_data, contact=True)
                            for row in care.list_maintenance(connection, party_id=me, limit=50).items],
            **party_money(runtime, connection, me),
        }  # fmt: skip

    return onboarding_allowed(page.render("area.html", **await reads.read(read)), runtime)


@router.post("/area/deliveries/{delivery_id}/install")
async def install(delivery_id: UUID, page: PageDep, caller: PageAreaCompany, runtime: RuntimeDep) -> Response:
    return await run_then_show(page, runtime, lambda app: app.install(caller.organisation_id, delivery_id), HOME)


@router.post("/area/maintenance/{order_id}/{action}")
async def maintenance(order_id: UUID, action: str, page: PageDep, caller: PageAreaCompany, runtime: RuntimeDep,
                      hours_worked: Annotated[str, Form(max_length=10)] = "",
                      materials: Annotated[str, Form(max_length=20)] = "", notes: Text = "",
                      reason: Text = "") -> Response:  # fmt: skip
    """acknowledge, start, resolve (hours, materials in kronor, notes) or reject (reason) a maintenance order."""
    me = caller.organisation_id
    if action == "resolve":
        try:
            hours = float(hours_worked.replace(",", "."))
            materials_ore = int(Decimal((materials or "0").replace(" ", "").replace(",", ".")) * 100)
        except (ValueError, InvalidOperation):
            raise PageError(422, page.gettext("Write hours and kronor as numbers, e.g. 1,5 and 250.")) from None
    commands = {
        "acknowledge": lambda app: app.acknowledge_maintenance(me, order_id),
        "start": lambda app: app.start_maintenance(me, order_id),
        "resolve": lambda app: app.resolve_maintenance(me, order_id, hours, materials_ore, notes),
        "reject": lambda app: app.reject_maintenance(me, order_id, reason),
    }
    if action not in commands:
        raise PageError(404, page.gettext("There is no such page."))
    return await run_then_show(page, runtime, commands[action], HOME)
