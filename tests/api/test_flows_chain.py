"""The whole value chain over HTTP, role by role, on SQLite and on PostgreSQL.

Design → order → payment → production → delivery (with one failed attempt) →
installation → fulfilled, and then the money: each party sees its own payouts,
and payouts plus the platform fee are exactly the order's amount ex VAT.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import (
    Api,
    Cast,
    Party,
    ok,
    payment_provider_confirms,
    place,
    publish,
    register_cast,
    schedule_body,
)
from vardekedja.api import create_app
from vardekedja.runtime import Runtime


@pytest.fixture
def cast(any_runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_app(runtime=any_runtime)) as client:
        yield register_cast(Api(client, any_runtime), OPERATOR_KEY, over_http=True)


def produce(workshop: Party, production_id: str) -> str:
    """Accept, start and complete a production order; return the delivery it opened."""
    path = f"/v1/production-orders/{production_id}"
    assert ok(workshop.post(f"{path}/accept"))["status"] == "accepted"
    assert ok(workshop.post(f"{path}/start"))["status"] == "in_progress"
    completed = ok(workshop.post(f"{path}/complete", json={"hours_worked": 16, "notes": "two coats of oil"}))
    assert completed["status"] == "completed"
    return str(completed["delivery_id"])


def payouts(party: Party, **params: Any) -> dict[str, Any]:
    return ok(party.get("/v1/payouts", params={"limit": 100, **params}))


def test_the_whole_chain_from_design_to_installation_settles_to_the_ore(cast: Cast) -> None:
    # Two designers publish; the buyer orders one of each, installed, in Botkyrka.
    bench = publish(cast.designer, royalty_ore=15_001, production_fee_ore=420_003, installation_fee_ore=80_001)
    table = publish(cast.other_designer, title="Picknickbord", royalty_ore=10_000, production_fee_ore=33_333,
                    installation_fee_ore=2_002)  # fmt: skip
    order = place(cast.buyer, (bench["id"], 3), (table["id"], 1))
    order_path = f"/v1/orders/{order['id']}"
    assert (order["subtotal_ore"], order["vat_ore"], order["total_ore"]) == (1_749_387, 437_347, 2_186_734)

    payment_provider_confirms(cast.buyer.api, order["id"])

    paid = ok(cast.buyer.get(order_path))
    assert paid["status"] == "paid" and paid["paid_ore"] == 2_186_734
    bench_line, table_line = paid["lines"]

    # Production: the Fittja workshop makes the bench, the Alby smithy the table.
    bench_delivery = produce(cast.workshop, bench_line["production_order_id"])
    assert ok(cast.buyer.get(order_path))["status"] == "in_production"
    table_delivery = produce(cast.other_workshop, table_line["production_order_id"])
    lines = ok(cast.buyer.get(order_path))["lines"]
    assert [line["delivery_id"] for line in lines] == [bench_delivery, table_delivery]

    # The bench's first delivery fails; it is scheduled again and arrives.
    path = f"/v1/deliveries/{bench_delivery}"
    scheduled = ok(cast.workshop.post(f"{path}/schedule", json=schedule_body()))
    assert scheduled["status"] == "scheduled" and scheduled["earliest"] is not None
    assert ok(cast.workshop.post(f"{path}/dispatch"))["status"] == "dispatched"
    failed = ok(cast.workshop.post(f"{path}/fail", json={"reason": "the courtyard gate was locked"}))
    assert failed["status"] == "failed" and failed["failures"] == 1 and failed["earliest"] is None
    assert cast.workshop.post(f"{path}/dispatch").status_code == 409
    assert ok(cast.workshop.post(f"{path}/schedule", json=schedule_body()))["status"] == "scheduled"
    ok(cast.workshop.post(f"{path}/dispatch"))
    assert cast.other_workshop.post(f"{path}/deliver", json={"received_by": "Someone"}).status_code == 404
    assert cast.area_company.post(f"{path}/install").status_code == 409  # not delivered yet
    delivered = ok(cast.workshop.post(f"{path}/deliver", json={"received_by": "Amina, caretaker"}))
    assert delivered["status"] == "delivered" and delivered["received_by"] == "Amina, caretaker"

    # Delivered, the bench owes its designer and its workshop; the area company is owed once it installs.
    designer_view = payouts(cast.designer)
    assert [(p["role"], p["amount_ore"]) for p in designer_view["items"]] == [("designer", 3 * 15_001)]
    assert designer_view["totals_ore"] == {"designer": 45_003}
    assert payouts(cast.area_company)["items"] == []
    assert cast.workshop.post(f"{path}/install").status_code == 403
    installed = ok(cast.area_company.post(f"{path}/install"))
    assert installed["status"] == "installed"
    assert ok(cast.buyer.get(order_path))["status"] == "in_production"  # the table is still on its way

    # The table travels 7.5 km by electric van, and its installation takes two and a half hours.
    path = f"/v1/deliveries/{table_delivery}"
    ok(cast.other_workshop.post(f"{path}/schedule", json=schedule_body()))
    assert cast.other_workshop.post(f"{path}/dispatch", json={"distance_km": -1}).status_code == 422
    ok(cast.other_workshop.post(f"{path}/dispatch", json={"distance_km": 7.5, "vehicle": "electric_van"}))
    ok(cast.other_workshop.post(f"{path}/deliver", json={"received_by": "Amina, caretaker"}))
    ok(cast.area_company.post(f"{path}/install", json={"hours_worked": 2.5}))
    table_trip = cast.area_company.api.runtime.marketplace.delivery(UUID(table_delivery))
    assert (table_trip.distance_km, table_trip.vehicle, table_trip.hours_worked) == (7.5, "electric_van", 2.5)

    fulfilled = ok(cast.buyer.get(order_path))
    assert fulfilled["status"] == "fulfilled"
    assert [line["delivery_id"] for line in fulfilled["lines"]] == [bench_delivery, table_delivery]
    assert [ok(cast.buyer.get(f"/v1/deliveries/{d}"))["status"] for d in (bench_delivery, table_delivery)] == [
        "installed", "installed"
    ]  # fmt: skip

    # Each party sees only its own payouts; the operator and the auditor see all of them.
    def owed(party: Party) -> list[tuple[str, int, int]]:
        return sorted((p["role"], p["line_no"], p["amount_ore"]) for p in payouts(party)["items"])

    assert owed(cast.designer) == [("designer", 1, 45_003)]
    assert owed(cast.other_designer) == [("designer", 2, 10_000)]
    assert owed(cast.workshop) == [("workshop", 1, 1_260_009)]
    assert owed(cast.other_workshop) == [("workshop", 2, 33_333)]
    assert owed(cast.area_company) == [("area_company", 1, 240_003), ("area_company", 2, 2_002)]
    assert owed(cast.buyer) == []
    everything = payouts(cast.operator, order_id=order["id"])
    assert payouts(cast.auditor, order_id=order["id"]) == everything
    assert len(everything["items"]) == 6
    for entry in everything["items"]:
        assert entry["order_id"] == order["id"] and entry["status"] == "owed" and entry["reason"]
    assert {p["party_id"] for p in everything["items"]} == {
        str(party.id) for party in (cast.designer, cast.other_designer, cast.workshop, cast.other_workshop,
                                    cast.area_company)
    }  # fmt: skip

    # The money adds up: payouts and the platform fee are the amount paid ex VAT, to the öre.
    paid_out = sum(p["amount_ore"] for p in everything["items"])
    assert paid_out + fulfilled["platform_fee_ore"] == fulfilled["subtotal_ore"] == 1_749_387
    assert fulfilled["subtotal_ore"] + fulfilled["vat_ore"] == fulfilled["paid_ore"]
    assert everything["totals_ore"] == {"designer": 55_003, "workshop": 1_293_342, "area_company": 242_005}


def test_a_delivery_is_seen_by_its_parties_and_nobody_else(cast: Cast) -> None:
    order = place(cast.buyer, (publish(cast.designer)["id"], 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    production_id = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]["production_order_id"]
    delivery = produce(cast.workshop, production_id)

    for party in (cast.workshop, cast.buyer, cast.area_company, cast.operator, cast.auditor):
        assert ok(party.get(f"/v1/deliveries/{delivery}"))["id"] == delivery, party.role
        assert [item["id"] for item in ok(party.get("/v1/deliveries"))["items"]] == [delivery], party.role
    for outsider in (cast.other_workshop, cast.other_buyer):
        assert outsider.get(f"/v1/deliveries/{delivery}").status_code == 404, outsider.name
        assert ok(outsider.get("/v1/deliveries"))["items"] == [], outsider.name
    assert cast.designer.get(f"/v1/deliveries/{delivery}").status_code == 403
    assert cast.other_workshop.post(f"/v1/deliveries/{delivery}/schedule", json=schedule_body()).status_code == 404
