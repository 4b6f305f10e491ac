"""A bounded fuzz with hostile values of our own making: times, cursors and headers.

Every answer is a 2xx or a 4xx, never a server error; nothing is recorded on a 4xx; and whatever was
accepted can be projected: at the end no view has a fault and every view has caught up with the store.
Derandomized and bounded by example counts, so the suite stays fast and repeatable.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api.conftest import OPERATOR_KEY, api_settings
from tests.api.support import Api, Cast, register_cast
from tests.chain import SITE
from vardekedja.api import create_app
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.order import LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.projections import faults
from vardekedja.runtime import Runtime

FUZZ = settings(max_examples=60, derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
LISTS = ["/v1/catalogue", "/v1/orders", "/v1/production-orders", "/v1/deliveries", "/v1/payouts"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[tuple[Runtime, Cast, UUID]]:
    runtime = Runtime(api_settings("sqlite", tmp_path_factory.mktemp("fuzz"), request))
    with TestClient(create_app(runtime=runtime)) as client:
        cast = register_cast(Api(client, runtime), OPERATOR_KEY)
        app = runtime.marketplace
        from tests.api.support import publish

        design = UUID(publish(cast.designer)["id"])
        order = app.place_order(cast.buyer.id, SITE, True, [LineRequest(design, 1)]).id
        intent = f"pi_fuzz_{order.hex[:12]}"
        app.start_checkout(cast.buyer.id, order, intent)
        app.record_payment(order, intent, app.order(order).total_ore, "sek")
        production = production_order_id(order, 1)
        app.accept_production(cast.workshop.id, production)
        app.start_production(cast.workshop.id, production)
        app.complete_production(cast.workshop.id, production, 1.0, "")
        cast.operator.api.caught_up()
        yield runtime, cast, delivery_id(order, 1)
    runtime.close()


def offset_time() -> st.SearchStrategy[str]:
    """ISO 8601 text at the edges of what a datetime holds, with offsets up to ±14 h (and beyond)."""
    moments = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59))
    offsets = st.integers(min_value=-14 * 60, max_value=14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
    edges = st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59Z",
                             "0001-01-01T00:00:00Z", "2026-02-30T08:00:00+01:00", "2026-12-01T24:00:00+01:00",
                             "2026-12-01T08:00:00+24:00", "2026-12-01T08:00:00", "+2026-12-01T08:00:00Z"])  # fmt: skip
    return st.one_of(st.builds(lambda m, o: m.replace(tzinfo=o).isoformat(), moments, offsets), edges)


HOSTILE_TIME = st.one_of(offset_time(), st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
                         st.text(max_size=40), st.lists(st.integers(), max_size=2))  # fmt: skip


def head(runtime: Runtime) -> int:
    return runtime.marketplace.position


@FUZZ
@given(earliest=HOSTILE_TIME, latest=HOSTILE_TIME)
def test_hostile_delivery_windows_are_refused_or_stored_so_they_can_be_projected(world, earliest: Any,
                                                                                 latest: Any) -> None:  # fmt: skip
    runtime, cast, delivery = world
    before = head(runtime)

    response = cast.workshop.post(f"/v1/deliveries/{delivery}/schedule", json={"earliest": earliest, "latest": latest})

    assert response.status_code in (200, 409, 422), response.text
    if response.status_code != 200:
        assert head(runtime) == before, "a refused request recorded something"


def cursor_text() -> st.SearchStrategy[str]:
    encoded = st.binary(max_size=40).map(lambda b: base64.urlsafe_b64encode(b).decode().rstrip("="))
    positional = st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=25)).map(
        lambda text: base64.urlsafe_b64encode(f"p{text}".encode()).decode().rstrip("=")
    )
    return st.one_of(encoded, positional, st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefgh0123456789-_=+/!%", max_size=60))


@FUZZ
@given(path=st.sampled_from(LISTS), cursor=cursor_text(), limit=st.one_of(st.integers(-5, 200), st.text(max_size=5)))
def test_hostile_cursors_and_limits_answer_200_or_422(world, path: str, cursor: str, limit: Any) -> None:
    _, cast, _ = world
    response = cast.operator.get(path, params={"cursor": cursor, "limit": limit})
    assert response.status_code in (200, 422), (path, cursor, limit, response.text)


HEADER_TEXT = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"),
                      max_size=300)  # fmt: skip


@FUZZ
@given(min_position=st.one_of(HEADER_TEXT, st.integers(-(2**70), 2**70).map(str)), key=HEADER_TEXT,
       authorization=st.one_of(HEADER_TEXT, HEADER_TEXT.map(lambda t: f"Bearer {t}")))  # fmt: skip
def test_hostile_headers_are_refused_without_a_server_error_or_a_write(world, min_position: str, key: str,
                                                                       authorization: str) -> None:  # fmt: skip
    runtime, cast, _ = world
    before = head(runtime)
    read = cast.buyer.get("/v1/orders", headers={"Vardekedja-Min-Position": min_position.encode("latin-1")})
    assert read.status_code in (200, 422), read.text
    posted = cast.designer.api.client.post("/v1/designs", json={"title": 1},
                                            headers={"Idempotency-Key": key.encode("latin-1"),
                                                     "Authorization": authorization.encode("latin-1")})  # fmt: skip
    assert posted.status_code in (401, 403, 422), posted.text
    assert head(runtime) == before


def test_after_the_fuzz_no_view_has_a_fault_and_every_view_caught_up(world) -> None:
    runtime, _, _ = world
    assert runtime.wait_for(head(runtime), timeout=10)
    with runtime.database.reader.connect() as connection:
        assert faults.all_faults(connection) == []
    assert set(runtime.database.positions(runtime.views_list).values()) == {head(runtime)}
