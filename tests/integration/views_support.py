"""Helpers for the read-model tests: views on each database, their full contents, and the stored facts.

``snapshot`` reads every table of every view as it is stored (``SELECT *``, plus the
rowid of SQLite's search index, which is the design's listing), so two views compare
equal only when every column of every row does. Row order is not a view's business
(a batch writes its rows in any order), so each table is a sorted list of row dicts.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.conftest import create_postgres_schema, drop_postgres_schema
from vardekedja.application import Marketplace
from vardekedja.domain.delivery import Delivery
from vardekedja.domain.order import Order
from vardekedja.domain.payout import Payout
from vardekedja.domain.production import ProductionOrder
from vardekedja.projections import PROJECTIONS, all_projections
from vardekedja.projections.base import Projection
from vardekedja.projections.database import ViewDatabase
from vardekedja.projections.projector import Projector
from vardekedja.settings import Settings

Snapshot = dict[str, list[dict[str, Any]]]


@contextmanager
def backend_settings(backend: str, folder: Path, postgres_url: str | None = None) -> Iterator[Settings]:
    """Settings for a fresh store: a new folder on SQLite, a new schema (dropped after) on PostgreSQL."""
    folder.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        yield Settings(data_dir=folder, database_url=None)
        return
    assert postgres_url is not None
    schema = create_postgres_schema(postgres_url)
    try:
        yield Settings(data_dir=folder, database_url=postgres_url, database_schema=schema)
    finally:
        drop_postgres_schema(postgres_url, schema)


def open_views(settings: Settings) -> tuple[ViewDatabase, list[Projection]]:
    database = ViewDatabase(settings)
    projections = all_projections()
    database.create(p.view for p in projections)
    database.watch(p.view for p in projections)
    return database, projections


def table_names(dialect: str) -> list[str]:
    """Every table of every live view, tracking tables included."""
    names = []
    for projection_class in PROJECTIONS.values():
        names += projection_class().view.all_tables(dialect)
    return names


def _search_tables(dialect: str) -> set[str]:
    return {name for cls in PROJECTIONS.values() for name in cls().view.extra_tables(dialect)}


def _order_key(row: dict[str, Any]) -> str:
    return json.dumps(row, sort_keys=True, default=repr)


def snapshot(database: ViewDatabase) -> Snapshot:
    """Every row of every view table, as stored, each table sorted."""
    dialect = database.dialect
    searches = _search_tables(dialect)
    result: Snapshot = {}
    with database.reader.connect() as connection:
        for name in table_names(dialect):
            query = f"SELECT rowid, * FROM {name}" if name in searches else f"SELECT * FROM {name}"
            rows = [dict(row) for row in connection.exec_driver_sql(query).mappings()]
            result[name] = sorted(rows, key=_order_key)
    return result


def stored_tables(database: ViewDatabase) -> set[str]:
    """The tables that exist in the views' database (to catch leftovers of a rebuild)."""
    return set(sa.inspect(database.writer).get_table_names())


def rebuilt_elsewhere(marketplace: Marketplace, settings: Settings) -> Snapshot:
    """The views built from scratch in another database, in one batch."""
    database, projections = open_views(settings)
    try:
        projector = Projector(marketplace, database, projections, batch_size=max(marketplace.position, 1))
        projector.catch_up()
        assert projector.position == marketplace.position
        return snapshot(database)
    finally:
        database.dispose()


def stored_events(marketplace: Marketplace) -> list[tuple[int, Any]]:
    """Every event in the store with its position, decoded."""
    events, after = [], 0
    while notifications := marketplace.recorder.select_notifications(after + 1, 1000):
        events += [(n.id, marketplace.mapper.to_domain_event(n)) for n in notifications]
        after = notifications[-1].id
    return events


def topic_counts(events: list[tuple[int, Any]]) -> Counter[str]:
    return Counter(type(event).TOPIC for _, event in events)


def differences(left: Snapshot, right: Snapshot) -> list[str]:
    """A short account of where two snapshots differ, for assertion messages."""
    found = []
    for name in sorted(set(left) | set(right)):
        a, b = left.get(name), right.get(name)
        if a != b:
            only_a = [row for row in a or [] if row not in (b or [])][:2]
            only_b = [row for row in b or [] if row not in (a or [])][:2]
            found.append(f"{name}: {len(a or [])} vs {len(b or [])} rows; only left {only_a}; only right {only_b}")
    return found


def assert_counts_match_the_event_store(views: Snapshot, events: list[tuple[int, Any]]) -> None:
    """Rows in the views match the events exactly: one per opening event, money to the öre."""
    topics = Counter(type(event) for _, event in events)
    assert len(views["orders_orders"]) == topics[Order.Placed] > 0
    assert len(views["production_orders"]) == topics[ProductionOrder.Opened]
    assert len(views["deliveries_deliveries"]) == topics[Delivery.Opened]
    owed = [event for _, event in events if isinstance(event, Payout.Owed)]
    assert len(views["payouts_payouts"]) == len(owed)
    assert sum(row["amount_ore"] for row in views["payouts_payouts"]) == sum(event.amount_ore for event in owed)

    # Each order's timeline holds exactly the positions of its own events and those of its
    # production orders and deliveries, once each, in order.
    order_of: dict[Any, Any] = {}
    expected: dict[str, list[int]] = defaultdict(list)
    for position, event in events:
        if isinstance(event, ProductionOrder.Opened | Delivery.Opened):
            order_of[event.originator_id] = event.order_id
        if isinstance(event, Order.Event | Order.Placed):
            expected[str(event.originator_id).replace("-", "")].append(position)
        elif event.originator_id in order_of:
            expected[str(order_of[event.originator_id]).replace("-", "")].append(position)
    timelines = {
        str(row["id"]).replace("-", ""): [entry["position"] for entry in _json(row["timeline"])]
        for row in views["orders_orders"]
    }
    assert timelines == dict(expected)
    paid = sum(row["paid_ore"] for row in views["orders_orders"])
    assert paid == sum(event.amount_ore for _, event in events if isinstance(event, Order.PaymentReceived))


def _json(value: Any) -> Any:
    """A JSON column as read raw: text on SQLite, already decoded on PostgreSQL."""
    return json.loads(value) if isinstance(value, str) else value


def count_steps(projector: Projector) -> list[int]:
    """From now on, record how many events each step of this projector reads."""
    steps: list[int] = []
    step = projector.step

    def counted() -> int:
        read = step()
        steps.append(read)
        return read

    projector.step = counted  # type: ignore[method-assign]
    return steps
