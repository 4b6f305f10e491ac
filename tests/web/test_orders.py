"""A buyer's pages: placing the cart as an order, the orders, one order's timeline, cancelling.

Signing in is the people module's; here the signed-in caller is put in with
``dependency_overrides``, as a session would give it.
"""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.api.support import Cast, Party, place, publish
from tests.web.conftest import caught_up
from vardekedja.api.deps import Caller
from vardekedja.domain.organisation import Role
from vardekedja.runtime import Runtime
from vardekedja.web.auth import page_caller

SITE = {"name": "Fittja gård 3", "street": "Krögarvägen 12", "postal_code": "145 57", "municipality": "Botkyrka"}


def sign_in(client: TestClient, party: Party) -> None:
    client.app.dependency_overrides[page_caller] = lambda: Caller(party.id, Role(party.role), party.name)  # type: ignore[attr-defined]


def _token(client: TestClient, path: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def design(client: TestClient, runtime: Runtime, cast: Cast) -> str:
    design = publish(cast.designer, title="Parkbänk Fittja", royalty_ore=250_00, production_fee_ore=6_400_00,
                     installation_fee_ore=900_00)  # fmt: skip
    caught_up(runtime)
    return str(design["id"])


def _fill_cart(client: TestClient, design: str, quantity: int = 2) -> str:
    token = _token(client, f"/designs/{design}")
    client.post("/cart/lines", data={"csrftoken": token, "design_id": design, "quantity": str(quantity)})
    return token


def test_pages_for_signed_in_people_ask_to_sign_in(client: TestClient) -> None:
    page = client.get("/orders")
    assert page.status_code == 401 and "Logga in" in page.text and page.headers["content-type"].startswith("text/html")


def test_placing_the_cart_lands_on_the_order_with_its_timeline(client: TestClient, cast: Cast, design: str) -> None:
    sign_in(client, cast.buyer)
    token = _fill_cart(client, design)
    placed = client.post("/cart/order", data={"csrftoken": token, **SITE, "install": "1"}, follow_redirects=False)
    assert placed.status_code == 303 and re.fullmatch(r"/orders/[0-9a-f-]{36}", placed.headers["location"])
    order = client.get(placed.headers["location"], params={"lang": "en"}).text
    assert "Parkbänk Fittja" in order and "SEK 16,610.00" in order and "SEK 20,762.50" in order
    assert "Order placed" in order and "Fittja gård 3" in order and "Cancel the order" in order
    assert "Parkbänk Fittja" not in client.get("/cart").text  # the cart is emptied
    listed = client.get("/orders").text
    assert placed.headers["location"] in listed and "SEK 20,762.50" in listed


def test_a_missing_field_is_shown_beside_it_and_nothing_is_placed(client: TestClient, runtime: Runtime, cast: Cast,
                                                                  design: str) -> None:  # fmt: skip
    sign_in(client, cast.buyer)
    token = _fill_cart(client, design)
    before = runtime.marketplace.position
    refused = client.post("/cart/order", data={"csrftoken": token, **SITE, "street": "  "})
    assert refused.status_code == 422 and 'aria-describedby="street-error"' in refused.text
    assert 'value="Fittja gård 3"' in refused.text  # what was typed stays
    nowhere = client.post("/cart/order", data={"csrftoken": token, **SITE, "municipality": "Kiruna"})
    assert nowhere.status_code == 422 and "Beställningen kunde inte läggas" in nowhere.text
    assert runtime.marketplace.position == before


def test_a_buyer_cancels_a_placed_order_and_sees_it_cancelled(client: TestClient, runtime: Runtime, cast: Cast,
                                                              design: str) -> None:  # fmt: skip
    order = place(cast.buyer, (design, 1))
    caught_up(runtime)
    sign_in(client, cast.buyer)
    token = _token(client, f"/orders/{order['id']}")
    cancelled = client.post(f"/orders/{order['id']}/cancel", data={"csrftoken": token, "reason": "fel plats"})
    assert cancelled.status_code == 200 and "Beställningen är avbeställd" in cancelled.text
    assert "status-cancelled" in cancelled.text and "Avbeställ</button>" not in cancelled.text
    again = client.post(f"/orders/{order['id']}/cancel", data={"csrftoken": token})
    assert again.status_code == 409 and "Det gick inte" in again.text


def test_another_buyers_order_is_not_found_and_other_roles_are_turned_away(client: TestClient, runtime: Runtime,
                                                                           cast: Cast, design: str) -> None:  # fmt: skip
    order = place(cast.other_buyer, (design, 1), municipality="Huddinge", install=False)
    caught_up(runtime)
    sign_in(client, cast.buyer)
    assert client.get(f"/orders/{order['id']}").status_code == 404
    assert order["id"] not in client.get("/orders").text
    sign_in(client, cast.designer)
    assert client.get("/orders").status_code == 403


def test_paying_without_payments_set_up_says_so(client: TestClient, runtime: Runtime, cast: Cast, design: str) -> None:
    order = place(cast.buyer, (design, 1))
    caught_up(runtime)
    sign_in(client, cast.buyer)
    token = _token(client, f"/orders/{order['id']}")
    refused = client.post(f"/orders/{order['id']}/pay", data={"csrftoken": token})
    assert refused.status_code == 503 and "Betalningar är inte inställda" in refused.text


def test_pages_see_the_person_of_a_live_session(client: TestClient, cast: Cast) -> None:
    from types import SimpleNamespace
    from uuid import uuid4

    real = client.app.state.sessions  # type: ignore[attr-defined]

    class Sessions:  # the people module's session store, as far as pages use it
        async def session_of(self, request: object) -> object | None:
            live = request.cookies.get("vardekedja_session") == "live"  # type: ignore[attr-defined]
            return SimpleNamespace(organisation_id=cast.buyer.id, role="buyer", organisation_name=cast.buyer.name,
                                   person_id=uuid4(), csrf_token="t") if live else None  # fmt: skip

        def dispose(self) -> None:
            real.dispose()

    client.app.state.sessions = Sessions()  # type: ignore[attr-defined]
    signed_out = client.get("/orders")
    assert signed_out.status_code == 401 and 'href="/login?next=/orders"' in signed_out.text
    client.cookies.set("vardekedja_session", "live")
    signed_in = client.get("/orders")
    assert signed_in.status_code == 200 and 'href="/orders" aria-current="page"' in signed_in.text
    catalogue = client.get("/catalogue")
    assert 'href="/orders"' in catalogue.text  # public pages know who is signed in, too
