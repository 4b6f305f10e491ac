"""Catalogue pages answered from memory (api/pages.py), and commands refused once the command thread stopped."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import MIN_POSITION, POSITION, Api, Cast, design_body, ok, order_body, publish, register_cast
from vardekedja.api import create_app, pages
from vardekedja.api.memo import keys, memo
from vardekedja.projections.catalogue import CatalogueView
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
        kept = memo(runtime, "catalogue").find(page)
        if kept is not None:
            return kept
        time.sleep(0.01)
    return None


def read_until_kept(cast: Cast, runtime: Runtime) -> dict[str, Any]:
    """Read the catalogue until its first page is kept (a read that overlaps a batch is not kept)."""
    for _ in range(100):
        body = ok(cast.buyer.get("/v1/catalogue"))
        if memo(runtime, "catalogue").find(PAGE) is not None:
            return body
        time.sleep(0.02)
    raise AssertionError("the first catalogue page was never kept")


def fail_if_read(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the catalogue view was read")

    monkeypatch.setattr(runtime.view(CatalogueView), "search_published", refuse)


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
        assert int(response.headers[POSITION]) == memo(runtime, "catalogue").applied


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
    applied = memo(runtime, "catalogue").applied
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
            assert memo(runtime, "catalogue").find(PAGE) is None
            assert keys(runtime).find(cast.buyer.key.split("_")[1]) is None
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


def test_a_page_found_before_a_change_is_never_labelled_with_the_change(
    client: TestClient, cast: Cast, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The change lands between finding the kept page and answering: the answer must not claim it."""
    publish(cast.designer)
    drafted = ok(cast.other_designer.post("/v1/designs", json=design_body()), 201)
    # The draft changes the catalogue view too: keep the page only once the views have it, or a busy
    # machine's projector drops the page after it was kept and the request below never finds one.
    assert runtime.wait_for(runtime.marketplace.position, 5)
    read_until_kept(cast, runtime)
    changed_at = runtime.marketplace.position + 1
    real_known, armed = pages._known, [True]

    def known_after_a_change(*args: Any) -> bool:  # runs after the page was found
        if armed and armed.pop():
            done = runtime.marketplace.publish_design(cast.other_designer.id, UUID(drafted["id"]))
            assert done.position == changed_at and runtime.wait_for(done.position, 5)
        return real_known(*args)

    monkeypatch.setattr(pages, "_known", known_after_a_change)
    response = client.get("/v1/catalogue", headers={"Authorization": f"Bearer {cast.buyer.key}"})

    ids = [item["id"] for item in ok(response)["items"]]
    assert not armed, "the change was made while the request was answered"
    assert drafted["id"] in ids or int(response.headers[POSITION]) < changed_at, (
        f"an answer without the design published at {changed_at} says {response.headers[POSITION]}"
    )
    waited = client.get("/v1/catalogue", headers={"Authorization": f"Bearer {cast.buyer.key}",
                                                  MIN_POSITION: str(changed_at)})  # fmt: skip
    assert drafted["id"] in [item["id"] for item in ok(waited)["items"]]


def test_a_query_with_parameters_the_catalogue_does_not_take_is_answered_but_not_kept(
    cast: Cast, runtime: Runtime
) -> None:
    publish(cast.designer)
    read_until_kept(cast, runtime)

    for padding in range(5):
        assert ok(cast.buyer.get("/v1/catalogue", params={"pad": str(padding)}))["items"]
        assert ok(cast.buyer.get("/v1/catalogue", params=[("limit", "5"), ("limit", "6")]))["items"]

    pages_kept = memo(runtime, "catalogue")
    assert all(pages_kept.find(("/v1/catalogue", f"pad={padding}".encode())) is None for padding in range(5))
    assert pages_kept.find(("/v1/catalogue", b"limit=5&limit=6")) is None
    assert pages_kept.find(PAGE) is not None


def test_kept_pages_stay_within_their_byte_budget(cast: Cast, runtime: Runtime) -> None:
    publish(cast.designer)
    pages_kept = memo(runtime, "catalogue")
    read_until_kept(cast, runtime)
    size = len(pages_kept.find(PAGE)[2])
    pages_kept.max_bytes = 3 * size + size // 2  # room for three pages like it

    for limit in range(10, 16):
        read = cast.buyer.get("/v1/catalogue", params={"limit": str(limit)})
        assert ok(read)["items"]

    kept = [limit for limit in range(10, 16) if pages_kept.find(("/v1/catalogue", f"limit={limit}".encode())) is not None]
    assert len(kept) <= 3 and (not kept or kept[-1] == 15), kept  # the newest stay, the oldest went


def test_revoking_answers_202_when_the_views_lag_and_the_key_is_refused_once_they_catch_up(
    client: TestClient, cast: Cast, runtime: Runtime
) -> None:
    issued = ok(cast.buyer.post(f"/v1/organisations/{cast.buyer.id}/api-keys"), 201)
    assert cast.buyer.api.request("GET", "/v1/me", issued["api_key"]).status_code == 200  # now kept in memory
    connection = sqlite3.connect(runtime.settings.data_dir / "views.sqlite3", isolation_level=None, timeout=10)
    runtime.wait_for(runtime.marketplace.position)
    connection.execute("BEGIN IMMEDIATE")  # the projector cannot apply the revocation
    try:
        response = client.delete(f"/v1/organisations/{cast.buyer.id}/api-keys/{issued['key_id']}",
                                  headers={"Authorization": f"Bearer {cast.buyer.key}"})  # fmt: skip
        assert response.status_code == 202
        position = int(response.headers[POSITION])
    finally:
        connection.execute("ROLLBACK")
        connection.close()

    assert runtime.wait_for(position, 5)
    assert client.get("/v1/me", headers={"Authorization": f"Bearer {issued['api_key']}"}).status_code == 401
