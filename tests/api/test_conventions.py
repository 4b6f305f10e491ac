"""The conventions every route keeps: problem documents, strict bodies, size limits, idempotency,
read-your-writes, paging, and the operational endpoints."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import (
    MIN_POSITION,
    POSITION,
    Api,
    Cast,
    Party,
    design_body,
    ok,
    order_body,
    payment_provider_confirms,
    place,
    publish,
    register,
    register_cast,
    schedule_body,
)
from tests.chain import window
from vardekedja.api import create_app
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.organisation import Role
from vardekedja.domain.payout import payout_id
from vardekedja.domain.production import production_order_id
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

PROBLEM_JSON = "application/problem+json"
MIB = 1 << 20
NOWHERE = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Runtime]:
    """One world for this module: every test here measures what it changes, so they can share it."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("conventions"), database_url=None, operator_key=OPERATOR_KEY)
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime=runtime)) as client:
        yield client


@pytest.fixture(scope="module")
def cast(client: TestClient, runtime: Runtime) -> Cast:
    return register_cast(Api(client, runtime), OPERATOR_KEY)


@pytest.fixture(scope="module")
def design(cast: Cast) -> str:
    return str(publish(cast.designer)["id"])


def head(cast: Cast) -> int:
    return cast.operator.api.runtime.marketplace.position  # type: ignore[no-any-return]


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    problem = response.json()
    assert isinstance(problem["type"], str) and problem["type"]
    assert isinstance(problem["title"], str) and problem["title"]
    assert problem["status"] == status
    assert isinstance(problem["detail"], str) and problem["detail"]
    if status == 422:
        assert problem["errors"], "a 422 names the offending fields"
        for error in problem["errors"]:
            assert set(error) == {"field", "message"} and error["field"] and error["message"]
    else:
        assert "errors" not in problem
    return problem  # type: ignore[no-any-return]


def fields(response: httpx.Response) -> list[str]:
    return [error["field"] for error in assert_problem(response, 422)["errors"]]


# Problem documents.


def test_every_kind_of_error_is_a_problem_document(client: TestClient, cast: Cast, design: str) -> None:
    order = place(cast.buyer, (design, 1))
    ok(cast.buyer.post(f"/v1/orders/{order['id']}/cancel"))

    assert_problem(client.get("/v1/me"), 401)
    assert_problem(cast.designer.post("/v1/orders", json=order_body((design, 1))), 403)
    assert_problem(cast.other_buyer.get(f"/v1/orders/{order['id']}"), 404)
    assert_problem(cast.buyer.post(f"/v1/orders/{order['id']}/cancel"), 409)
    assert_problem(cast.buyer.post("/v1/orders", json=order_body((design, 0))), 422)
    assert_problem(client.get("/v1/no-such-thing"), 404)
    assert_problem(client.delete("/v1/catalogue"), 405)


def test_a_domain_refusal_names_the_field_at_fault(cast: Cast) -> None:
    draft = ok(cast.designer.post("/v1/designs", json=design_body(materials=[])), 201)

    response = cast.designer.post(f"/v1/designs/{draft['id']}/publish")

    assert fields(response) == ["materials"]


