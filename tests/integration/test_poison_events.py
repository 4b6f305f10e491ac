"""An event a projection cannot apply stops that projection alone (or is parked), loudly, never every view.

The poison here is the one a client once sent: a delivery window whose end,
converted to UTC, leaves the years 1-9999. The edge refuses it now, so it is
recorded through the application, as an old event or a bug elsewhere would be.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from tests.chain import SITE, Cast, paid_order, published_design, register_cast, window
from tests.conftest import settings_for
from vardekedja.api import create_app
from vardekedja.cli import app as cli
from vardekedja.domain.delivery import delivery_id
from vardekedja.domain.design import Design
from vardekedja.domain.order import LineRequest
from vardekedja.domain.organisation import Organisation
from vardekedja.domain.production import production_order_id
from vardekedja.projections import faults
from vardekedja.projections.deliveries import DeliveriesView
from vardekedja.projections.orders import OrdersView
from vardekedja.runtime import Runtime

OVERFLOWING = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def make_runtime(storage: str, tmp_path: Path, request: pytest.FixtureRequest, policy: str,
                 **changes: Any) -> Runtime:  # fmt: skip
    settings = settings_for(storage, tmp_path, request)
    return Runtime(settings.model_copy(update={"poison_events": policy, "embedded_projector": False, **changes}))


@pytest.fixture
def parking(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    runtime = make_runtime(storage, tmp_path, request, "park")
    yield runtime
    runtime.close()


@pytest.fixture
def stopping(storage: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Runtime]:
    runtime = make_runtime(storage, tmp_path, request, "stop")
    yield runtime
    runtime.close()


def poison(runtime: Runtime) -> tuple[Cast, UUID, int]:
    """A delivery scheduled with a window ending past year 9999 in UTC; its delivery id and the event's position."""
    app = runtime.marketplace
    cast = register_cast(app)
    order = paid_order(app, cast, published_design(app, cast), quantity=1)
    production = production_order_id(order, 1)
    app.accept_production(cast.workshop, production)
    app.start_production(cast.workshop, production)
    app.complete_production(cast.workshop, production, 2.0, "")
    delivery = delivery_id(order, 1)
    position = app.schedule_delivery(cast.workshop, delivery, window()[0], OVERFLOWING).position
    return cast, delivery, position


def order_after(runtime: Runtime, cast: Cast) -> UUID:
    app = runtime.marketplace
    design = published_design(app, cast)
    return app.place_order(cast.buyer, SITE, True, [LineRequest(design, 1)]).id


def recorded_faults(runtime: Runtime) -> list[faults.Fault]:
    with runtime.database.reader.connect() as connection:
        return faults.all_faults(connection)


def test_a_parked_event_is_skipped_by_its_projection_alone_and_every_view_goes_on(parking: Runtime,
                                                                                  caplog: Any) -> None:  # fmt: skip
    runtime = parking
    cast, delivery, position = poison(runtime)
    later = order_after(runtime, cast)

    runtime.projector.catch_up()  # returns: nothing is retried forever

    head = runtime.marketplace.position
    assert runtime.database.processed() == head
    assert set(runtime.database.positions(runtime.views_list).values()) == {head}
    with runtime.database.reader.connect() as connection:
        assert runtime.view(OrdersView).order(connection, later) is not None
        assert runtime.view(DeliveriesView).delivery(connection, delivery)["status"] == "pending"  # lacks the event
    (fault,) = recorded_faults(runtime)
    assert (fault.projection, fault.position, fault.action) == ("deliveries", position, "parked")
    assert "OverflowError" in fault.error and fault.topic.endswith("Delivery.Scheduled")
    assert f"projection deliveries cannot apply the event at position {position}" in caplog.text


def test_a_stopped_projection_waits_before_its_event_while_the_others_go_on(stopping: Runtime) -> None:
    runtime = stopping
    cast, delivery, position = poison(runtime)
    later = order_after(runtime, cast)

    runtime.projector.catch_up()

    head = runtime.marketplace.position
    positions = runtime.database.positions(runtime.views_list)
    assert positions.pop("deliveries") == position - 1
    assert set(positions.values()) == {head}
    # Readers waiting for a position are not held by the stopped view.
    assert runtime.database.processed() == head
    with runtime.database.reader.connect() as connection:
        assert runtime.view(OrdersView).order(connection, later) is not None
    (fault,) = recorded_faults(runtime)
    assert (fault.projection, fault.position, fault.action) == ("deliveries", position, "stopped")

    # Restarted, it stays stopped: the fault is recorded, not kept in memory.
    runtime.projector.refresh_positions()
    assert runtime.projector.stopped == {"deliveries": position}
    runtime.projector.catch_up()
    assert runtime.database.positions(runtime.views_list)["deliveries"] == position - 1


def cli_env(runtime: Runtime) -> dict[str, str]:
    settings = runtime.settings
    env = {"VARDEKEDJA_DATA_DIR": str(settings.data_dir), "VARDEKEDJA_POISON_EVENTS": settings.poison_events}
    if settings.database_url:
        env |= {"VARDEKEDJA_DATABASE_URL": settings.database_url, "VARDEKEDJA_DATABASE_SCHEMA": settings.database_schema}
    return env


