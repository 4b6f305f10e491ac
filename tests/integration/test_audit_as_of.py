"""The state of things as of a moment: replayed views and streams equal what was there at that moment.

A random run of commands (Hypothesis, derandomised) stops at random points to
take down every view table, as a caught-up projector left it, and the state of
every stream, then notes the time T. After the run, ``replay_views(runtime.marketplace, T)``
must rebuild exactly those tables, and ``GET /v1/audit/streams/{id}?as_of=T``
must give each stream's events and state as they were.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.chain import SITE, Cast, register_cast, spec, window
from tests.integration.audit_support import AUDITOR_ORG_NUMBER, api_client, audited_runtime, bearer
from tests.soak import soak
from vardekedja.audit.replay import aggregate_state, replay_views
from vardekedja.domain.errors import DomainError
from vardekedja.domain.order import LineRequest
from vardekedja.domain.production import production_order_id
from vardekedja.projections import all_projections
from vardekedja.projections.database import ViewDatabase
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings

Tables = dict[str, list[dict[str, Any]]]


def view_tables(database: ViewDatabase) -> Tables:
    """Every table of every projection (tracking and search tables too), each as a sorted list of rows."""
    dialect = database.dialect
    tables: Tables = {}
    with database.reader.connect() as connection:
        for projection in all_projections():
            view = projection.view
            for name in view.all_tables(dialect):
                columns = "rowid, *" if name in view.extra_tables(dialect) else "*"  # a search table's rowid matters
                select = f"SELECT {columns} FROM {name}"
                rows = [dict(row) for row in connection.exec_driver_sql(select).mappings()]
                tables[name] = sorted(rows, key=lambda row: json.dumps(row, sort_keys=True, default=str))
    return tables


def now_past(moment: datetime) -> None:
    """Wait until the clock has moved past ``moment``, so no later event can carry that same time."""
    while datetime.now(timezone.utc) <= moment:
        pass


@dataclass
class Moment:
    time: datetime
    tables: Tables
    streams: dict[UUID, tuple[int, list[str], dict[str, Any]]]  # id → (version, event types, state)


@dataclass
class World:
    """The application and what the run has made so far, to aim the next command at."""

    runtime: Runtime
    cast: Cast
    designs: list[UUID] = field(default_factory=list)
    orders: list[UUID] = field(default_factory=list)
    moments: list[Moment] = field(default_factory=list)

    @property
    def app(self) -> Any:
        return self.runtime.marketplace

    def capture(self) -> None:
        self.runtime.projector.catch_up()
        tables = view_tables(self.runtime.database)
        streams = {}
        for stream_id in [*self.designs, *self.orders, *self.production_orders(), *self.cast.__dict__.values()]:
            aggregate = self.app.repository.get(stream_id)
            types = [event.topic for event in self.app.recorder.select_events(stream_id)]
            streams[stream_id] = (aggregate.version, types, aggregate_state(aggregate))
        moment = datetime.now(timezone.utc)
        now_past(moment)
        self.moments.append(Moment(moment, tables, streams))

    def production_orders(self) -> list[UUID]:
        return [production_order_id(order_id, 1) for order_id in self.orders
                if production_order_id(order_id, 1) in self.app.repository]  # fmt: skip


def pick(items: list[UUID], n: int) -> UUID | None:
    return items[n % len(items)] if items else None


def draft(world: World, n: int) -> None:
    drafted = world.app.draft_design(world.cast.designer, spec(title=f"Bänk {n}", royalty_ore=100_00 + n))
    world.designs.append(drafted.id)


def design_command(name: str) -> Callable[[World, int], None]:
    def run(world: World, n: int) -> None:
        design = pick(world.designs, n)
        if design is None:
            return
        if name == "revise":
            revised = spec(title=f"Bänk {n} rev", production_fee_ore=4_000_00 + n)
            world.app.revise_design(world.cast.designer, design, revised)
        else:
            getattr(world.app, f"{name}_design")(world.cast.designer, design)

    return run


def place(world: World, n: int) -> None:
    design = pick(world.designs, n)
    if design is not None:
        order = world.app.place_order(world.cast.buyer, SITE, n % 2 == 0, [LineRequest(design, 1 + n % 3)])
        world.orders.append(order.id)


def advance(world: World, n: int) -> None:
    """Take an order one natural step further: pay, accept, start, complete, schedule, dispatch, deliver, install."""
    order_id = pick(world.orders, n)
    if order_id is None:
        return
    app, cast = world.app, world.cast
    order = app.order(order_id)
    if order.status == "placed":
        app.start_checkout(cast.buyer, order_id, f"pi_{order.version}")
        app.record_payment(order_id, f"pi_{order.version}", order.total_ore, "sek")
        return
    production = app.production_order(production_order_id(order_id, 1))
    if production.status == "open":
        app.accept_production((cast.workshop, cast.other_workshop)[n % 2], production.id)
    elif production.status == "accepted":
        app.start_production(production.workshop_id, production.id)
    elif production.status == "in_progress":
        app.complete_production(production.workshop_id, production.id, 2.5 + n, "klar")
    elif production.status == "completed":
        delivery = app.delivery_for(order_id, 1)
        if delivery.status in ("pending", "failed"):
            earliest, latest = window()
            later = timedelta(days=n)
            app.schedule_delivery(delivery.workshop_id, delivery.id, earliest + later, latest + later)
        elif delivery.status == "scheduled":
            app.dispatch_delivery(delivery.workshop_id, delivery.id)
        elif delivery.status == "dispatched":
            app.deliver(delivery.workshop_id, delivery.id, "Vaktmästaren")
        elif delivery.status == "delivered":
            app.install(cast.area_company, delivery.id)


def cancel(world: World, n: int) -> None:
    order_id = pick(world.orders, n)
    if order_id is not None:
        world.app.cancel_order(world.cast.buyer, order_id, "ångrade sig")


def release(world: World, n: int) -> None:
    order_id = pick(world.orders, n)
    if order_id is not None:
        production = world.app.production_order(production_order_id(order_id, 1))
        world.app.release_production(production.workshop_id or world.cast.workshop, production.id, "sjuk")


def fail(world: World, n: int) -> None:
    order_id = pick(world.orders, n)
    if order_id is not None:
        delivery = world.app.delivery_for(order_id, 1)
        world.app.fail_delivery(delivery.workshop_id, delivery.id, "ingen hemma")


COMMANDS: dict[str, Callable[[World, int], None]] = {
    "draft": draft,
    **{name: design_command(name) for name in ("publish", "revise", "retire")},
    "place": place,
    "advance": advance,
    "cancel": cancel,
    "release": release,
    "fail": fail,
    "capture": lambda world, n: world.capture(),
}

# Mostly steps that move orders along, so that runs reach payments, payouts and fulfilment.
steps = st.lists(
    st.tuples(st.sampled_from([*COMMANDS, "place", "place", *["advance"] * 12, "capture"]), st.integers(0, 3)),
    min_size=20, max_size=60,
)


def run_commands(world: World, chosen: list[tuple[str, int]]) -> None:
    draft(world, 0)
    design_command("publish")(world, 0)
    for name, n in chosen:
        try:
            COMMANDS[name](world, n)
        except DomainError:
            pass  # a refused command records nothing; the run goes on
    world.capture()


@settings(max_examples=soak(5, 8), derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(chosen=steps)
def test_views_replayed_as_of_a_moment_equal_the_views_at_that_moment(chosen: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder, audited_runtime("sqlite", Path(folder) / "data") as runtime:
        world = World(runtime, register_cast(runtime.marketplace))
        run_commands(world, chosen)

        for number, moment in enumerate(world.moments):
            into = Path(folder) / f"replay-{number}"
            replay_views(runtime.marketplace, moment.time, into)
            replayed = ViewDatabase(Settings(data_dir=into, database_url=None))
            try:
                tables = view_tables(replayed)
            finally:
                replayed.dispose()
            assert tables == moment.tables, f"views as of moment {number} differ: " + ", ".join(
                name for name in tables if tables[name] != moment.tables.get(name)
            )


@settings(max_examples=soak(3, 5), derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])  # fmt: skip
@given(chosen=steps)
def test_a_stream_as_of_a_moment_has_the_events_and_state_it_had_then(chosen: list[tuple[str, int]]) -> None:
    with tempfile.TemporaryDirectory() as folder, audited_runtime("sqlite", Path(folder) / "data") as runtime:
        auditor = runtime.marketplace.register_organisation(
            name="Revisionsbyrån Norr", role="auditor", org_number=AUDITOR_ORG_NUMBER, municipality="Stockholm")
        world = World(runtime, register_cast(runtime.marketplace))
        run_commands(world, chosen)
        runtime.projector.catch_up()

        with api_client(runtime) as client:
            for moment in world.moments:
                for stream_id, (version, types, state) in moment.streams.items():
                    response = client.get(f"/v1/audit/streams/{stream_id}", params={"as_of": moment.time.isoformat()},
                                          headers=bearer(auditor.api_key))  # fmt: skip
                    assert response.status_code == 200, response.text
                    body = response.json()
                    assert body["version"] == version
                    assert [event["type"] for event in body["events"]] == types
                    assert all(datetime.fromisoformat(event["time"]) <= moment.time for event in body["events"])
                    assert body["state"] == json.loads(json.dumps(state))