@pytest.mark.parametrize(
    "authorization",
    [None, "Basic dXNlcjpwYXNz", "Bearer", "Bearer not-a-key", "Bearer vk_0123456789abcdef_" + "x" * 43],
    ids=["no header", "another scheme", "no key", "malformed key", "unknown key"],
)
def test_a_missing_or_bad_key_is_401_with_a_bearer_challenge(client: TestClient, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    response = client.get("/v1/me", headers=headers)

    assert_problem(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


# Strict request bodies and parameters.


def production_path(verb: str) -> str:
    return f"/v1/production-orders/{NOWHERE}/{verb}"


@pytest.mark.parametrize(
    ("who", "path", "body", "field"),
    [
        ("designer", "/v1/designs", design_body(colour="green"), "colour"),
        ("designer", "/v1/designs", design_body(dimensions_mm={"width": 1, "depth": 1, "height": 1, "radius": 2}),
         "dimensions_mm.radius"),
        ("buyer", "/v1/orders", {**order_body((NOWHERE, 1)), "coupon": "FREE"}, "coupon"),
        ("buyer", "/v1/orders", {**order_body((NOWHERE, 1)), "lines": [{"design_id": NOWHERE, "quantity": 1,
                                                                        "discount": 50}]}, "lines.0.discount"),
        ("operator", "/v1/organisations", {"name": "X", "role": "buyer", "org_number": "556016-0680",
                                           "municipality": "Botkyrka", "is_admin": True}, "is_admin"),
        ("workshop", production_path("complete"), {"hours_worked": 1, "notes": "", "bonus_ore": 100}, "bonus_ore"),
        ("workshop", f"/v1/deliveries/{NOWHERE}/schedule", {**schedule_body(), "driver": "Ali"}, "driver"),
    ],
    ids=["design", "nested dimensions", "order", "order line", "organisation", "complete", "schedule"],
)  # fmt: skip
def test_unknown_fields_are_refused_by_name(cast: Cast, who: str, path: str, body: Any, field: str) -> None:
    before = head(cast)

    response = getattr(cast, who).post(path, json=body)

    assert field in fields(response)
    assert head(cast) == before


@pytest.mark.parametrize(
    ("who", "path", "body", "field"),
    [
        ("designer", "/v1/designs", design_body(title="Bänk\x00"), "title"),
        ("designer", "/v1/designs", design_body(description="oak\x00"), "description"),
        ("designer", "/v1/designs", design_body(materials=["oak", "st\x00eel"]), "materials.1"),
        ("buyer", "/v1/orders", {**order_body((NOWHERE, 1)), "delivery_site": {
            "name": "Gården", "street": "Torget\x00 1", "postal_code": "145 51", "municipality": "Botkyrka"}},
         "delivery_site.street"),
        ("operator", "/v1/organisations", {"name": "\x00", "role": "buyer", "org_number": "556016-0680",
                                           "municipality": "Botkyrka"}, "name"),
        ("workshop", production_path("complete"), {"hours_worked": 1, "notes": "\x00"}, "notes"),
        ("workshop", f"/v1/deliveries/{NOWHERE}/deliver", {"received_by": "Amina\x00"}, "received_by"),
    ],
    ids=["title", "description", "a material", "street", "organisation name", "notes", "received by"],
)  # fmt: skip
def test_strings_with_nul_bytes_are_refused(cast: Cast, who: str, path: str, body: Any, field: str) -> None:
    before = head(cast)

    response = getattr(cast, who).post(path, json=body)

    assert field in fields(response)
    assert head(cast) == before


def test_a_nul_byte_in_a_query_parameter_is_refused(cast: Cast) -> None:
    assert fields(cast.buyer.get("/v1/catalogue", params={"q": "bänk\x00"})) == ["q"]


@pytest.mark.parametrize(
    ("who", "path", "body", "field"),
    [
        ("buyer", "/v1/orders", order_body((NOWHERE, 0)), "lines.0.quantity"),
        ("buyer", "/v1/orders", order_body((NOWHERE, 101)), "lines.0.quantity"),
        ("buyer", "/v1/orders", order_body((NOWHERE, 10**30)), "lines.0.quantity"),
        ("buyer", "/v1/orders", {**order_body((NOWHERE, 1)), "lines": [{"design_id": NOWHERE, "quantity": 1.5}]},
         "lines.0.quantity"),
        ("buyer", "/v1/orders", {**order_body((NOWHERE, 1)), "lines": [{"design_id": NOWHERE, "quantity": 1,
                                                                        "revision": 0}]}, "lines.0.revision"),
        ("designer", "/v1/designs", design_body(royalty_ore=-1), "royalty_ore"),
        ("designer", "/v1/designs", design_body(production_fee_ore=100_000_000_01), "production_fee_ore"),
        ("designer", "/v1/designs", design_body(lead_time_days=3651), "lead_time_days"),
        ("designer", "/v1/designs", design_body(dimensions_mm={"width": 0, "depth": 1, "height": 1}),
         "dimensions_mm.width"),
        ("workshop", production_path("complete"), {"hours_worked": -1, "notes": ""}, "hours_worked"),
    ],
    ids=["quantity 0", "quantity 101", "quantity 10**30", "fractional quantity", "revision 0", "negative royalty",
         "fee too large", "lead time too long", "zero width", "negative hours"],
)  # fmt: skip
def test_numbers_out_of_range_are_refused(cast: Cast, who: str, path: str, body: Any, field: str) -> None:
    before = head(cast)

    response = getattr(cast, who).post(path, json=body)

    assert field in fields(response)
    assert head(cast) == before


@pytest.mark.parametrize(
    ("params", "headers", "field"),
    [
        ({"limit": 0}, {}, "limit"),
        ({"limit": 101}, {}, "limit"),
        ({"max_unit_price_ore": -1}, {}, "max_unit_price_ore"),
        ({}, {MIN_POSITION: "-1"}, MIN_POSITION),
        ({}, {MIN_POSITION: str(2**63)}, MIN_POSITION),
    ],
    ids=["limit 0", "limit 101", "negative price", "negative min position", "min position too large"],
)
def test_query_and_header_numbers_out_of_range_are_refused(
    cast: Cast, params: dict[str, Any], headers: dict[str, str], field: str
) -> None:
    response = cast.buyer.get("/v1/catalogue", params=params, headers=headers)

    assert [name.lower() for name in fields(response)] == [field.lower()]


def test_a_body_that_is_not_json_is_refused(cast: Cast) -> None:
    response = cast.designer.post("/v1/designs", content=b'{"title": ', headers={"Content-Type": "application/json"})

    assert_problem(response, 422)


# Size limits: over 1 MiB is refused before anything is read into the application.


def oversized_organisation() -> bytes:
    return b'{"name": "' + b"x" * MIB + b'", "role": "buyer", "org_number": "556016-0680", "municipality": "Botkyrka"}'


@pytest.mark.parametrize("idempotency_key", [None, "big-body-with-length"])
def test_a_body_over_1_mib_with_content_length_is_413_and_writes_nothing(
    cast: Cast, idempotency_key: str | None
) -> None:
    headers = {"Content-Type": "application/json"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key
    before = head(cast)

    response = cast.operator.post("/v1/organisations", content=oversized_organisation(), headers=headers)

    assert_problem(response, 413)
    assert head(cast) == before


@pytest.mark.parametrize("idempotency_key", [None, "big-body-streamed"])
def test_a_streamed_body_over_1_mib_without_a_length_is_413_and_writes_nothing(
    client: TestClient, cast: Cast, idempotency_key: str | None
) -> None:
    body = oversized_organisation()
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {OPERATOR_KEY}"}
    if idempotency_key:
        headers["Idempotency-Key"] = idempotency_key

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    async def send() -> httpx.Response:
        # httpx's ASGI transport hands the app one 64 KiB chunk at a time and sends no Content-Length.
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as streaming:
            return await streaming.post("/v1/organisations", content=chunks(), headers=headers)

    before = head(cast)

    response = asyncio.run(send())

    assert_problem(response, 413)
    assert head(cast) == before


def test_a_body_of_exactly_1_mib_is_accepted(cast: Cast) -> None:
    content = json.dumps(design_body(description="x" * 5000)).encode()
    content = content[:-1] + b" " * (MIB - len(content)) + b"}"  # padded with JSON whitespace
    assert len(content) == MIB

    response = cast.designer.post("/v1/designs", content=content, headers={"Content-Type": "application/json"})

    assert ok(response, 201)["draft"]["description"] == "x" * 5000


# Idempotency-Key.


def test_a_repeated_post_with_the_same_key_and_body_returns_the_first_response_and_writes_nothing(
    cast: Cast, design: str
) -> None:
    headers = {"Idempotency-Key": f"order-{uuid4()}"}
    first = cast.buyer.post("/v1/orders", json=order_body((design, 2)), headers=headers)
    after_first = head(cast)

    again = cast.buyer.post("/v1/orders", json=order_body((design, 2)), headers=headers)

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers[POSITION] == first.headers[POSITION]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert head(cast) == after_first
    assert [o["id"] for o in ok(cast.buyer.get("/v1/orders", params={"limit": 100}))["items"]].count(
        first.json()["id"]) == 1  # fmt: skip


def test_a_retried_accept_with_the_same_key_gets_its_first_answer_instead_of_a_conflict(
    cast: Cast, design: str
) -> None:
    order = place(cast.buyer, (design, 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    path = f"/v1/production-orders/{production_order_id(UUID(order['id']), 1)}/accept"
    headers = {"Idempotency-Key": f"accept-{uuid4()}"}
    first = cast.workshop.post(path, headers=headers)
    after_first = head(cast)

    again = cast.workshop.post(path, headers=headers)
    without_key = cast.workshop.post(path)

    assert (first.status_code, again.status_code, without_key.status_code) == (200, 200, 409)
    assert again.json() == first.json()
    assert head(cast) == after_first


def test_the_same_key_with_another_body_is_422_and_writes_nothing(cast: Cast, design: str) -> None:
    headers = {"Idempotency-Key": f"order-{uuid4()}"}
    ok(cast.buyer.post("/v1/orders", json=order_body((design, 1)), headers=headers), 201)
    before = head(cast)

    other_body = cast.buyer.post("/v1/orders", json=order_body((design, 3)), headers=headers)
    other_route = cast.buyer.post(f"/v1/orders/{NOWHERE}/cancel", json=order_body((design, 1)), headers=headers)

    assert "Idempotency-Key" in assert_problem(other_body, 422)["detail"]
    assert_problem(other_route, 422)
    assert head(cast) == before


def test_different_callers_may_use_the_same_key_independently(cast: Cast, design: str) -> None:
    headers = {"Idempotency-Key": f"shared-{uuid4()}"}

    mine = ok(cast.buyer.post("/v1/orders", json=order_body((design, 1)), headers=headers), 201)
    theirs = ok(cast.other_buyer.post("/v1/orders", json=order_body((design, 1)), headers=headers), 201)

    assert mine["id"] != theirs["id"]
    assert (mine["buyer_id"], theirs["buyer_id"]) == (str(cast.buyer.id), str(cast.other_buyer.id))


@pytest.mark.parametrize("key", ["", "k" * 201], ids=["empty", "over 200 characters"])
def test_an_unusable_idempotency_key_is_refused(cast: Cast, design: str, key: str) -> None:
    before = head(cast)

    response = cast.buyer.post("/v1/orders", json=order_body((design, 1)), headers={"Idempotency-Key": key})

    assert_problem(response, 422)
    assert head(cast) == before


# Positions and read-your-writes.


def test_a_command_answers_with_the_position_of_its_last_event(cast: Cast, design: str) -> None:
    order = place(cast.buyer, (design, 1))
    payment_provider_confirms(cast.buyer.api, order["id"])
    production = f"/v1/production-orders/{production_order_id(UUID(order['id']), 1)}"
    for verb, body in (("accept", None), ("start", None), ("complete", {"hours_worked": 2, "notes": ""})):
        ok(cast.workshop.post(f"{production}/{verb}", json=body))
    delivery = f"/v1/deliveries/{delivery_id(UUID(order['id']), 1)}"
    ok(cast.workshop.post(f"{delivery}/schedule", json=schedule_body()))
    ok(cast.workshop.post(f"{delivery}/dispatch"))

    # Delivering records the delivery, the order line and two payouts in one transaction.
    response = cast.workshop.post(f"{delivery}/deliver", json={"received_by": "Amina"})

    assert ok(response)["status"] == "delivered"
    assert int(response.headers[POSITION]) == head(cast)


@pytest.fixture
def views_held(runtime: Runtime) -> Iterator[sqlite3.Connection]:
    """Hold the views' write lock, so the projector cannot apply new events until it is let go."""
    connection = sqlite3.connect(runtime.settings.data_dir / "views.sqlite3", isolation_level=None, timeout=10,
                                 check_same_thread=False)  # fmt: skip
    runtime.wait_for(runtime.marketplace.position)
    connection.execute("BEGIN IMMEDIATE")
    yield connection
    if connection.in_transaction:
        connection.execute("ROLLBACK")
    connection.close()


def test_a_read_with_min_position_waits_for_the_views_to_catch_up(
    client: TestClient, cast: Cast, views_held: sqlite3.Connection
) -> None:
    drafted = cast.designer.post("/v1/designs", json=design_body(title="Bänk i väntan"))
    written = int(drafted.headers[POSITION])
    path = f"/v1/designs/{drafted.json()['id']}"
    auth = {"Authorization": f"Bearer {cast.designer.key}"}

    stale = client.get(path, headers=auth)
    assert stale.status_code == 404, "the views were not held back"
    started = time.monotonic()
    threading.Timer(0.3, views_held.execute, args=("ROLLBACK",)).start()

    fresh = client.get(path, headers={**auth, MIN_POSITION: str(written)})

    assert time.monotonic() - started >= 0.3  # it could only answer once the views were let go
    assert ok(fresh)["draft"]["title"] == "Bänk i väntan"
    assert int(fresh.headers[POSITION]) >= written


def test_a_min_position_never_reached_is_answered_within_2_s_saying_how_far_the_views_got(cast: Cast) -> None:
    beyond = head(cast) + 1_000
    started = time.monotonic()

    response = cast.buyer.get("/v1/catalogue", headers={MIN_POSITION: str(beyond)})

    assert time.monotonic() - started < 4  # at most the 2 s wait, never a hang
    assert response.status_code == 200
    assert int(response.headers[POSITION]) < beyond


# Lists: newest first, paged with an opaque cursor.


@dataclass
class Settled:
    """Parties of their own (so other tests' orders stay out of their lists) and the ids each list should show."""

    parties: dict[str, Party]
    ids: dict[str, list[str]]


@pytest.fixture(scope="module")
def settled(cast: Cast) -> Settled:
    """Three orders taken all the way to installation, one after another, in Salem, where nobody else works."""
    operator, m = cast.operator, cast.operator.api.runtime.marketplace
    buyer = register(operator, "buyer", "Salems Bostäder", municipality="Salem")
    workshop = register(operator, "workshop", "Salems Svarveri", capabilities=["turning"], service_area=["Salem"])
    area = register(operator, "area_company", "Salem Områdesföretag", service_area=["Salem"])
    design_id = publish(cast.other_designer, title="Svarvad pollare", required_capabilities=["turning"])["id"]
    ids: dict[str, list[str]] = {"orders": [], "production": [], "deliveries": [], "payouts": []}
    for _ in range(3):
        order_id = UUID(place(buyer, (design_id, 1), municipality="Salem")["id"])
        payment_provider_confirms(operator.api, order_id)
        production, delivery = production_order_id(order_id, 1), delivery_id(order_id, 1)
        m.accept_production(workshop.id, production)
        m.start_production(workshop.id, production)
        m.complete_production(workshop.id, production, 1.0, "")
        m.schedule_delivery(workshop.id, delivery, *window())
        m.dispatch_delivery(workshop.id, delivery)
        m.deliver(workshop.id, delivery, "Caretaker")
        m.install(area.id, delivery)
        ids["orders"].append(str(order_id))
        ids["production"].append(str(production))
        ids["deliveries"].append(str(delivery))
        ids["payouts"].append(str(payout_id(order_id, 1, Role.AREA_COMPANY)))
    operator.api.caught_up()
    return Settled({"buyer": buyer, "workshop": workshop, "area_company": area}, ids)


LISTS = {
    "orders": ("buyer", "/v1/orders"),
    "production": ("workshop", "/v1/production-orders"),
    "deliveries": ("area_company", "/v1/deliveries"),
    "payouts": ("area_company", "/v1/payouts"),
}


@pytest.mark.parametrize("name", LISTS)
def test_a_list_pages_newest_first_with_next_cursor(settled: Settled, name: str) -> None:
    who, path = LISTS[name]
    party = settled.parties[who]

    seen, cursor, pages = [], None, 0
    while True:
        page = ok(party.get(path, params={"limit": 2, **({"cursor": cursor} if cursor else {})}))
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == settled.ids[name][::-1]
    assert pages == 2


@pytest.mark.parametrize("path", ["/v1/catalogue", "/v1/orders", "/v1/production-orders", "/v1/deliveries",
                                  "/v1/payouts"])  # fmt: skip
@pytest.mark.parametrize("cursor", ["!!!", "Zm9vYmFy", "x" * 201], ids=["not base64", "not ours", "too long"])
def test_a_bad_cursor_is_refused(cast: Cast, path: str, cursor: str) -> None:
    assert fields(cast.operator.get(path, params={"cursor": cursor})) == ["cursor"]


# Operations.


def test_healthz_and_readyz_answer_without_a_key(client: TestClient, cast: Cast) -> None:
    assert ok(client.get("/healthz")) == {"status": "ok"}
    cast.operator.api.runtime.wait_for(head(cast))

    ready = ok(client.get("/readyz"))

    assert ready["status"] == "ready"
    assert ready["event_store_position"] == head(cast)
    assert ready["views_position"] == head(cast)


def test_metrics_count_requests_per_route_and_show_each_projections_lag(client: TestClient, cast: Cast) -> None:
    ok(cast.operator.get("/v1/deliveries"))
    ok(cast.operator.get("/v1/production-orders"))
    assert_problem(cast.designer.get(f"/v1/deliveries/{NOWHERE}"), 403)

    response = client.get("/metrics")

    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    lines = response.text.splitlines()
    for expected in (
        'vardekedja_http_requests_total{method="GET",route="/v1/deliveries",status="200"}',
        'vardekedja_http_requests_total{method="GET",route="/v1/production-orders",status="200"}',
        'vardekedja_http_requests_total{method="GET",route="/v1/deliveries/{delivery_id}",status="403"}',
        'vardekedja_http_request_seconds_bucket{le="0.1",method="GET",route="/v1/deliveries"}',
        *(f'vardekedja_projection_lag_events{{projection="{name}"}}' for name in
          ("organisations", "catalogue", "orders", "production", "deliveries", "payouts")),
        'vardekedja_projection_position{projection="orders"}',
        "vardekedja_event_store_position",
    ):  # fmt: skip
        assert any(line.startswith(expected + " ") for line in lines), expected


def test_a_read_that_fails_still_says_how_far_the_views_had_got(client, operator) -> None:
    response = client.get("/v1/orders/00000000-0000-4000-8000-000000000000", headers=operator)

    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Vardekedja-Position"]) >= 1
