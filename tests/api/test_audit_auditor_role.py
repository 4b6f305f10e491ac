"""The auditor reads everything and writes nothing, through the ASGI app.

Reads cover the audit log, any stream, the verification report, and every
party's orders, production orders, deliveries and payouts. Every write route
the API has (taken from the app's own OpenAPI, so a new route is covered
without touching this test) answers 403 to the auditor and records nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from tests.chain import BENCH, SITE, window
from tests.integration.audit_support import History, api_client, audited_runtime, bearer, build_history
from vardekedja.domain.production import production_order_id
from vardekedja.runtime import Runtime

# Routes that are not called with an API key at all: Stripe signs its webhook instead.
NOT_KEYED = {("post", "/v1/payments/stripe/webhook"), ("post", "/open311/v2/requests.json")}


@dataclass
class Audited:
    runtime: Runtime
    history: History
    client: TestClient

    def get(self, path: str, **params: Any) -> Any:
        response = self.client.get(path, params=params, headers=bearer(self.history.auditor_key))
        assert response.status_code == 200, f"GET {path}: {response.status_code} {response.text}"
        return response.json()

    def every(self, path: str) -> list[dict[str, Any]]:
        """Every item of a paged list, following the cursors."""
        items: list[dict[str, Any]] = []
        cursor = None
        while True:
            page = self.get(path, limit=100, **({"cursor": cursor} if cursor else {}))
            items += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                return items


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Audited]:
    with audited_runtime("sqlite", tmp_path_factory.mktemp("auditor") / "data") as runtime:
        history = build_history(runtime)
        runtime.projector.catch_up()
        with api_client(runtime) as client:
            yield Audited(runtime, history, client)


def test_the_auditor_reads_the_whole_event_log_with_every_events_hash(audited: Audited) -> None:
    head = audited.runtime.marketplace.position
    first = audited.get("/v1/audit/events", limit=50)
    rest = audited.get("/v1/audit/events", after=first["next_after"], limit=1000)

    events = first["items"] + rest["items"]
    assert [event["position"] for event in events] == list(range(1, head + 1))
    assert all(len(event["hash"]) == 64 for event in events)
    assert rest["next_after"] is None


def test_the_auditor_reads_any_stream_with_its_state(audited: Audited) -> None:
    order_id = audited.history.fulfilled

    stream = audited.get(f"/v1/audit/streams/{order_id}")

    assert stream["events"][0]["type"] == "vardekedja:Order.Placed"
    assert stream["events"][-1]["type"] == "vardekedja:Order.Fulfilled"
    assert stream["version"] == len(stream["events"])
    assert stream["state"]["status"] == "fulfilled"


def test_the_auditor_reads_the_verification_report(audited: Audited) -> None:
    report = audited.get("/v1/audit/verify")

    assert report["ok"] is True
    assert report["events_checked"] == audited.runtime.marketplace.position


def test_the_auditor_reads_every_buyers_orders(audited: Audited) -> None:
    orders = audited.every("/v1/orders")

    assert {UUID(order["id"]) for order in orders} == set(audited.history.orders)
    one = audited.get(f"/v1/orders/{audited.history.fulfilled}")
    assert one["status"] == "fulfilled"


def test_the_auditor_reads_every_production_order_and_delivery(audited: Audited) -> None:
    paid = [audited.history.fulfilled, audited.history.fulfilled_without_install, audited.history.in_production,
            audited.history.cancelled]  # fmt: skip
    production = audited.every("/v1/production-orders")
    deliveries = audited.every("/v1/deliveries")

    assert {UUID(item["id"]) for item in production} == {production_order_id(order, 1) for order in paid}
    assert {UUID(item["order_id"]) for item in deliveries} == {audited.history.fulfilled,
                                                              audited.history.fulfilled_without_install}  # fmt: skip
    assert audited.get(f"/v1/production-orders/{production[0]['id']}")["id"] == production[0]["id"]
    assert audited.get(f"/v1/deliveries/{deliveries[0]['id']}")["id"] == deliveries[0]["id"]


def test_the_auditor_reads_every_partys_payouts(audited: Audited) -> None:
    payouts = audited.every("/v1/payouts")

    cast = audited.history.cast
    assert sorted((UUID(p["party_id"]), p["role"]) for p in payouts) == sorted(
        [(cast.designer, "designer"), (cast.workshop, "workshop"), (cast.area_company, "area_company"),
         (cast.designer, "designer"), (cast.workshop, "workshop")]  # fmt: skip
    )


def write_routes(client: TestClient) -> list[tuple[str, str]]:
    schema = client.get("/openapi.json").json()
    routes = [(verb, path) for path, operations in schema["paths"].items() for verb in operations
              if verb in ("post", "put", "patch", "delete")]  # fmt: skip
    return [route for route in routes if route not in NOT_KEYED]


def filled(path: str, audited: Audited) -> str:
    """The path with real ids: the auditor's own organisation and key, and resources that exist."""
    history = audited.history
    key_id = history.auditor_key.split("_")[1]
    return path.format(
        organisation_id=history.auditor, key_id=key_id, design_id=history.design, order_id=history.unpaid,
        production_order_id=production_order_id(history.in_production, 1),
        delivery_id=audited.runtime.marketplace.delivery_for(history.fulfilled, 1).id,
        maintenance_order_id=uuid4(),
        person_id=uuid4(),  # the role is refused before anyone is looked up
    )  # fmt: skip


