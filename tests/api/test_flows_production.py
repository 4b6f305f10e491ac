"""Workshops take the production orders of paid orders: exactly one wins, then starts, completes or releases."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import (
    Api,
    Cast,
    Party,
    enrol,
    ok,
    operator_party,
    payment_provider_confirms,
    place,
    publish,
    register,
    register_cast,
)
from tests.conftest import RecordingRefunds
from vardekedja.api import create_app
from vardekedja.runtime import Runtime

RIVALS = 14


@pytest.fixture
def cast(client: TestClient, runtime: Runtime) -> Cast:
    return register_cast(Api(client, runtime), OPERATOR_KEY)


def paid_production_order(cast: Cast, *, quantity: int = 2) -> tuple[dict[str, Any], str]:
    """A paid bench order in Botkyrka and the id of its one production order."""
    order = place(cast.buyer, (publish(cast.designer)["id"], quantity))
    payment_provider_confirms(cast.buyer.api, order["id"])
    line = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]
    return order, line["production_order_id"]


def listed(party: Party, **params: Any) -> list[str]:
    return [item["id"] for item in ok(party.get("/v1/production-orders", params=params))["items"]]


def test_workshops_see_the_open_production_orders_they_are_eligible_for(cast: Cast) -> None:
    smithy = register(cast.operator, "workshop", "Tumba Smide", capabilities=["welding"], service_area=["Botkyrka"])
    far_away = register(cast.operator, "workshop", "Kiruna Trä", capabilities=["carpentry", "welding"],
                        service_area=["Kiruna"])  # fmt: skip
    _, production_id = paid_production_order(cast)

    for eligible in (cast.workshop, cast.other_workshop):
        assert listed(eligible) == [production_id]
        seen = ok(eligible.get(f"/v1/production-orders/{production_id}"))
        assert seen["status"] == "open" and seen["workshop_id"] is None
        assert seen["required_capabilities"] == ["carpentry", "welding"] and seen["quantity"] == 2
        assert seen["production_fee_ore"] == 4_200_00
    for ineligible in (smithy, far_away):
        assert listed(ineligible) == []
        assert ineligible.get(f"/v1/production-orders/{production_id}").status_code == 404
        assert ineligible.post(f"/v1/production-orders/{production_id}/accept").status_code == 404
    assert listed(cast.operator) == listed(cast.auditor) == [production_id]
    assert listed(cast.workshop, status="accepted") == []


@pytest.fixture
def rivals_app(any_runtime: Runtime) -> Iterator[Api]:
    with TestClient(create_app(runtime=any_runtime)) as client:
        yield Api(client, any_runtime)


def test_of_many_eligible_workshops_accepting_at_once_exactly_one_wins(rivals_app: Api) -> None:
    operator = operator_party(rivals_app, OPERATOR_KEY)
    designer = enrol(operator, "designer", "Studio Allmänning")
    buyer = enrol(operator, "buyer", "Botkyrkabyggen")
    enrol(operator, "area_company", "Botkyrka Områdesföretag", service_area=["Botkyrka"])
    rivals = [
        enrol(operator, "workshop", f"Verkstad {n}", capabilities=["carpentry", "welding"], service_area=["Botkyrka"])
        for n in range(RIVALS)
    ]
    order = place(buyer, (publish(designer)["id"], 1))
    payment_provider_confirms(rivals_app, order["id"])
    production_id = ok(buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]["production_order_id"]
    assert all(listed(rival) == [production_id] for rival in rivals)

    start = threading.Barrier(RIVALS)
    answers: dict[str, httpx.Response] = {}

    def accept(rival: Party) -> None:
        start.wait()
        answers[rival.name] = rival.post(f"/v1/production-orders/{production_id}/accept")

    threads = [threading.Thread(target=accept, args=(rival,)) for rival in rivals]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert Counter(response.status_code for response in answers.values()) == {200: 1, 409: RIVALS - 1}
    (winner,) = [name for name, response in answers.items() if response.status_code == 200]
    winner_id = answers[winner].json()["workshop_id"]
    assert winner_id == str(next(rival.id for rival in rivals if rival.name == winner))
    for response in answers.values():
        if response.status_code == 409:
            assert response.headers["content-type"] == "application/problem+json"
            assert "another workshop" in response.json()["detail"]
    seen = ok(operator.get(f"/v1/production-orders/{production_id}"))
    assert seen["status"] == "accepted" and seen["workshop_id"] == winner_id
    recorded = rivals_app.runtime.marketplace.events.get(UUID(production_id))
    assert [type(event).__name__ for event in recorded] == ["Opened", "Accepted"]
    losers = [rival for rival in rivals if rival.name != winner]
    assert all(listed(loser) == [] for loser in losers)


def test_starting_production_puts_the_order_in_production_and_ends_its_cancellation(cast: Cast) -> None:
    order, production_id = paid_production_order(cast)
    path = f"/v1/production-orders/{production_id}"
    ok(cast.workshop.post(f"{path}/accept"))

    assert cast.other_workshop.post(f"{path}/start").status_code == 404
    started = ok(cast.workshop.post(f"{path}/start"))

    assert started["status"] == "in_progress" and started["workshop_id"] == str(cast.workshop.id)
    assert ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["status"] == "in_production"
    refused = cast.buyer.post(f"/v1/orders/{order['id']}/cancel")
    assert refused.status_code == 409
    assert "production has started" in refused.json()["detail"]
    assert cast.workshop.post(f"{path}/start").status_code == 409


def test_completing_production_opens_its_delivery(cast: Cast) -> None:
    order, production_id = paid_production_order(cast)
    path = f"/v1/production-orders/{production_id}"
    ok(cast.workshop.post(f"{path}/accept"))
    ok(cast.workshop.post(f"{path}/start"))

    completed = ok(cast.workshop.post(f"{path}/complete", json={"hours_worked": 12.5, "notes": "oiled twice"}))

    assert completed["status"] == "completed" and completed["delivery_id"] is not None
    assert (completed["hours_worked"], completed["notes"]) == (12.5, "oiled twice")
    assert ok(cast.workshop.get(path))["delivery_id"] == completed["delivery_id"]
    assert ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]["delivery_id"] == completed["delivery_id"]
    delivery = ok(cast.workshop.get(f"/v1/deliveries/{completed['delivery_id']}"))
    assert delivery["status"] == "pending" and delivery["production_order_id"] == production_id
    assert delivery["workshop_id"] == str(cast.workshop.id)
    assert cast.workshop.post(f"{path}/complete", json={"hours_worked": 1, "notes": ""}).status_code == 409


def test_completing_before_starting_is_a_conflict(cast: Cast) -> None:
    _, production_id = paid_production_order(cast)
    path = f"/v1/production-orders/{production_id}"
    ok(cast.workshop.post(f"{path}/accept"))

    response = cast.workshop.post(f"{path}/complete", json={"hours_worked": 3, "notes": ""})

    assert response.status_code == 409


def test_a_released_production_order_returns_to_the_pool_and_another_workshop_takes_it(cast: Cast) -> None:
    _, production_id = paid_production_order(cast)
    path = f"/v1/production-orders/{production_id}"
    ok(cast.workshop.post(f"{path}/accept"))
    assert listed(cast.other_workshop) == []
    assert cast.other_workshop.post(f"{path}/accept").status_code == 409

    released = ok(cast.workshop.post(f"{path}/release", json={"reason": "our CNC broke down"}))

    assert released["status"] == "open" and released["workshop_id"] is None
    assert listed(cast.other_workshop, status="open") == [production_id]
    taken = ok(cast.other_workshop.post(f"{path}/accept"))
    assert taken["workshop_id"] == str(cast.other_workshop.id)
    assert cast.workshop.post(f"{path}/start").status_code == 404
    assert listed(cast.workshop) == []


def test_cancelling_a_paid_order_refunds_it_in_full_and_cancels_its_production_orders(cast: Cast) -> None:
    order, production_id = paid_production_order(cast)
    refunds = RecordingRefunds()
    cast.buyer.api.runtime.marketplace.payments = refunds  # stands in for the payment provider's refunds

    cancelled = ok(cast.buyer.post(f"/v1/orders/{order['id']}/cancel"))

    assert cancelled["status"] == "cancelled" and cancelled["refunded_ore"] == order["total_ore"]
    assert [amount for _, amount, _ in refunds.calls] == [order["total_ore"]]
    assert ok(cast.operator.get(f"/v1/production-orders/{production_id}"))["status"] == "cancelled"
    assert cast.workshop.post(f"/v1/production-orders/{production_id}/accept").status_code == 409


def test_cancelling_a_paid_order_with_no_payment_provider_is_refused_and_writes_nothing(cast: Cast) -> None:
    order, _ = paid_production_order(cast)
    before = cast.buyer.api.runtime.marketplace.position

    response = cast.buyer.post(f"/v1/orders/{order['id']}/cancel")

    assert response.status_code == 503
    assert cast.buyer.api.runtime.marketplace.position == before
    assert ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["status"] == "paid"
