"""The buyer's cart: kept in a cookie until the order is placed, so browsing needs no account.

The cookie holds only design ids and quantities (``<uuid>:<quantity>`` joined by
``|``, at most ``MAX_LINES``); titles and prices are read from the catalogue
each time the cart is shown, so a cookie can never set a price. Changes are
forms answered with a redirect (Post/Redirect/Get).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.resources import SpecificationOut
from vardekedja.domain.errors import DomainError
from vardekedja.domain.money import price_line
from vardekedja.domain.order import MAX_QUANTITY, DeliverySite, LineRequest
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.web.auth import PageBuyer
from vardekedja.web.commands import run_command, until_shown
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import Page, PageDep

router = APIRouter(include_in_schema=False)

COOKIE = "cart"
MAX_LINES = 20


def read_cart(request: Request) -> dict[UUID, int]:
    """The cart's lines from its cookie; anything malformed is left out."""
    lines: dict[UUID, int] = {}
    for part in request.cookies.get(COOKIE, "")[:2000].split("|"):
        design, _, quantity = part.partition(":")
        try:
            design_id, count = UUID(design), int(quantity)
        except ValueError:
            continue
        if 1 <= count <= MAX_QUANTITY and len(lines) < MAX_LINES:
            lines[design_id] = count
    return lines


def _saved(lines: dict[UUID, int], to: str) -> RedirectResponse:
    response = RedirectResponse(to, status_code=303)
    if lines:
        value = "|".join(f"{design_id}:{quantity}" for design_id, quantity in lines.items())
        response.set_cookie(COOKIE, value, max_age=30 * 24 * 3600, httponly=True, samesite="lax")
    else:
        response.delete_cookie(COOKIE)
    return response


def _quantity(page: Page, text: str) -> int:
    if text.strip().isdigit() and 0 <= int(text) <= MAX_QUANTITY:
        return int(text)
    raise PageError(422, page.gettext("The quantity is a whole number from 1 to %(most)d.") % {"most": MAX_QUANTITY})


async def _cart(request: Request, reads: Any, runtime: Any, install: bool) -> dict[str, Any]:
    """The cart's lines priced from the catalogue (as an order would price them), and their totals."""
    lines = read_cart(request)
    fee_rate = runtime.settings.fee_rate

    def read(connection: Connection) -> list[dict[str, Any]]:
        view, found = runtime.view(CatalogueView), []
        for design_id, quantity in lines.items():
            row = view.design(connection, design_id)
            if row is None or row["status"] != "published":
                continue  # retired since it was added, or never published: it cannot be ordered
            spec = SpecificationOut.build(row["published_revision"], row, fee_rate)
            priced = price_line(quantity=quantity, royalty_ore=spec.royalty_ore,
                                production_fee_ore=spec.production_fee_ore,
                                installation_fee_ore=spec.installation_fee_ore, install=install,
                                platform_fee_rate=fee_rate)  # fmt: skip
            found.append({"id": design_id, "title": spec.title, "quantity": quantity,
                          "unit_price_ore": priced.unit_price_ore, "amount_ore": priced.amount_ore,
                          "vat_ore": priced.vat_ore})  # fmt: skip
        return found

    found = await reads.read(read)
    totals = {name: sum(line[name] for line in found) for name in ("amount_ore", "vat_ore")}
    return {"lines": found, "totals": totals, "install": install}


@router.get("/cart", response_class=HTMLResponse)
async def show_cart(request: Request, page: PageDep, reads: ViewsDep, runtime: RuntimeDep) -> HTMLResponse:
    cart = await _cart(request, reads, runtime, install=request.query_params.get("install", "1") != "0")
    return page.render("cart.html", site={}, errors={}, problem=None, **cart)


@router.post("/cart/lines")
async def add_to_cart(
    request: Request, page: PageDep, design_id: Annotated[UUID, Form()], quantity: Annotated[str, Form()] = "1",
) -> RedirectResponse:  # fmt: skip
    """Add a design to the cart (its quantity grows if it is there already)."""
    lines = read_cart(request)
    count = _quantity(page, quantity)
    if count == 0:
        raise PageError(422, page.gettext("The quantity is a whole number from 1 to %(most)d.") % {"most": MAX_QUANTITY})
    if design_id not in lines and len(lines) >= MAX_LINES:
        raise PageError(422, page.gettext("A cart holds at most %(most)d designs.") % {"most": MAX_LINES})
    lines[design_id] = min(lines.get(design_id, 0) + count, MAX_QUANTITY)
    return _saved(lines, "/cart")


@router.post("/cart/lines/{design_id}")
async def change_line(
    request: Request, page: PageDep, design_id: UUID, quantity: Annotated[str, Form()] = "0",
) -> RedirectResponse:  # fmt: skip
    """Set a line's quantity; 0 takes it out of the cart."""
    lines = read_cart(request)
    count = _quantity(page, quantity)
    if count == 0:
        lines.pop(design_id, None)
    elif design_id in lines:
        lines[design_id] = count
    return _saved(lines, "/cart")


@router.post("/cart/order", response_class=HTMLResponse)
async def place_order(
    request: Request, page: PageDep, reads: ViewsDep, runtime: RuntimeDep, buyer: PageBuyer,
    name: Annotated[str, Form(max_length=200)] = "", street: Annotated[str, Form(max_length=200)] = "",
    postal_code: Annotated[str, Form(max_length=20)] = "", municipality: Annotated[str, Form(max_length=100)] = "",
    install: Annotated[str, Form(max_length=5)] = "",
) -> Response:  # fmt: skip
    """Place the cart as an order for the signed-in buyer and go to it; errors are shown beside their fields."""
    site_fields = {"name": name, "street": street, "postal_code": postal_code, "municipality": municipality}
    lines = [LineRequest(design_id, quantity) for design_id, quantity in read_cart(request).items()]
    problem, errors = None, {}
    if not lines:
        problem = page.gettext("The cart is empty.")
    else:
        try:
            site = DeliverySite(**site_fields)
            done = await run_command(runtime,
                                     lambda app: app.place_order(buyer.organisation_id, site, bool(install), lines))
        except DomainError as error:
            field = (error.field or "").removeprefix("delivery_site.")
            if field in site_fields:
                errors[field] = page.gettext("Fill in this field.")
            else:
                problem = page.gettext("The order could not be placed: %(reason)s") % {"reason": page.reason(error)}
        else:
            await until_shown(runtime, done.position)  # the order page then shows it
            response = RedirectResponse(f"/orders/{done.value.id}", status_code=303)
            response.delete_cookie(COOKIE)
            return response
    cart = await _cart(request, reads, runtime, install=bool(install))
    return page.render("cart.html", status=422, site=site_fields, errors=errors, problem=problem, **cart)
