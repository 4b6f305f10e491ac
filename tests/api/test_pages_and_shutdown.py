"""Catalogue pages answered from memory (api/pages.py), and commands refused once the command thread stopped."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import MIN_POSITION, POSITION, Api, Cast, ok, order_body, publish, register_cast
from vardekedja.api import create_app
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

PAGE = ("/v1/catalogue", b"")


@pytest.fixture
def cast(client: TestClient, runtime: Runtime) -> Cast:
    return register_cast(Api(client, runtime), OPERATOR_KEY)


def kept_page(runtime: Runtime, page: tuple[str, bytes] = PAGE, timeout: float = 5.0) -> Any:
    """The page as kept in memory, once the projector has settled the batch the read saw (or None)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kept = runtime.memo("catalogue").find(page)
        if kept is not None:
            return kept
        time.sleep(0.01)
    return None


def read_until_kept(cast: Cast, runtime: Runtime) -> dict[str, Any]:
    """Read the catalogue until its first page is kept (a read that overlaps a batch is not kept)."""
    for _ in range(100):
        body = ok(cast.buyer.get("/v1/catalogue"))
        if runtime.memo("catalogue").find(PAGE) is not None:
            return body
        time.sleep(0.02)
    raise AssertionError("the first catalogue page was never kept")


def fail_if_read(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the catalogue view was read")

    monkeypatch.setattr(runtime.view("catalogue"), "search_published", refuse)


def test_a_kept_page_is_answered_without_reading_the_view(
    cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    design = publish(cast.designer)
    first = read_until_kept(cast, runtime)
    for party in (cast.workshop, cast.auditor):  # a key is kept in memory once it has been looked up
        ok(party.get("/v1/me"))
    fail_if_read(runtime, monkeypatch)

    for party in (cast.buyer, cast.workshop, cast.auditor):  # every role may read the catalogue
        response = party.get("/v1/catalogue")
        assert ok(response) == first
        assert [item["id"] for item in first["items"]] == [design["id"]]
        assert int(response.headers[POSITION]) == runtime.memo("catalogue").applied


def test_publishing_a_design_drops_the_kept_pages(cast: Cast, runtime: Runtime) -> None:
    first = publish(cast.designer)
    read_until_kept(cast, runtime)

    second = publish(cast.other_designer)  # the next read waits for this position (Min-Position)

    items = ok(cast.buyer.get("/v1/catalogue"))["items"]
    assert [item["id"] for item in items] == [second["id"], first["id"]]


def test_orders_leave_the_kept_pages_alone(cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    design = publish(cast.designer)
    first = read_until_kept(cast, runtime)
    ok(cast.buyer.post("/v1/orders", json=order_body((design["id"], 1))), 201)
    runtime.wait_for(runtime.marketplace.position)
    fail_if_read(runtime, monkeypatch)

    assert ok(cast.buyer.get("/v1/catalogue")) == first


@pytest.mark.parametrize("authorization", [None, "Bearer vk_nobody_" + "x" * 43, "Basic dXNlcjpwYXNz"])
def test_a_kept_page_needs_a_known_key(client: TestClient, cast: Cast, runtime: Runtime,
                                       authorization: str | None) -> None:  # fmt: skip
    publish(cast.designer)
    read_until_kept(cast, runtime)

    response = client.get("/v1/catalogue", headers={"Authorization": authorization} if authorization else {})

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_revoked_key_gets_no_kept_page(cast: Cast, runtime: Runtime) -> None:
    publish(cast.designer)
    read_until_kept(cast, runtime)
    issued = ok(cast.buyer.post(f"/v1/organisations/{cast.buyer.id}/api-keys"), 201)
    other = cast.buyer.api.request("GET", "/v1/catalogue", issued["api_key"])
    assert other.status_code == 200
    key_id = issued["key_id"]

    assert cast.buyer.delete(f"/v1/organisations/{cast.buyer.id}/api-keys/{key_id}").status_code == 204

    assert cast.buyer.api.request("GET", "/v1/catalogue", issued["api_key"]).status_code == 401


def test_a_query_string_is_a_page_of_its_own(cast: Cast, runtime: Runtime) -> None:
    publish(cast.designer, title="Parkbänk Ek")
    publish(cast.designer, title="Planteringslåda Stål")
    read_until_kept(cast, runtime)

    found = ok(cast.buyer.get("/v1/catalogue", params={"q": "Planteringslåda"}))["items"]

    assert [item["published"]["title"] for item in found] == ["Planteringslåda Stål"]
    assert len(ok(cast.buyer.get("/v1/catalogue"))["items"]) == 2


def test_a_read_waiting_for_a_later_position_is_not_answered_from_memory(
    client: TestClient, cast: Cast, runtime: Runtime
) -> None:
    publish(cast.designer)
    read_until_kept(cast, runtime)
    applied = runtime.memo("catalogue").applied
    assert applied is not None

    # A position the store has not reached yet: the app answers it in full, after its bounded wait.
    response = client.get("/v1/catalogue", headers={"Authorization": f"Bearer {cast.buyer.key}",
                                                    MIN_POSITION: str(runtime.marketplace.position + 1000)})  # fmt: skip

    assert response.status_code == 200
    assert int(response.headers[POSITION]) <= runtime.marketplace.position


def test_nothing_is_kept_without_this_process_projector(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url=None, operator_key=OPERATOR_KEY, embedded_projector=False)
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(runtime=runtime)) as client:
            runtime.projector.catch_up()  # as `vardekedja project` would, in another process
            api = Api(client, runtime)
            cast = register_cast(api, OPERATOR_KEY)
            runtime.projector.catch_up()
            for _ in range(3):
                assert client.get("/v1/catalogue", headers={"Authorization": f"Bearer {cast.buyer.key}"}).status_code == 200
            assert runtime.memo("catalogue").find(PAGE) is None
            assert runtime.keys.find(cast.buyer.key.split("_")[1]) is None
    finally:
        runtime.close()


def test_a_command_after_the_command_thread_stopped_is_503_and_writes_nothing(cast: Cast, runtime: Runtime) -> None:
    design = publish(cast.designer)
    runtime.commands.close()  # as at shutdown
    before = runtime.marketplace.position

    response = cast.buyer.post("/v1/orders", json=order_body((design["id"], 1)))

    assert response.status_code == 503, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["retry-after"] == "1"
    assert runtime.marketplace.position == before
