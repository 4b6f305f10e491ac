"""A stored event damaged in the database (changed bytes, JSON that no longer parses, an unknown topic, a
deleted row): the server still starts and serves what does not need it, a command that needs it answers a
problem naming stream and position, and verify, export, the projector and readiness name the position."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from tests.chain import paid_order, published_design, register_cast
from tests.conftest import RecordingRefunds
from tests.integration.audit_support import api_client, audited_runtime, bearer, export_to, public_key
from tests.integration.test_audit_tampering import EventTable
from vardekedja.api import create_app
from vardekedja.application.damage import StreamDamagedError
from vardekedja.audit.log import verify_file
from vardekedja.domain.directory import DIRECTORY_ID
from vardekedja.projections import faults
from vardekedja.runtime import Runtime

DAMAGE = ["changed bytes", "undecodable JSON", "unknown topic", "deleted row"]
OPERATOR = "vk_operator0_" + "k" * 43


def damage(runtime: Runtime, position: int, kind: str) -> None:
    table = EventTable(runtime)
    if kind == "changed bytes":
        table.update_state(position, b"\xff\xfe\x00garbage")
    elif kind == "undecodable JSON":
        table.update_state(position, table.state(position)[:-7])
    elif kind == "unknown topic":
        table.execute("UPDATE {table} SET topic = ? WHERE {position} = ?", "vardekedja:Nowhere.Gone", position)
    else:
        table.delete(position)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> tuple[str, str | None]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else None
    return request.param, url


@pytest.fixture
def runtime(backend: tuple[str, str | None], tmp_path: Path) -> Iterator[Runtime]:
    with audited_runtime(backend[0], tmp_path / "data", backend[1]) as made:
        yield made


@contextmanager
def reopened(runtime: Runtime) -> Iterator[Runtime]:
    """The same stores opened afresh, as after a restart (a running process may hold the aggregate cached)."""
    fresh = Runtime(runtime.settings, payments=RecordingRefunds())
    try:
        yield fresh
    finally:
        fresh.close()


def first_event(runtime: Runtime, stream_id: UUID) -> int:
    return next(n.id for n in runtime.marketplace.recorder.select_notifications(1, 100_000)
                if n.originator_id == stream_id)  # fmt: skip


def auditor(runtime: Runtime) -> str:
    issued = runtime.marketplace.register_organisation(name="Revisorerna", role="auditor", org_number="556677-8899",
                                                       municipality="Stockholm")  # fmt: skip
    return issued.api_key


@pytest.mark.parametrize("kind", DAMAGE)
def test_a_damaged_event_is_named_by_verify_export_and_the_command_that_needs_it(runtime: Runtime, kind: str,
                                                                                tmp_path: Path) -> None:  # fmt: skip
    app = runtime.marketplace
    cast = register_cast(app)
    order = paid_order(app, cast, published_design(app, cast))
    key = auditor(runtime)
    runtime.projector.catch_up()
    position = first_event(runtime, order)  # Order.Placed, with later events of the same order after it
    damage(runtime, position, kind)
    with reopened(runtime) as restarted:
        with pytest.raises(StreamDamagedError) as raised:
            restarted.marketplace.order(order)
    assert str(order) in str(raised.value)
    if kind != "deleted row":
        assert f"position {position}" in str(raised.value)

    with api_client(runtime) as client:
        verified = client.get("/v1/audit/verify", headers=bearer(key))
        assert verified.status_code == 200, verified.text
        assert verified.json()["first_break"]["position"] == position
        page = client.get("/v1/audit/events", params={"after": position - 1, "limit": 3}, headers=bearer(key))
        assert page.status_code == 200, page.text
        stream = client.get(f"/v1/audit/streams/{order}", headers=bearer(key))
        assert stream.status_code == 200, stream.text

    report = verify_file(export_to(runtime, tmp_path / "export.jsonl"), public_key(runtime))
    assert report.first_break is not None and report.first_break.position == position


@pytest.mark.parametrize("kind", DAMAGE[:3])
def test_a_command_that_needs_a_damaged_stream_answers_a_500_problem_naming_stream_and_position(
    runtime: Runtime, kind: str
) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    order = app.place_order(cast.buyer, *_order_args(app, cast)).id
    key = app.issue_api_key(cast.buyer).api_key
    runtime.projector.catch_up()
    position = first_event(runtime, order)
    damage(runtime, position, kind)

    with reopened(runtime) as restarted, api_client(restarted) as client:
        answer = client.post(f"/v1/orders/{order}/cancel", headers=bearer(key))

    assert answer.status_code == 500, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    detail = answer.json()["detail"]
    assert str(order) in detail and f"position {position}" in detail and "Traceback" not in answer.text


def _order_args(app: Any, cast: Any) -> tuple[Any, ...]:
    from tests.chain import SITE
    from vardekedja.domain.order import LineRequest

    return SITE, True, [LineRequest(published_design(app, cast), 1)]


@pytest.mark.parametrize("kind", DAMAGE[:3])
def test_an_event_damaged_before_the_views_saw_it_is_parked_and_everything_else_goes_on(
    runtime: Runtime, kind: str
) -> None:
    app = runtime.marketplace
    cast = register_cast(app)
    runtime.projector.catch_up()
    order = app.place_order(cast.buyer, *_order_args(app, cast)).id
    later = app.issue_api_key(cast.buyer)
    position = first_event(runtime, order)
    damage(runtime, position, kind)

    runtime.projector.catch_up()

    with runtime.database.reader.connect() as connection:
        found = {(f.projection, f.position) for f in faults.all_faults(connection)}
    assert ("orders", position) in found
    with TestClient(_app(runtime)) as client:
        assert client.get("/v1/me", headers=bearer(later.api_key)).status_code == 200  # keys still work
        ready = client.get("/readyz")
        assert ready.status_code == 503 and f"position {position}" in ready.json()["detail"]


def _app(runtime: Runtime) -> Any:
    return create_app(runtime=runtime)


@pytest.mark.parametrize("kind", DAMAGE[:3])
def test_the_server_starts_with_a_damaged_directory_and_names_it_when_a_command_needs_it(
    runtime: Runtime, kind: str
) -> None:
    register_cast(runtime.marketplace)
    runtime.marketplace.ensure_operator(name="Drift", org_number="559900-0006", municipality="Stockholm",
                                        api_key=OPERATOR)  # fmt: skip
    runtime.projector.catch_up()
    position = first_event(runtime, DIRECTORY_ID)
    damage(runtime, position, kind)
    settings = runtime.settings.model_copy(update={"operator_key": SecretStr(OPERATOR)})

    restarted = Runtime(settings, payments=RecordingRefunds())
    try:
        with TestClient(create_app(runtime=restarted)) as client:  # starts: no TypeError at start-up
            assert client.get("/healthz").status_code == 200
            registered = client.post("/v1/organisations", headers=bearer(OPERATOR), json={
                "name": "Ny köpare", "role": "buyer", "org_number": "556036-0793", "municipality": "Botkyrka",
                "capabilities": [], "service_area": []})  # fmt: skip
            assert registered.status_code == 500, registered.text
            assert registered.headers["content-type"] == "application/problem+json"
            assert str(DIRECTORY_ID) in registered.json()["detail"]
            assert f"position {position}" in registered.json()["detail"]
        with pytest.raises(StreamDamagedError) as raised:
            restarted.marketplace.directory()
        assert str(DIRECTORY_ID) in str(raised.value) and f"position {position}" in str(raised.value)
    finally:
        restarted.close()
