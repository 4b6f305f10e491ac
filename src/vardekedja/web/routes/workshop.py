"""The workshop's page: production orders it may take and holds, its deliveries, and their production files.

Reads the production and deliveries views with the API's queries (a workshop sees
the open orders it is eligible for and those it holds) and runs the API's commands.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.resources import DeliveryOut, ProductionOrderOut
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.deliveries import DeliveriesView
from vardekedja.projections.production import ProductionView
from vardekedja.web.auth import PageWorkshop
from vardekedja.web.commands import run_then_show
from vardekedja.web.errors import PageError
from vardekedja.web.i18n import STOCKHOLM
from vardekedja.web.rendering import PageDep
from vardekedja.web.routes.money import onboarding_allowed, party_money

router = APIRouter(include_in_schema=False)
HOME = "/workshop"
Text = Annotated[str, Form(max_length=2000)]


@router.get("/workshop", response_class=HTMLResponse)
async def workshop(page: PageDep, caller: PageWorkshop, reads: ViewsDep, runtime: RuntimeDep) -> HTMLResponse:
    def read(connection: Connection) -> dict[str, Any]:
        production = runtime.view(ProductionView).list(connection, workshop_id=caller.organisation_id, limit=50)
        orders = [ProductionOrderOut.from_row(row, show_site=row["workshop_id"] == caller.organisation_id)
                  for row in production.items]  # the site only for what it holds
        files = {}
        for order in orders:
            if order.workshop_id == caller.organisation_id:
                files[order.id] = runtime.view(CatalogueView).media_of(
                    connection, order.design_id, order.revision, kind="production_file")
        deliveries = runtime.view(DeliveriesView).list(connection, party_id=caller.organisation_id, limit=50)
        return {"open": [o for o in orders if o.status == "open"],
                "titles": {o.delivery_id: f"{o.title} × {o.quantity}" for o in orders if o.delivery_id},
                "held": [o for o in orders if o.status != "open"], "files": files,
                "deliveries": [DeliveryOut.from_row(row) for row in deliveries.items],
                **party_money(runtime, connection, caller.organisation_id)}  # fmt: skip

    return onboarding_allowed(page.render("workshop.html", **await reads.read(read)), runtime)


@router.post("/workshop/production/{production_id}/{action}")
async def production(production_id: UUID, action: str, page: PageDep, caller: PageWorkshop, runtime: RuntimeDep,
                     hours_worked: Annotated[str, Form(max_length=10)] = "", notes: Text = "",
                     reason: Text = "") -> Response:  # fmt: skip
    """accept, start, complete (hours worked, notes) or release (reason) a production order."""
    me = caller.organisation_id
    if action == "complete":
        try:
            hours = float(hours_worked.replace(",", "."))
        except ValueError:
            raise PageError(422, page.gettext("Write the hours worked as a number, e.g. 7,5.")) from None
        if not 0 <= hours <= 10_000:
            raise PageError(422, page.gettext("Write the hours worked as a number, e.g. 7,5."))
    commands = {
        "accept": lambda app: app.accept_production(me, production_id),
        "start": lambda app: app.start_production(me, production_id),
        "complete": lambda app: app.complete_production(me, production_id, hours, notes),
        "release": lambda app: app.release_production(me, production_id, reason),
    }
    if action not in commands:
        raise PageError(404, page.gettext("There is no such page."))
    return await run_then_show(page, runtime, commands[action], HOME)


@router.post("/workshop/deliveries/{delivery_id}/{action}")
async def delivery(delivery_id: UUID, action: str, page: PageDep, caller: PageWorkshop, runtime: RuntimeDep,
                   earliest: Annotated[str, Form(max_length=20)] = "", latest: Annotated[str, Form(max_length=20)] = "",
                   received_by: Text = "", reason: Text = "") -> Response:  # fmt: skip
    """schedule (a window in Swedish time), dispatch, deliver (received by) or fail (reason) a delivery."""
    me = caller.organisation_id
    window = _window(page, earliest, latest) if action == "schedule" else None
    commands = {
        "schedule": lambda app: app.schedule_delivery(me, delivery_id, *window),  # type: ignore[misc]
        "dispatch": lambda app: app.dispatch_delivery(me, delivery_id),
        "deliver": lambda app: app.deliver(me, delivery_id, received_by),
        "fail": lambda app: app.fail_delivery(me, delivery_id, reason),
    }
    if action not in commands:
        raise PageError(404, page.gettext("There is no such page."))
    return await run_then_show(page, runtime, commands[action], HOME)


def _window(page: Any, earliest: str, latest: str) -> tuple[datetime, datetime]:
    try:
        return tuple(datetime.fromisoformat(value).replace(tzinfo=STOCKHOLM) for value in (earliest, latest))  # type: ignore[return-value]
    except ValueError:
        raise PageError(422, page.gettext("Choose when the delivery window begins and ends.")) from None

