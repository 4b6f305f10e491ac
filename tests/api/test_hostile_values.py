"""Values a hostile or careless client sends: each is refused at the edge with a 422 naming the field,
nothing is written, and nothing that was accepted can later fail to be stored, projected or replayed."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY, api_settings
from tests.api.support import Api, Cast, design_body, ok, order_body, place, publish, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime

NOWHERE = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[Runtime, Cast]]:
    runtime = Runtime(api_settings("sqlite", tmp_path_factory.mktemp("hostile"), request))
    with TestClient(create_app(runtime=runtime)) as client:
        yield runtime, register_cast(Api(client, runtime), OPERATOR_KEY)
    runtime.close()


@pytest.fixture(scope="module")
def cast(world: tuple[Runtime, Cast]) -> Cast:
    return world[1]


@pytest.fixture(scope="module")
def design(cast: Cast) -> str:
    return str(publish(cast.designer)["id"])


def head(cast: Cast) -> int:
    return cast.operator.api.runtime.marketplace.position


def refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert field in [error["field"] for error in response.json()["errors"]], response.json()


# Times whose UTC equivalent leaves the years 1-9999: pydantic takes them as aware datetimes, but
# converting them to UTC (as every view and the audit chain does) overflows.
OVERFLOWING = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-01:00"]


@pytest.mark.parametrize("when", OVERFLOWING)
@pytest.mark.parametrize("field", ["earliest", "latest"])
def test_a_delivery_window_that_overflows_in_utc_is_refused(cast: Cast, when: str, field: str) -> None:
    body = {"earliest": "2026-12-01T08:00:00+01:00", "latest": "2026-12-01T12:00:00+01:00", field: when}
    before = head(cast)

    response = cast.workshop.post(f"/v1/deliveries/{NOWHERE}/schedule", json=body)

    refused(response, field)
    assert head(cast) == before


@pytest.mark.parametrize("when", OVERFLOWING + ["1700000000", "2026-12-01", "next tuesday"])
def test_an_audit_as_of_that_is_not_a_representable_time_is_refused(cast: Cast, when: str) -> None:
    refused(cast.auditor.get(f"/v1/audit/streams/{cast.buyer.id}", params={"as_of": when}), "as_of")


@pytest.mark.parametrize("when", [1700000000, 1700000000.5, "1700000000", True, None, "2026-12-01T08:00:00"],
                         ids=["unix int", "unix float", "unix text", "true", "null", "no offset"])  # fmt: skip
def test_a_time_must_be_iso_8601_text_with_an_offset(cast: Cast, when: Any) -> None:
    body = {"earliest": when, "latest": "2026-12-01T12:00:00+01:00"}
    refused(cast.workshop.post(f"/v1/deliveries/{NOWHERE}/schedule", json=body), "earliest")


def line(design: str, **changes: Any) -> dict[str, Any]:
    return {"design_id": design, "quantity": 1, **changes}


LOOSE_ORDERS = {
    "quantity as text": (lambda d: {"lines": [line(d, quantity="2")]}, "lines.0.quantity"),
    "quantity as true": (lambda d: {"lines": [line(d, quantity=True)]}, "lines.0.quantity"),
    "quantity as 2.0": (lambda d: {"lines": [line(d, quantity=2.0)]}, "lines.0.quantity"),
    "revision as text": (lambda d: {"lines": [line(d, revision="1")]}, "lines.0.revision"),
    "install as yes": (lambda d: {"install": "yes"}, "install"),
    "install as 1": (lambda d: {"install": 1}, "install"),
    "install as text": (lambda d: {"install": "true"}, "install"),
}


@pytest.mark.parametrize("case", LOOSE_ORDERS)
def test_an_order_with_loosely_typed_values_is_refused_and_writes_nothing(cast: Cast, design: str, case: str) -> None:
    change, field = LOOSE_ORDERS[case]
    body = {**order_body((design, 1)), **change(design)}
    before = head(cast)

    refused(cast.buyer.post("/v1/orders", json=body), field)

    assert head(cast) == before


LOOSE_DESIGNS = {
    "width as text": ({"dimensions_mm": {"width": "100", "depth": 100, "height": 100}}, "dimensions_mm.width"),
    "weight as text": ({"weight_kg": "12.5"}, "weight_kg"),
    "weight as true": ({"weight_kg": True}, "weight_kg"),
    "lead time as text": ({"lead_time_days": "3"}, "lead_time_days"),
    "royalty as text": ({"royalty_ore": "100"}, "royalty_ore"),
    "royalty as false": ({"royalty_ore": False}, "royalty_ore"),
    "co2e as text": ({"co2e_kg": "1"}, "co2e_kg"),
    "a material as a number": ({"materials": [1]}, "materials.0"),
}


@pytest.mark.parametrize("case", LOOSE_DESIGNS)
def test_a_design_with_loosely_typed_values_is_refused_and_writes_nothing(cast: Cast, case: str) -> None:
    change, field = LOOSE_DESIGNS[case]
    before = head(cast)

    refused(cast.designer.post("/v1/designs", json=design_body(**change)), field)

    assert head(cast) == before


def test_hours_worked_as_text_is_refused(cast: Cast) -> None:
    response = cast.workshop.post(f"/v1/production-orders/{NOWHERE}/complete", json={"hours_worked": "2"})
    refused(response, "hours_worked")


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "utf-8-sig"])
def test_a_json_body_that_is_not_plain_utf_8_is_refused_and_writes_nothing(cast: Cast, design: str,
                                                                           encoding: str) -> None:  # fmt: skip
    import json

    content = json.dumps(order_body((design, 1)), ensure_ascii=False).encode(encoding)
    before = head(cast)

    for key in (None, "utf16-once"):
        headers = {"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})}
        refused(cast.buyer.post("/v1/orders", content=content, headers=headers), "body")

    assert head(cast) == before


def test_a_plain_utf_8_body_with_non_ascii_text_is_accepted(cast: Cast, design: str) -> None:
    import json

    body = order_body((design, 1))
    body["delivery_site"]["name"] = "Gården vid Fittja äng"
    content = json.dumps(body, ensure_ascii=False).encode("utf-8")

    created = ok(cast.buyer.post("/v1/orders", content=content, headers={"Content-Type": "application/json"}), 201)

    assert created["delivery_site"]["name"] == "Gården vid Fittja äng"


def test_ordering_another_designers_draft_answers_exactly_like_an_unknown_design(cast: Cast) -> None:
    draft = ok(cast.other_designer.post("/v1/designs", json=design_body(title="Hemlig soffa")), 201)["id"]
    retired = ok(cast.other_designer.post("/v1/designs", json=design_body(title="Skrotad soffa")), 201)["id"]
    ok(cast.other_designer.post(f"/v1/designs/{retired}/retire"))
    unknown = "11111111-1111-4111-8111-111111111111"

    answers = []
    for design_id in (draft, retired, unknown):
        response = cast.buyer.post("/v1/orders", json=order_body((design_id, 1)))
        answers.append((response.status_code, response.text.replace(design_id, "ID")))
        assert response.status_code == 422

    assert answers[0] == answers[2]
    assert answers[1] == answers[2]


# Cursors are opaque, but a client can still build one; it must get a 422, never a 500.


def cursor_of(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


TAMPERED = {
    "past a 64-bit integer": cursor_of("p9223372036854775808"),
    "far past it": cursor_of("p" + "9" * 60),
    "superscript digit": cursor_of("p²"),
    "arabic-indic digits": cursor_of("p٣٣"),
    "negative": cursor_of("p-1"),
    "trailing newline": cursor_of("p1\n"),
}
LISTS = ["/v1/catalogue", "/v1/orders", "/v1/production-orders", "/v1/deliveries", "/v1/payouts"]


@pytest.fixture
def storage_cast(api_storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Cast]:
    runtime = Runtime(api_settings(api_storage, tmp_path, request))
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            yield register_cast(Api(client, runtime), OPERATOR_KEY)
    finally:
        runtime.close()


def test_a_tampered_cursor_is_refused_on_every_list_and_storage(storage_cast: Cast) -> None:
    cast = storage_cast
    place(cast.buyer, (UUID(publish(cast.designer)["id"]), 1))
    for path in LISTS:
        for name, cursor in TAMPERED.items():
            response = cast.operator.get(path, params={"cursor": cursor})
            assert response.status_code == 422, (path, name, response.text)
            assert [e["field"] for e in response.json()["errors"]] == ["cursor"], (path, name)
    # The largest position a cursor can hold is still a cursor: an empty page, not an error.
    largest = cursor_of(f"p{2**63 - 1}")
    for path in LISTS:
        assert ok(cast.operator.get(path, params={"cursor": largest}))["next_cursor"] is None
