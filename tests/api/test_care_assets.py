"""Delivered pieces become assets: who sees them, their public page and QR code, and fault reports from the page."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from tests.api.care_support import assets_of, installed_pieces
from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Cast, ok, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime


@pytest.fixture
def cast(any_runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_app(runtime=any_runtime)) as client:
        yield register_cast(Api(client, any_runtime), OPERATOR_KEY)


def test_every_delivered_piece_becomes_an_asset_with_its_own_code(cast: Cast) -> None:
    pieces = installed_pieces(cast, quantity=3)
    assert len(pieces) == 3 and len({piece["code"] for piece in pieces}) == 3
    piece = pieces[0]
    assert piece["status"] == "installed" and piece["installed_at"] is not None
    assert piece["looked_after_by"] == {"id": str(cast.area_company.id), "name": cast.area_company.name}
    assert piece["site"]["municipality"] == "Botkyrka" and piece["revision"] == 1
    # The area company looking after it, the operator and the auditor see it; other buyers and workshops do not.
    for party in (cast.area_company, cast.operator, cast.auditor):
        assert ok(party.get(f"/v1/assets/{piece['id']}"))["code"] == piece["code"]
    assert cast.other_buyer.get(f"/v1/assets/{piece['id']}").status_code == 404
    assert assets_of(cast.other_buyer) == []
    assert cast.workshop.get("/v1/assets").status_code == 403


def test_a_piece_not_installed_is_looked_after_by_the_area_company_serving_its_municipality(cast: Cast) -> None:
    (piece,) = installed_pieces(cast, install=False)
    assert piece["status"] == "delivered" and piece["installed_at"] is None
    assert piece["looked_after_by"]["id"] == str(cast.area_company.id)


def test_the_qr_code_holds_the_absolute_address_of_the_public_page(cast: Cast) -> None:
    (piece,) = installed_pieces(cast)
    response = cast.buyer.get(f"/v1/assets/{piece['id']}/qr.svg")
    assert response.status_code == 200 and response.headers["content-type"] == "image/svg+xml"
    assert response.text.lstrip().startswith("<?xml") and "<svg" in response.text
    assert cast.other_buyer.get(f"/v1/assets/{piece['id']}/qr.svg").status_code == 404


def test_qr_to_fault_report_to_resolved_as_the_buyer_sees_it(cast: Cast) -> None:
    (piece,) = installed_pieces(cast)
    client = cast.buyer.api.client
    # Someone reports it without signing in (the piece's page, /a/{code}, sends the same report: tests/web).
    sent = client.post("/open311/v2/requests.json", data={
        "service_code": "safety", "description": "A slat is loose", "website": "",
        "attribute[asset]": piece["code"].lower()})  # fmt: skip
    assert sent.status_code == 201, sent.text
    cast.buyer.api.caught_up()
    (order,) = ok(cast.area_company.get("/v1/maintenance-orders"))["items"]
    assert order["status"] == "open" and order["service_code"] == "safety" and order["asset_code"] == piece["code"]
    assert order["overdue"] is False and order["description"] == "A slat is loose"
    path = f"/v1/maintenance-orders/{order['id']}"
    assert cast.other_buyer.get(path).status_code == 404
    assert ok(cast.area_company.post(f"{path}/acknowledge"))["status"] == "acknowledged"
    assert cast.workshop.post(f"{path}/start").status_code == 403
    assert ok(cast.area_company.post(f"{path}/start"))["status"] == "in_progress"
    resolved = ok(cast.area_company.post(f"{path}/resolve", json={"hours_worked": 1.5, "materials_ore": 12_000,
                                                                  "notes": "new screws"}))  # fmt: skip
    assert resolved["status"] == "resolved" and resolved["hours_worked"] == 1.5
    assert cast.area_company.post(f"{path}/reject", json={"reason": "late"}).status_code == 409
    seen = ok(cast.buyer.get(path))
    assert seen["status"] == "resolved" and seen["materials_ore"] == 12_000 and seen["overdue"] is False


def test_a_report_goes_overdue_when_the_clock_passes_its_expected_time(cast: Cast) -> None:
    (piece,) = installed_pieces(cast)
    runtime = cast.buyer.api.runtime
    client = cast.buyer.api.client
    sent = client.post("/open311/v2/requests.json", data={
        "service_code": "safety", "description": "Broken leg", "attribute[asset]": piece["code"]})  # fmt: skip
    assert sent.status_code == 201, sent.text
    cast.buyer.api.caught_up()
    (order,) = ok(cast.buyer.get("/v1/maintenance-orders"))["items"]
    opened = runtime.clock()
    assert not order["overdue"]
    runtime.clock = lambda: opened + timedelta(hours=23)
    assert ok(cast.buyer.get("/v1/maintenance-orders", params={"overdue": "true"}))["items"] == []
    runtime.clock = lambda: opened + timedelta(hours=25)
    for party in (cast.buyer, cast.area_company, cast.operator):
        (late,) = ok(party.get("/v1/maintenance-orders", params={"overdue": "true"}))["items"]
        assert late["id"] == order["id"] and late["overdue"] is True
    # Damage is expected within 14 days, not 24 hours.
    client.post("/open311/v2/requests.json", data={
        "service_code": "damage", "description": "Scratched", "attribute[asset]": piece["code"]})  # fmt: skip
    cast.buyer.api.caught_up()
    runtime.clock = lambda: opened + timedelta(days=13)
    overdue = ok(cast.area_company.get("/v1/maintenance-orders", params={"overdue": "true"}))["items"]
    assert [item["service_code"] for item in overdue] == ["safety"]
