"""The cart: kept in a cookie, changed by forms that carry a CSRF token, priced from the catalogue."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.api.support import Cast, publish
from tests.web.conftest import caught_up
from vardekedja.runtime import Runtime


def _token(page: str) -> str:
    found = re.search(r'name="csrftoken" value="([^"]+)"', page)
    assert found is not None
    return found.group(1)


def test_adding_to_the_cart_redirects_to_it_and_prices_the_line(client: TestClient, runtime: Runtime,
                                                                 cast: Cast) -> None:  # fmt: skip
    design = publish(cast.designer, title="Parkbänk Fittja", royalty_ore=250_00, production_fee_ore=6_400_00,
                     installation_fee_ore=900_00)  # fmt: skip
    caught_up(runtime)
    token = _token(client.get(f"/designs/{design['id']}").text)
    added = client.post("/cart/lines", data={"csrftoken": token, "design_id": design["id"], "quantity": "2"},
                        follow_redirects=False)  # fmt: skip
    assert added.status_code == 303 and added.headers["location"] == "/cart"
    cart = client.get("/cart").text
    assert "Parkbänk Fittja" in cart and "16 610,00 kr" in cart  # 2 × 8 305 kr
    assert "4 152,50 kr" in cart and "20 762,50 kr" in cart  # VAT and the total
    client.post("/cart/lines", data={"csrftoken": token, "design_id": design["id"], "quantity": "1"})
    assert 'value="3"' in client.get("/cart").text
    client.post(f"/cart/lines/{design['id']}", data={"csrftoken": token, "quantity": "0"})
    assert "Varukorgen är tom." in client.get("/cart").text


def test_a_form_without_its_csrf_token_is_refused(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    design = publish(cast.designer)
    caught_up(runtime)
    client.get(f"/designs/{design['id']}")  # the browser now holds the token cookie
    refused = client.post("/cart/lines", data={"design_id": design["id"], "quantity": "1"}, follow_redirects=False)
    assert refused.status_code == 403
    forged = client.post("/cart/lines", data={"csrftoken": "forged", "design_id": design["id"], "quantity": "1"},
                         follow_redirects=False)  # fmt: skip
    assert forged.status_code == 403
    assert "cart" not in client.cookies


def test_a_wrong_quantity_is_refused_with_a_page_that_says_why(client: TestClient, runtime: Runtime,
                                                               cast: Cast) -> None:  # fmt: skip
    design = publish(cast.designer)
    caught_up(runtime)
    token = _token(client.get(f"/designs/{design['id']}").text)
    for quantity in ("0", "101", "-1", "två"):
        refused = client.post("/cart/lines", data={"csrftoken": token, "design_id": design["id"], "quantity": quantity})
        assert refused.status_code == 422 and "Antalet är ett heltal från 1 till 100." in refused.text, quantity


def test_a_tampered_cart_cookie_shows_only_what_can_be_ordered(client: TestClient, runtime: Runtime,
                                                               cast: Cast) -> None:  # fmt: skip
    design = publish(cast.designer, title="Parkbänk Fittja")
    caught_up(runtime)
    client.cookies.set("cart", f"{design['id']}:2|not-a-uuid:3|00000000-0000-0000-0000-000000000000:1|{design['id']}:999")
    cart = client.get("/cart").text
    assert "Parkbänk Fittja" in cart and cart.count("<tr>") >= 1


def test_placing_an_order_without_signing_in_says_it_is_not_available_yet(client: TestClient, runtime: Runtime,
                                                                          cast: Cast) -> None:  # fmt: skip
    design = publish(cast.designer)
    caught_up(runtime)
    token = _token(client.get(f"/designs/{design['id']}").text)
    client.post("/cart/lines", data={"csrftoken": token, "design_id": design["id"], "quantity": "1"})
    cart = client.get("/cart", params={"lang": "en"}).text
    for name in ("Delivery site name", "Street", "Postal code", "Municipality", "Install", "Place order"):
        assert f">{name}<" in cart, name
    refused = client.post("/cart/order", data={"csrftoken": token, "name": "Gården", "street": "Väg 1",
                                               "postal_code": "145 57", "municipality": "Botkyrka"})  # fmt: skip
    assert refused.status_code == 401 and "Sign in to see this page" in refused.text


def test_a_cart_form_from_another_site_without_cookies_is_refused_and_other_forms_are_left_to_their_owners(
    client: TestClient, runtime: Runtime, cast: Cast
) -> None:
    design = publish(cast.designer)
    caught_up(runtime)
    client.cookies.clear()
    forged = client.post("/cart/lines", data={"design_id": design["id"], "quantity": "1"}, follow_redirects=False)
    assert forged.status_code == 403 and "cart=" not in forged.headers.get("set-cookie", "")
    client.get("/catalogue")
    # A form this token does not protect (sign-in checks its own) is not refused by it.
    assert client.post("/logout", data={"csrf_token": "theirs"}).status_code != 403
