"""The area company's page: installing a delivered piece, and its maintenance from a fault report to resolved."""

from __future__ import annotations

import re
from uuid import UUID

from fastapi.testclient import TestClient

from tests.api.care_support import installed_pieces
from tests.api.support import SITE, Cast, payment_provider_confirms, place, publish
from tests.chain import window
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.maintenance import ServiceCode
from vardekedja.domain.production import production_order_id
from vardekedja.runtime import Runtime


def _token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_the_area_company_installs_a_delivered_piece(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    published = publish(cast.designer, title="Parkbänk Fittja")
    order = place(cast.buyer, (published["id"], 1), install=True)
    payment_provider_confirms(cast.buyer.api, order["id"])
    app, order_id, workshop = runtime.marketplace, UUID(order["id"]), cast.workshop.id
    production, delivery = production_order_id(order_id, 1), delivery_id(order_id, 1)
    app.accept_production(workshop, production)
    app.start_production(workshop, production)
    app.complete_production(workshop, production, 8, "")
    app.schedule_delivery(workshop, delivery, *window())
    app.dispatch_delivery(workshop, delivery)
    app.deliver(workshop, delivery, "Gården")
    caught_up(runtime)
    sign_in(client, cast.area_company)
    page = client.get("/area").text
    assert re.findall(r'action="/area/deliveries/([0-9a-f-]{36})/install"', page) == [str(delivery)]
    # What is to be installed and where, in words, and the button says what it does.
    assert "Parkbänk Fittja × 1" in page and f"{SITE.name}, {SITE.street}" in page and ">Installera</button>" in page
    installed = client.post(f"/area/deliveries/{delivery}/install", data={"csrftoken": _token(page)})
    assert installed.status_code == 200 and "/install" not in installed.text
    assert app.delivery(delivery).status.value == "installed"
    assert "Parkbänk Fittja (" in installed.text  # now among the pieces it looks after, with its code


def test_installing_and_looking_after_a_piece_from_the_page(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    [piece] = installed_pieces(cast, title="Parkbänk Fittja")
    caught_up(runtime)
    marketplace = runtime.marketplace
    marketplace.report_fault(UUID(piece["id"]), ServiceCode("damage"), "Ryggstödet har lossnat",
                             contact={"email": "anna@example.se"})
    caught_up(runtime)
    sign_in(client, cast.area_company)
    page = client.get("/area").text
    assert piece["code"] in page and "Ryggstödet har lossnat" in page
    assert 'href="mailto:anna@example.se"' in page  # to answer the one who reported it
    [order] = re.findall(r'action="/area/maintenance/([0-9a-f-]{36})/acknowledge"', page)
    token = _token(page)
    for action, fields in (("acknowledge", {}), ("start", {}),
                           ("resolve", {"hours_worked": "1,5", "materials": "250", "notes": "ny skruv"})):
        answer = client.post(f"/area/maintenance/{order}/{action}", data={"csrftoken": token, **fields})
        assert answer.status_code == 200, answer.text
    assert "åtgärdad" in answer.text
    resolved = marketplace.maintenance_order(UUID(order))
    assert resolved.status.value == "resolved" and resolved.materials_ore == 250_00