def body_for(path: str, audited: Audited) -> Any:
    """A body the route would accept from a party allowed to call it."""
    earliest, latest = window()
    if path == "/v1/organisations":
        return {"name": "Ny", "role": "buyer", "org_number": "556703-7485", "municipality": "Botkyrka",
                "capabilities": [], "service_area": []}  # fmt: skip
    if path.startswith("/v1/designs") and not path.endswith(("/publish", "/retire")):
        return {"title": BENCH.title, "description": "", "category": BENCH.category, "materials": ["oak"],
                "dimensions_mm": {"width": 1, "depth": 1, "height": 1}, "weight_kg": 1.0,
                "required_capabilities": ["carpentry"], "lead_time_days": 1, "licence": "CC0", "royalty_ore": 1,
                "production_fee_ore": 1, "installation_fee_ore": 0, "co2e_kg": 1.0}  # fmt: skip
    if path.endswith("/people"):
        return {"name": "Ny Medlem", "email": "ny.medlem@example.se"}
    if path == "/v1/orders":
        return {"delivery_site": {"name": SITE.name, "street": SITE.street, "postal_code": SITE.postal_code,
                                  "municipality": SITE.municipality},
                "install": True, "lines": [{"design_id": str(audited.history.design), "quantity": 1}]}  # fmt: skip
    endings = {
        "/complete": {"hours_worked": 1.0, "notes": ""}, "/schedule": {"earliest": earliest.isoformat(),
                                                                      "latest": latest.isoformat()},
        "/deliver": {"received_by": "Vaktmästaren"}, "/fail": {"reason": "stängt"}, "/release": {"reason": "sjuk"},
        "/cancel": {"reason": "ångrade"}, "/resolve": {"hours_worked": 1.0}, "/reject": {"reason": "ingen skada"},
    }  # fmt: skip
    return next((body for ending, body in endings.items() if path.endswith(ending)), None)


def test_every_write_route_refuses_the_auditor_with_403_and_records_nothing(audited: Audited) -> None:
    routes = write_routes(audited.client)
    assert len(routes) >= 19  # every write the spec lists, not a few of them
    before = audited.runtime.marketplace.position
    refused = []

    for verb, path in routes:
        url = filled(path, audited)
        response = audited.client.request(verb.upper(), url, json=body_for(path, audited),
                                          headers=bearer(audited.history.auditor_key))  # fmt: skip
        refused.append((verb.upper(), path, response.status_code))

    assert [entry for entry in refused if entry[2] != 403] == []
    assert audited.runtime.marketplace.position == before


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Audited]:
    with audited_runtime("sqlite", tmp_path / "data") as runtime:
        history = build_history(runtime)
        runtime.projector.catch_up()
        with api_client(runtime) as client:
            yield Audited(runtime, history, client)


def test_the_auditor_cannot_even_issue_or_revoke_its_own_api_keys(fresh: Audited) -> None:
    key_id = fresh.history.auditor_key.split("_")[1]
    headers = bearer(fresh.history.auditor_key)

    issued = fresh.client.post(f"/v1/organisations/{fresh.history.auditor}/api-keys", headers=headers)
    revoked = fresh.client.delete(f"/v1/organisations/{fresh.history.auditor}/api-keys/{key_id}", headers=headers)

    assert (issued.status_code, revoked.status_code) == (403, 403)
    assert fresh.client.get("/v1/me", headers=headers).status_code == 200  # the key still works