def run_cli(runtime: Runtime, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), env=cli_env(runtime))


def test_the_operator_skips_a_stopped_event_from_the_command_line_and_the_projection_goes_on(
    stopping: Runtime,
) -> None:
    runtime = stopping
    _, _, position = poison(runtime)
    runtime.projector.catch_up()

    status = run_cli(runtime, "projections", "status")
    assert f"deliveries stopped before the event at position {position}" in status.output, status.output
    assert run_cli(runtime, "projections", "faults").exit_code == 1
    skipped = run_cli(runtime, "projections", "skip", "deliveries")
    assert skipped.exit_code == 0, skipped.output

    assert runtime.projector.check_resumed()
    runtime.projector.catch_up()
    assert runtime.database.positions(runtime.views_list)["deliveries"] == runtime.marketplace.position
    (fault,) = recorded_faults(runtime)
    assert fault.action == "parked"
    assert run_cli(runtime, "projections", "faults", "--clear").exit_code == 0
    assert recorded_faults(runtime) == []


def test_once_the_code_is_fixed_the_operator_resumes_and_the_event_is_applied(stopping: Runtime) -> None:
    runtime = stopping
    app = runtime.marketplace
    cast = register_cast(app)
    deliveries = next(p for p in runtime.projections if p.name == "deliveries")
    broken = {"yes": True}
    # A projection whose code fails on one kind of event until it is "fixed".
    design_handler = deliveries._handler(Design.Published)

    def failing(projection: Any, event: Any, position: int) -> None:
        if broken["yes"]:
            raise KeyError("a bug in the deliveries projection")
        if design_handler is not None:
            design_handler(projection, event, position)

    deliveries._handlers[Design.Published] = failing
    published_design(app, cast)
    runtime.projector.catch_up()
    assert "deliveries" in runtime.projector.stopped

    broken["yes"] = False
    assert run_cli(runtime, "projections", "resume", "deliveries").exit_code == 0
    assert runtime.projector.check_resumed()
    runtime.projector.catch_up()

    assert runtime.projector.stopped == {}
    assert recorded_faults(runtime) == []
    assert runtime.database.positions(runtime.views_list)["deliveries"] == app.position


def test_a_fault_makes_readyz_not_ready_and_shows_in_the_metrics_until_it_is_cleared(parking: Runtime) -> None:
    runtime = parking
    _, _, position = poison(runtime)
    runtime.projector.catch_up()

    with TestClient(create_app(runtime=runtime)) as client:
        ready = client.get("/readyz")
        metrics = client.get("/metrics").text
        assert ready.status_code == 503
        assert ready.headers["content-type"] == "application/problem+json"
        assert f"deliveries skipped (parked) the event at position {position}" in ready.json()["detail"]
        assert 'vardekedja_projection_faults{action="parked",projection="deliveries"} 1.0' in metrics

        assert run_cli(runtime, "projections", "faults", "--clear").exit_code == 0
        assert client.get("/readyz").status_code == 200


BOOM = "the organisations view cannot apply this"


def break_revocations(runtime: Runtime) -> None:
    organisations = next(p for p in runtime.projections if p.name == "organisations")

    def failing(projection: Any, event: Any, position: int) -> None:
        raise RuntimeError(BOOM)

    organisations._handlers[Organisation.ApiKeyRevoked] = failing


@pytest.mark.parametrize("policy", ["park", "stop"])
def test_a_revoked_key_is_refused_at_once_even_when_the_organisations_view_cannot_apply_the_revocation(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest, policy: str
) -> None:
    runtime = make_runtime(storage, tmp_path, request, policy, embedded_projector=True)
    try:
        cast = register_cast(runtime.marketplace)
        issued = runtime.marketplace.issue_api_key(cast.buyer)
        break_revocations(runtime)
        with TestClient(create_app(runtime=runtime)) as client:
            me = {"Authorization": f"Bearer {issued.api_key}"}
            assert client.get("/v1/me", headers=me).status_code == 200  # and kept in memory now
            revoked = client.delete(f"/v1/organisations/{cast.buyer}/api-keys/{issued.key_id}", headers=me)
            assert revoked.status_code in (202, 204), revoked.text

            assert client.get("/v1/me", headers=me).status_code == 401
            assert runtime.wait_for(runtime.marketplace.position, timeout=5) or policy == "stop"
            assert client.get("/v1/me", headers=me).status_code == 401
            assert [f.projection for f in recorded_faults(runtime)] == ["organisations"]
            assert client.get("/readyz").status_code == 503
    finally:
        runtime.close()


def test_a_rebuild_parks_what_it_cannot_apply_names_its_position_and_finishes(stopping: Runtime) -> None:
    runtime = stopping
    _, _, position = poison(runtime)
    runtime.projector.catch_up()
    assert runtime.projector.stopped == {"deliveries": position}

    rebuilt = run_cli(runtime, "projections", "rebuild", "deliveries")

    assert rebuilt.exit_code == 0, rebuilt.output
    assert f"deliveries skipped (parked) the event at position {position}" in rebuilt.output
    assert runtime.database.positions(runtime.views_list)["deliveries"] == runtime.marketplace.position
    assert runtime.projector.check_resumed() and runtime.projector.stopped == {}
