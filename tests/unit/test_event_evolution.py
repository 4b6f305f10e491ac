"""Stored events load as they were written: old versions are upcast, and today's rules are not re-run.

Each test records a real history with today's code, rewrites some stored
events into the form an earlier release (or an earlier rule) left them in,
writes that history into a fresh store, and loads the aggregates from it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent

from tests.chain import SITE, published_design, register_cast, spec, window
from tests.unit.flow import place_and_pay, produce
from vardekedja.application import Marketplace
from vardekedja.domain.delivery import Delivery, DeliveryStatus
from vardekedja.domain.errors import RuleViolationError
from vardekedja.domain.order import LineRequest

Rewrite = Callable[[dict[str, Any]], dict[str, Any]]


def stored_history(app: Marketplace) -> list[StoredEvent]:
    return [StoredEvent(n.originator_id, n.originator_version, n.topic, n.state)
            for n in app.recorder.select_notifications(1, 100_000)]  # fmt: skip


def replayed(history: list[StoredEvent], rewrites: dict[str, Rewrite]) -> Marketplace:
    """A fresh store holding ``history`` with the events of the named topics rewritten."""
    fresh = Marketplace()
    transcoder = fresh.mapper.transcoder
    rewritten = []
    for stored in history:
        if stored.topic in rewrites:
            state = rewrites[stored.topic](transcoder.decode(stored.state))
            stored = StoredEvent(stored.originator_id, stored.originator_version, stored.topic,
                                 transcoder.encode(state))  # fmt: skip
        rewritten.append(stored)
    fresh.recorder.insert_events(rewritten)
    return fresh


def as_version_1(*new_fields: str, now: int = 2) -> Rewrite:
    """The state as version 1 of the event stored it: no class_version, none of the fields added since."""

    def rewrite(state: dict[str, Any]) -> dict[str, Any]:
        assert state.pop("class_version") == now
        for name in new_fields:
            state.pop(name)
        return state

    return rewrite


def delivered_and_installed(**details: Any) -> tuple[Marketplace, UUID]:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast)
    order_id = place_and_pay(app, cast, [LineRequest(design_id, 1)])
    delivery_id = produce(app, cast.workshop, order_id, 1)
    app.schedule_delivery(cast.workshop, delivery_id, *window())
    app.dispatch_delivery(cast.workshop, delivery_id, details.get("distance_km"), details.get("vehicle"))
    app.deliver(cast.workshop, delivery_id, "Anna Svensson")
    app.install(cast.area_company, delivery_id, details.get("hours_worked"))
    return app, delivery_id


def test_a_delivery_stored_before_dispatch_and_install_carried_details_loads_with_none() -> None:
    app, delivery_id = delivered_and_installed(distance_km=12.5, vehicle="cargo_bike", hours_worked=3.0)
    old = replayed(stored_history(app), {
        "vardekedja:Delivery.Dispatched": as_version_1("distance_km", "vehicle", "factors_version", now=3),
        "vardekedja:Delivery.Installed": as_version_1("hours_worked"),
    })  # fmt: skip

    delivery = old.delivery(delivery_id)

    assert delivery.status is DeliveryStatus.INSTALLED
    assert (delivery.distance_km, delivery.vehicle, delivery.hours_worked) == (None, None, None)
    events = old.repository.event_store.get(delivery_id)
    dispatched = next(e for e in events if isinstance(e, Delivery.Dispatched))
    assert (dispatched.distance_km, dispatched.vehicle) == (None, None)


def test_a_delivery_stored_with_details_keeps_them() -> None:
    app, delivery_id = delivered_and_installed(distance_km=12.5, vehicle="cargo_bike", hours_worked=3.0)

    again = replayed(stored_history(app), {}).delivery(delivery_id)

    assert (again.distance_km, again.vehicle, again.hours_worked) == (12.5, "cargo_bike", 3.0)


def test_the_newest_versions_are_what_is_stored_now() -> None:
    app, delivery_id = delivered_and_installed()
    topics = {n.topic: json.loads(n.state) for n in app.recorder.select_notifications(1, 1000)
              if n.originator_id == delivery_id}  # fmt: skip

    assert topics["vardekedja:Delivery.Dispatched"]["class_version"] == 3  # 3 records the factors' version
    assert topics["vardekedja:Delivery.Installed"]["class_version"] == 2


def test_a_design_whose_specification_todays_rules_refuse_still_replays() -> None:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast)

    def loosen(state: dict[str, Any]) -> dict[str, Any]:
        state["specification"] = {**state["specification"], "title": "  ", "width_mm": 0, "lead_time_days": 9999}
        return state

    old = replayed(stored_history(app), {"vardekedja:Design.Drafted": loosen})
    design = old.design(design_id)

    assert design.revisions[1].title == "  " and design.revisions[1].width_mm == 0
    assert design.published_revisions == [1]


UNTIDY = spec(category="  Bänkar ", materials=("Ek", " ek", "Stål "), required_capabilities=("Snickeri", " "))


def test_a_design_is_recorded_normalised_and_replayed_as_recorded() -> None:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast, UNTIDY)
    app.revise_design(cast.designer, design_id, replace(UNTIDY, category="Bord "))
    recorded = {n.topic: json.loads(n.state) for n in app.recorder.select_notifications(1, 1000)
                if n.originator_id == design_id}  # fmt: skip

    for topic in ("vardekedja:Design.Drafted", "vardekedja:Design.Revised"):
        assert recorded[topic]["class_version"] == 2
        specification = recorded[topic]["specification"]
        assert (specification["materials"], specification["required_capabilities"]) == (["ek", "stål"], ["snickeri"])
    assert recorded["vardekedja:Design.Drafted"]["specification"]["category"] == "bänkar"

    def untidy_again(state: dict[str, Any]) -> dict[str, Any]:  # what no rule of today would record
        state["specification"] = {**state["specification"], "category": " Bänkar", "materials": ["Stål", "Ek"]}
        return state

    design = replayed(stored_history(app), {"vardekedja:Design.Drafted": untidy_again}).design(design_id)

    assert (design.revisions[1].category, design.revisions[1].materials) == (" Bänkar", ("Stål", "Ek"))
    assert design.revisions[2].category == "bord"


def test_a_design_recorded_as_sent_by_version_1_loads_as_version_1_read_it() -> None:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast, UNTIDY)

    def as_sent(state: dict[str, Any]) -> dict[str, Any]:
        assert state.pop("class_version") == 2
        state["specification"] = {**state["specification"], "category": "  Bänkar ",
                                  "materials": ["Ek", " ek", "Stål "], "required_capabilities": ["Snickeri", " "]}
        return state

    design = replayed(stored_history(app), {"vardekedja:Design.Drafted": as_sent}).design(design_id)

    revision = design.revisions[1]
    assert (revision.category, revision.materials, revision.required_capabilities) == ("bänkar", ("ek", "stål"),
                                                                                         ("snickeri",))  # fmt: skip


def test_an_order_whose_delivery_site_todays_rules_refuse_still_replays() -> None:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast)
    order_id = app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id

    def blank_street(state: dict[str, Any]) -> dict[str, Any]:
        state["delivery_site"] = {**state["delivery_site"], "street": " "}
        return state

    order = replayed(stored_history(app), {"vardekedja:Order.Placed": blank_street}).order(order_id)

    assert order.delivery_site.street == " "
    assert order.total_ore == app.order(order_id).total_ore


def test_dispatch_and_install_refuse_details_out_of_range() -> None:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast)
    order_id = place_and_pay(app, cast, [LineRequest(design_id, 1)])
    delivery_id = produce(app, cast.workshop, order_id, 1)
    app.schedule_delivery(cast.workshop, delivery_id, *window())

    for distance_km, vehicle, field in ((-1.0, None, "distance_km"), (float("nan"), None, "distance_km"),
                                        (3.0, "  ", "vehicle"), (3.0, "elcykel", "vehicle")):  # fmt: skip
        with pytest.raises(RuleViolationError) as refused:
            app.dispatch_delivery(cast.workshop, delivery_id, distance_km, vehicle)
        assert refused.value.field == field
    app.dispatch_delivery(cast.workshop, delivery_id)
    app.deliver(cast.workshop, delivery_id, "Anna Svensson")
    with pytest.raises(RuleViolationError) as refused:
        app.install(cast.area_company, delivery_id, 1_001.0)
    assert refused.value.field == "hours_worked"
    assert app.delivery(delivery_id).status is DeliveryStatus.DELIVERED
