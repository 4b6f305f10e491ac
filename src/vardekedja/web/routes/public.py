"""Public pages: the start page, the catalogue and a design, readable without signing in.

They read the same catalogue view with the same queries as ``GET /v1/catalogue``
and ``GET /v1/designs/{id}``, and price with the same functions.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse
from sqlalchemy.engine import Connection

from vardekedja.api.deps import RuntimeDep, ViewsDep
from vardekedja.api.resources import SpecificationOut
from vardekedja.domain.money import price_line
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.paging import InvalidCursorError
from vardekedja.web.errors import PageError
from vardekedja.web.rendering import PageDep, fragment_or_page

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Query(max_length=200)]
FIRST_PAGE = 12


@router.get("/", response_class=HTMLResponse)
async def home(page: PageDep, reads: ViewsDep, runtime: RuntimeDep) -> HTMLResponse:
    fee_rate = runtime.settings.fee_rate

    def read(connection: Connection) -> list[dict[str, Any]]:
        found = runtime.view(CatalogueView).search_published(connection, fee_rate=fee_rate, limit=6)
        return _cards(connection, runtime, found.items, fee_rate)

    return page.render("home.html", designs=await reads.read(read))


@router.get("/catalogue", response_class=HTMLResponse)
async def catalogue(
    page: PageDep, reads: ViewsDep, runtime: RuntimeDep,
    q: Text = "", category: Text = "", material: Text = "", capability: Text = "", municipality: Text = "",
    max_price: Annotated[str, Query(max_length=20)] = "", cursor: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:  # fmt: skip
    """Search and filter the published designs, as ``GET /v1/catalogue`` does (the price filter in kronor)."""
    fee_rate = runtime.settings.fee_rate
    errors: dict[str, str] = {}
    max_price_ore = None
    if max_price.strip():
        digits = max_price.replace(" ", "").replace("\u00a0", "")
        if digits.isdigit() and len(digits) <= 10:
            max_price_ore = int(digits) * 100
        else:
            errors["max_price"] = page.gettext("Write the highest price in whole kronor, e.g. 12000.")
    filters = {"q": q, "category": category, "material": material, "capability": capability,
               "municipality": municipality, "max_price": max_price}  # fmt: skip

    def read(connection: Connection) -> dict[str, Any]:
        view = runtime.view(CatalogueView)
        try:
            found = view.search_published(
                connection, fee_rate=fee_rate, q=q or None, category=category or None, material=material or None,
                capability=capability or None, municipality=municipality or None, max_unit_price_ore=max_price_ore,
                limit=FIRST_PAGE, cursor=cursor or None,
            )  # fmt: skip
        except InvalidCursorError:
            raise PageError(400, page.gettext("That link to a further page is not valid; start again from the catalogue.")) from None
        return {"designs": _cards(connection, runtime, found.items, fee_rate), "next_cursor": found.next_cursor,
                "facets": view.facets(connection)}  # fmt: skip

    found = await reads.read(read)
    return fragment_or_page(page, "_catalogue_results.html", "catalogue.html", filters=filters, errors=errors,
                            **found)  # fmt: skip


@router.get("/designs/{design_id}", response_class=HTMLResponse)
async def design(
    design_id: UUID, page: PageDep, reads: ViewsDep, runtime: RuntimeDep, municipality: Text = "",
) -> HTMLResponse:  # fmt: skip
    """A published design: what it is, what it costs, and how many workshops can make it where."""
    fee_rate = runtime.settings.fee_rate

    def read(connection: Connection) -> dict[str, Any]:
        view = runtime.view(CatalogueView)
        row = view.design(connection, design_id)
        if row is None or row["published_revision"] is None:
            raise PageError(404, page.gettext("There is no such design in the catalogue."))
        able = view.able_workshops(connection, design_id, municipality) if municipality.strip() else None
        pictures = view.media_of(connection, design_id, row["published_revision"], kind="picture")
        return {"design": _details(row, fee_rate, pictures), "able": able,
                "municipalities": view.facets(connection)["municipality"]}  # fmt: skip

    found = await reads.read(read)
    return fragment_or_page(page, "_able_workshops.html", "design.html", municipality=municipality, **found)


@router.get("/patterns", response_class=HTMLResponse)
async def patterns(page: PageDep) -> HTMLResponse:
    """Every component of the UI on one page (a living style guide)."""
    sample = {
        "id": UUID(int=1), "title": "Parkbänk Fittja", "category": "bench", "materials": ["oak", "steel"],
        "unit_price_ore": 823_900, "lead_time_days": 21, "status": "published", "picture": None,
    }  # fmt: skip
    return page.render("patterns.html", design=sample, now=datetime.now(timezone.utc), filters={"q": "bänk", "max_price": "12x"},
                       errors={"max_price": page.gettext("Write the highest price in whole kronor, e.g. 12000.")},
                       facets={"category": ["bench"], "material": ["oak"], "capability": ["welding"],
                               "municipality": ["botkyrka"]})  # fmt: skip


def picture_url(media: dict[str, Any], size: str) -> str:
    return f"/v1/designs/{media['design_id']}/media/{media['id']}?size={size}"


def _cards(connection: Connection, runtime: Any, rows: list[dict[str, Any]], fee_rate: Any) -> list[dict[str, Any]]:
    pictures = runtime.view(CatalogueView).first_pictures(connection, {r["id"]: r["published_revision"] for r in rows})
    return [_card(row, fee_rate, pictures.get(row["id"])) for row in rows]


def _card(row: dict[str, Any], fee_rate: Any, picture: dict[str, Any] | None) -> dict[str, Any]:
    spec = SpecificationOut.build(row["published_revision"], row, fee_rate)
    return {"id": row["id"], "title": spec.title, "category": spec.category, "materials": spec.materials,
            "unit_price_ore": spec.unit_price_ore, "lead_time_days": spec.lead_time_days, "status": row["status"],
            "picture": picture_url(picture, "thumb") if picture else None}  # fmt: skip


def _details(row: dict[str, Any], fee_rate: Any, pictures: list[dict[str, Any]]) -> dict[str, Any]:
    spec = SpecificationOut.build(row["published_revision"], row, fee_rate)

    def prices(install: bool) -> dict[str, int]:
        line = price_line(quantity=1, royalty_ore=spec.royalty_ore, production_fee_ore=spec.production_fee_ore,
                          installation_fee_ore=spec.installation_fee_ore, install=install, platform_fee_rate=fee_rate)
        return {"ex_vat": line.amount_ore, "vat": line.vat_ore, "inc_vat": line.amount_ore + line.vat_ore}

    return {"id": row["id"], "status": row["status"], "spec": spec, "installed": prices(True),
            "delivered": prices(False),
            "pictures": [{"medium": picture_url(p, "medium"), "large": picture_url(p, "large")} for p in pictures]}
