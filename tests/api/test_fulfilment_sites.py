"""Where a piece goes: the workshop holding its production order and the parties to its delivery learn the
delivery site; a workshop that may only take the order, and anyone outside the order, do not. A delivery
window that is over before it is set is refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import Api, Cast, ok, payment_provider_confirms, place, publish, register_cast, schedule_body
from tests.chain import SITE
from vardekedja.api import create_app
from vardekedja.runtime import Runtime

WHOLE_SITE = {"name": SITE.name, "street": SITE.street, "postal_code": SITE.postal_code,
              "municipality": SITE.municipality}  # fmt: skip


@pytest.fixture
def cast(any_runtime: Runtime) -> Iterator[Cast]:
    with TestClient(create_app(runtime=any_runtime)) as client:
        yield register_cast(Api(client, any_runtime), OPERATOR_KEY)


def paid(cast: Cast) -> tuple[dict[str, Any], str]:
    order = place(cast.buyer, (publish(cast.designer)["id"], 1))
    payment_provider_confirms(cast.operator.api, order["id"])
    production_id = ok(cast.buyer.get(f"/v1/orders/{order['id']}"))["lines"][0]["production_order_id"]
    return order, production_id


def test_the_workshop_holding_a_production_order_sees_where_it_goes_and_the_others_only_the_municipality(
    cast: Cast,
) -> None:
    _, production_id = paid(cast)
    path = f"/v1/production-orders/{production_id}"

    before = ok(cast.other_workshop.get(path))  # eligible, may take it: sees the municipality only
    accepted = ok(cast.workshop.post(f"{path}/accept"))
    held = ok(cast.workshop.get(path))
    listed = ok(cast.workshop.get("/v1/production-orders"))["items"]
    rival = cast.other_workshop.get(path)
    overseen = ok(cast.operator.get(path))

    assert before["delivery_site"] is None and before["municipality"] == SITE.municipality
    assert accepted["delivery_site"] == WHOLE_SITE  # the answer to accepting says it at once
    assert held["delivery_site"] == WHOLE_SITE
    assert [item["delivery_site"] for item in listed if item["id"] == production_id] == [WHOLE_SITE]
    assert rival.status_code == 404  # taken: no longer the other workshop's to see at all
    assert overseen["delivery_site"] == WHOLE_SITE


def test_a_released_production_order_keeps_its_site_from_the_workshop_that_let_it_go(cast: Cast) -> None:
    _, production_id = paid(cast)
    path = f"/v1/production-orders/{production_id}"
    ok(cast.workshop.post(f"{path}/accept"))

    released = ok(cast.workshop.post(f"{path}/release", json={"reason": "a machine broke"}))
    again = ok(cast.workshop.get(path))

    assert released["delivery_site"] is None and again["delivery_site"] is None


def test_the_delivering_workshop_the_installing_area_company_and_the_buyer_see_the_site_on_the_delivery(
    cast: Cast,
) -> None:
    _, production_id = paid(cast)
    path = f"/v1/production-orders/{production_id}"
    for step in ("accept", "start"):
        ok(cast.workshop.post(f"{path}/{step}"))
    delivery_id = ok(cast.workshop.post(f"{path}/complete", json={"hours_worked": 4, "notes": ""}))["delivery_id"]

    scheduled = ok(cast.workshop.post(f"/v1/deliveries/{delivery_id}/schedule", json=schedule_body()))

    assert scheduled["delivery_site"] == WHOLE_SITE
    for party in (cast.workshop, cast.area_company, cast.buyer, cast.auditor):
        assert ok(party.get(f"/v1/deliveries/{delivery_id}"))["delivery_site"] == WHOLE_SITE
        listed = ok(party.get("/v1/deliveries"))["items"]
        assert [item["delivery_site"] for item in listed if item["id"] == delivery_id] == [WHOLE_SITE]
    for stranger in (cast.other_workshop, cast.other_buyer):
        assert stranger.get(f"/v1/deliveries/{delivery_id}").status_code == 404
        assert ok(stranger.get("/v1/deliveries"))["items"] == []


def test_a_delivery_window_that_is_already_over_is_refused(cast: Cast) -> None:
    _, production_id = paid(cast)
    path = f"/v1/production-orders/{production_id}"
    for step in ("accept", "start"):
        ok(cast.workshop.post(f"{path}/{step}"))
    delivery_id = ok(cast.workshop.post(f"{path}/complete", json={"hours_worked": 4, "notes": ""}))["delivery_id"]
    earliest = datetime(2020, 3, 2, 8, tzinfo=timezone.utc)
    now = datetime.now(timezone.utc)

    past = cast.workshop.post(f"/v1/deliveries/{delivery_id}/schedule",
                              json={"earliest": earliest.isoformat(), "latest": (earliest + timedelta(hours=4)).isoformat()})
    running = cast.workshop.post(f"/v1/deliveries/{delivery_id}/schedule",
                                 json={"earliest": (now - timedelta(hours=1)).isoformat(),
                                       "latest": (now + timedelta(hours=3)).isoformat()})  # fmt: skip

    assert past.status_code == 422, past.text
    assert past.json()["errors"][0]["field"] == "latest" and "over" in past.json()["detail"]
    assert running.status_code == 200, running.text  # a window under way is still a window
    assert ok(cast.workshop.get(f"/v1/deliveries/{delivery_id}"))["status"] == "scheduled"
