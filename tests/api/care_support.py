"""Helpers for förvaltning tests: pieces delivered and installed through the application, quickly."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from tests.api.support import Cast, Party, ok, payment_provider_confirms, place, publish
from tests.chain import window
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.production import production_order_id


def installed_pieces(cast: Cast, quantity: int = 1, *, install: bool = True, **design: Any) -> list[dict[str, Any]]:
    """A design published, ordered, paid, made, delivered (and installed) in Botkyrka; the buyer's assets."""
    api = cast.buyer.api
    published = publish(cast.designer, **design)
    order = place(cast.buyer, (published["id"], quantity), install=install)
    payment_provider_confirms(api, order["id"])
    app, order_id = api.runtime.marketplace, UUID(order["id"])
    workshop = cast.workshop.id
    production, delivery = production_order_id(order_id, 1), delivery_id(order_id, 1)
    app.accept_production(workshop, production)
    app.start_production(workshop, production)
    app.complete_production(workshop, production, 8, "")
    app.schedule_delivery(workshop, delivery, *window())
    app.dispatch_delivery(workshop, delivery)
    app.deliver(workshop, delivery, "Gården")
    if install:
        app.install(cast.area_company.id, delivery)
    api.caught_up()
    return [item for item in assets_of(cast.buyer) if item["order_id"] == order["id"]]


def assets_of(party: Party) -> list[dict[str, Any]]:
    return ok(party.get("/v1/assets", params={"limit": 100}))["items"]  # type: ignore[no-any-return]
