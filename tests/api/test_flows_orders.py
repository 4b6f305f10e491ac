"""A buyer places orders priced to the öre, is told which line cannot be made, and cancels before production."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import (
    POSITION,
    Api,
    Cast,
    design_body,
    ok,
    order_body,
    payment_provider_confirms,
    place,
    publish,
    register_cast,
)
from vardekedja.runtime import Runtime


@pytest.fixture
def cast(client: TestClient, runtime: Runtime) -> Cast:
    return register_cast(Api(client, runtime), OPERATOR_KEY)


def tricky_designs(cast: Cast) -> tuple[str, str]:
    """Two designs whose platform fee and VAT both land on a half öre."""
    # 150.01 + 4 200.03 + 800.01 kr = 5 150.05 kr: the 10 % fee is 515.005 kr -> 515.01 kr.
    bench = publish(cast.designer, royalty_ore=15_001, production_fee_ore=420_003, installation_fee_ore=80_001)
    # 100.00 + 333.33 + 20.02 kr = 453.35 kr: the fee is 45.335 kr -> 45.34 kr.
    table = publish(cast.other_designer, title="Picknickbord", royalty_ore=10_000, production_fee_ore=33_333,
                    installation_fee_ore=2_002)  # fmt: skip
    return bench["id"], table["id"]


def test_an_order_freezes_unit_prices_platform_fee_and_vat_per_line_to_the_ore(cast: Cast) -> None:
    bench, table = tricky_designs(cast)

    response = cast.buyer.post("/v1/orders", json=order_body((bench, 3), (table, 1)))

    order = ok(response, 201)
    assert int(response.headers[POSITION]) == cast.buyer.api.runtime.marketplace.position
    assert order["status"] == "placed" and order["install"] is True
    assert order["buyer_id"] == str(cast.buyer.id) and order["area_company_id"] == str(cast.area_company.id)
    first, second = order["lines"]
    assert (first["line_no"], first["design_id"], first["revision"], first["quantity"]) == (1, bench, 1, 3)
    assert first["unit_price_ore"] == 515_005 + 51_501
    assert first["platform_fee_ore"] == 3 * 51_501
    assert first["amount_ore"] == 3 * 566_506 == 1_699_518
    assert first["vat_ore"] == 424_880  # 424 879.5 rounded half-up
    assert (second["line_no"], second["design_id"], second["quantity"]) == (2, table, 1)
    assert second["unit_price_ore"] == 45_335 + 4_534
    assert second["platform_fee_ore"] == 4_534
    assert second["amount_ore"] == 49_869
    assert second["vat_ore"] == 12_467  # 12 467.25 rounded half-up
    assert order["subtotal_ore"] == 1_699_518 + 49_869
    assert order["vat_ore"] == 424_880 + 12_467
    assert order["total_ore"] == 1_749_387 + 437_347
    assert order["platform_fee_ore"] == 154_503 + 4_534
    assert order["paid_ore"] == 0 and order["refunded_ore"] == 0
    assert all(line["production_order_id"] is None and line["delivery_id"] is None for line in order["lines"])
    seen = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))
    assert {k: v for k, v in seen.items() if k != "timeline"} == order


def test_an_order_without_installation_leaves_out_the_installation_fee(cast: Cast) -> None:
    bench, _ = tricky_designs(cast)

    order = place(cast.buyer, (bench, 2), install=False)

    (line,) = order["lines"]
    assert line["installation_fee_ore"] == 0
    assert line["unit_price_ore"] == 435_004 + 43_500  # the fee on 4 350.04 kr is 435.004 kr -> 435.00 kr
    assert line["amount_ore"] == 957_008 and line["vat_ore"] == 239_252
    assert order["area_company_id"] is None and order["total_ore"] == 1_196_260


def test_an_order_no_workshop_can_make_is_refused_naming_the_line(cast: Cast) -> None:
    bench = publish(cast.designer)
    sofa = publish(cast.other_designer, title="Soffa Tumba", required_capabilities=["upholstery"])
    before = cast.buyer.api.runtime.marketplace.position

    response = cast.buyer.post("/v1/orders", json=order_body((bench["id"], 1), (sofa["id"], 2)))

    assert response.status_code == 422
    problem = response.json()
    assert "line 2" in problem["detail"] and "upholstery" in problem["detail"]
    assert problem["errors"] == [{"field": "lines.1.design_id", "message": problem["detail"]}]
    assert cast.buyer.api.runtime.marketplace.position == before


def test_an_order_outside_every_workshops_service_area_is_refused(cast: Cast) -> None:
    bench = publish(cast.designer)

    response = cast.buyer.post("/v1/orders", json=order_body((bench["id"], 1), install=False, municipality="Kiruna"))

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "lines.0.design_id"
    assert "Kiruna" in response.json()["detail"]


def test_an_order_to_install_where_no_area_company_works_is_refused(cast: Cast) -> None:
    bench = publish(cast.designer)  # the Fittja workshop also serves Huddinge; no area company does

    refused = cast.buyer.post("/v1/orders", json=order_body((bench["id"], 1), install=True, municipality="Huddinge"))

    assert refused.status_code == 422
    assert refused.json()["errors"][0]["field"] == "install"
    assert "Huddinge" in refused.json()["detail"]
    assert place(cast.buyer, (bench["id"], 1), install=False, municipality="Huddinge")["status"] == "placed"


def test_an_order_naming_an_unknown_or_unpublished_design_is_refused(cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body()), 201)

    unknown = cast.buyer.post("/v1/orders", json=order_body(("6d1f6b4e-1111-4a5b-9c3d-2e8f9a0b1c2d", 1)))
    unpublished = cast.buyer.post("/v1/orders", json=order_body((draft["id"], 1)))

    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "lines.0.design_id"
    assert unpublished.status_code == 422 and unpublished.json()["errors"][0]["field"].startswith("lines.0")


def test_a_buyer_cancels_a_placed_order(cast: Cast) -> None:
    bench = publish(cast.designer)
    order = place(cast.buyer, (bench["id"], 1))
    path = f"/v1/orders/{order['id']}"

    assert cast.other_buyer.post(f"{path}/cancel").status_code == 404
    cancelled = ok(cast.buyer.post(f"{path}/cancel", json={"reason": "budget moved to next year"}))

    assert cancelled["status"] == "cancelled"
    assert ok(cast.buyer.get(path))["status"] == "cancelled"
    again = cast.buyer.post(f"{path}/cancel")
    assert again.status_code == 409 and "cancelled" in again.json()["detail"]


def test_a_buyer_lists_only_its_own_orders_newest_first(cast: Cast) -> None:
    bench = publish(cast.designer)
    mine = [place(cast.buyer, (bench["id"], n))["id"] for n in (1, 2, 3)]
    theirs = place(cast.other_buyer, (bench["id"], 1))["id"]

    listed = ok(cast.buyer.get("/v1/orders"))

    assert [item["id"] for item in listed["items"]] == mine[::-1]
    assert listed["next_cursor"] is None
    assert cast.other_buyer.get(f"/v1/orders/{mine[0]}").status_code == 404
    everyone = [item["id"] for item in ok(cast.operator.get("/v1/orders"))["items"]]
    assert everyone == [theirs, *mine[::-1]]
    assert [item["id"] for item in ok(cast.auditor.get("/v1/orders", params={"status": "placed"}))["items"]] == everyone


def test_a_paid_order_shows_a_production_order_on_every_line(cast: Cast) -> None:
    bench = publish(cast.designer)
    order = place(cast.buyer, (bench["id"], 2))

    payment_provider_confirms(cast.buyer.api, order["id"])

    paid = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))
    assert paid["status"] == "paid" and paid["paid_ore"] == paid["total_ore"] == order["total_ore"]
    (line,) = paid["lines"]
    assert line["production_order_id"] is not None and line["delivery_id"] is None
    assert ok(cast.operator.get(f"/v1/production-orders/{line['production_order_id']}"))["status"] == "open"
    events = [entry["kind"] for entry in paid["timeline"]]
    assert events[0] == "placed" and "paid" in events
    assert [entry["position"] for entry in paid["timeline"]] == sorted(entry["position"] for entry in paid["timeline"])
