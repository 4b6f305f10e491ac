"""Dispatches stored before the transport factors' version was recorded still load, through upcasters.

Version 3 of ``Delivery.Dispatched`` records the version of the transport
factors in force. Stored events of versions 1 and 2 are made by rewriting
the stored form directly in the SQLite file, as those versions wrote it, and
a fresh application reads them back; the impact fold figures a version-2
dispatch by the first table of factors, the only one there was.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timezone
from fractions import Fraction
from pathlib import Path
from uuid import UUID

from tests.chain import paid_order, published_design, register_cast, window
from vardekedja.application import Marketplace
from vardekedja.domain.delivery import Delivery, DeliveryStatus, Vehicle, delivery_id
from vardekedja.domain.production import production_order_id
from vardekedja.domain.transport import FACTORS_VERSION, FIRST_VERSION, transport_grams
from vardekedja.impact.ledger import CO2E_TRANSPORT, DictState, ImpactFold
from vardekedja.settings import Settings

DISPATCHED = "vardekedja:Delivery.Dispatched"
ADDED = {1: ("distance_km", "vehicle", "factors_version"), 2: ("factors_version",)}


def dispatched_by_electric_van(tmp_path: Path) -> tuple[dict[str, str], UUID]:
    env = Settings(data_dir=tmp_path, database_url=None).event_store_env()
    app = Marketplace(env, platform_fee_rate=Fraction(1, 10))
    cast = register_cast(app)
    order_id = paid_order(app, cast, published_design(app, cast), quantity=1)
    production, delivery = production_order_id(order_id, 1), delivery_id(order_id, 1)
    app.accept_production(cast.workshop, production)
    app.start_production(cast.workshop, production)
    app.complete_production(cast.workshop, production, 3, "")
    app.schedule_delivery(cast.workshop, delivery, *window())
    app.dispatch_delivery(cast.workshop, delivery, 12.5, Vehicle.ELECTRIC_VAN)
    app.close()
    return env, delivery


def store_as_version(path: Path, version: int) -> None:
    """Rewrite the stored dispatch as the given older version of the event wrote it."""
    with sqlite3.connect(path) as connection:
        ((rowid, state),) = connection.execute("SELECT rowid, state FROM stored_events WHERE topic = ?",
                                               (DISPATCHED,)).fetchall()  # fmt: skip
        data = json.loads(state)
        assert data.pop("class_version") == 3
        for name in ADDED[version]:
            del data[name]
        if version > 1:
            data["class_version"] = version
        connection.execute("UPDATE stored_events SET state = ? WHERE rowid = ?", (json.dumps(data).encode(), rowid))


def dispatch_of(env: dict[str, str], delivery: UUID) -> Delivery.Dispatched:
    app = Marketplace(env, platform_fee_rate=Fraction(1, 10))
    try:
        assert app.delivery(delivery).status is DeliveryStatus.DISPATCHED
        return next(e for e in app.repository.event_store.get(delivery) if isinstance(e, Delivery.Dispatched))
    finally:
        app.close()


def test_a_dispatch_records_the_version_of_the_transport_factors(tmp_path: Path) -> None:
    env, delivery = dispatched_by_electric_van(tmp_path)
    dispatched = dispatch_of(env, delivery)
    assert (dispatched.distance_km, dispatched.vehicle, dispatched.factors_version) == (
        12.5, "electric_van", FACTORS_VERSION)


def test_a_version_1_dispatch_loads_with_nothing_said_about_transport(tmp_path: Path) -> None:
    env, delivery = dispatched_by_electric_van(tmp_path)
    store_as_version(tmp_path / "events.sqlite3", 1)
    dispatched = dispatch_of(env, delivery)
    assert (dispatched.distance_km, dispatched.vehicle, dispatched.factors_version) == (None, None, None)


def test_a_version_2_dispatch_loads_and_is_figured_by_the_first_table(tmp_path: Path) -> None:
    env, delivery = dispatched_by_electric_van(tmp_path)
    store_as_version(tmp_path / "events.sqlite3", 2)
    dispatched = dispatch_of(env, delivery)
    assert (dispatched.distance_km, dispatched.vehicle, dispatched.factors_version) == (12.5, "electric_van", None)

    facts: list = []
    fold = ImpactFold(DictState(), facts.append)
    order_id = UUID(int=1)
    fold.state.put(f"order:{order_id}", {"municipality": "botkyrka", "subtotal": 0, "total": 0, "lines": {}})
    fold.state.put(f"delivery:{delivery}", str(order_id))
    fold.feed("Delivery.Dispatched", delivery, dispatched.__dict__, datetime.now(timezone.utc), 7)
    (transport,) = [fact for fact in facts if fact.kind == CO2E_TRANSPORT]
    assert transport.value == transport_grams(FIRST_VERSION, "electric_van", 12.5)


def test_a_fault_report_stored_before_contact_details_were_kept_loads_without_them() -> None:
    from tests.unit.flow import place_and_pay, produce
    from tests.unit.test_event_evolution import as_version_1, replayed, stored_history
    from vardekedja.domain.asset import asset_id
    from vardekedja.domain.maintenance import ServiceCode
    from vardekedja.domain.order import LineRequest

    app = Marketplace()
    cast = register_cast(app)
    order_id = place_and_pay(app, cast, [LineRequest(published_design(app, cast), 1)])
    delivery = produce(app, cast.workshop, order_id, 1)
    app.schedule_delivery(cast.workshop, delivery, *window())
    app.dispatch_delivery(cast.workshop, delivery)
    app.deliver(cast.workshop, delivery, "Gården")
    report = app.report_fault(asset_id(order_id, 1, 1), ServiceCode.DAMAGE, "A loose slat",
                              contact={"email": "anna@example.se"}).id  # fmt: skip
    assert app.personal_data.open(app.maintenance_order(report).contact["email"]) == "anna@example.se"

    old = replayed(stored_history(app), {"vardekedja:MaintenanceOrder.Opened": as_version_1("contact")})
    loaded = old.maintenance_order(report)
    assert loaded.contact is None and loaded.service_code is ServiceCode.DAMAGE


def test_a_dispatch_recorded_under_an_earlier_table_keeps_that_tables_figure(tmp_path: Path) -> None:
    env, delivery = dispatched_by_electric_van(tmp_path)
    dispatched = dispatch_of(env, delivery)
    earlier = dict(dispatched.__dict__, factors_version=FIRST_VERSION)
    assert FIRST_VERSION != FACTORS_VERSION
    assert transport_grams(FIRST_VERSION, "electric_van", 12.5) != transport_grams(FACTORS_VERSION, "electric_van", 12.5)
    for data, version in ((earlier, FIRST_VERSION), (dispatched.__dict__, FACTORS_VERSION)):
        facts: list = []
        fold = ImpactFold(DictState(), facts.append)
        order_id = UUID(int=1)
        fold.state.put(f"order:{order_id}", {"municipality": "botkyrka", "subtotal": 0, "total": 0, "lines": {}})
        fold.state.put(f"delivery:{delivery}", str(order_id))
        fold.feed("Delivery.Dispatched", delivery, data, datetime.now(timezone.utc), 7)
        (transport,) = [fact for fact in facts if fact.kind == CO2E_TRANSPORT]
        assert transport.value == transport_grams(version, "electric_van", 12.5), version
