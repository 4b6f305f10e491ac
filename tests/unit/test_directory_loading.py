"""The directory stream grows with every organisation; reading it must not cost more for that.

Snapshots every ``SNAPSHOT_EVERY`` events bound what loading it replays, and a
directory loaded from its snapshot equals the one replayed from every event.
Reads (placing an order) use a copy brought up to date with the newer events.
"""

from __future__ import annotations

import functools
import itertools

from eventsourcing.domain import Aggregate

from tests.chain import SITE, published_design, register_cast
from tests.unit.builders import org_number, workshop
from vardekedja.application import Marketplace
from vardekedja.domain.directory import DIRECTORY_ID, SNAPSHOT_EVERY, Directory
from vardekedja.domain.order import LineRequest
from vardekedja.domain.organisation import Role

SERIALS = itertools.count(50_000)


def register_workshops(app: Marketplace, count: int, municipality: str = "Huddinge") -> None:
    for _ in range(count):
        serial = next(SERIALS)
        app.register_organisation(name=f"Verkstad {serial}", role=Role.WORKSHOP, org_number=org_number(serial),
                                  municipality=municipality, capabilities=["carpentry", f"skill {serial % 7}"],
                                  service_area=[municipality, f"Ort {serial % 13}"])  # fmt: skip


def replayed_from_every_event(app: Marketplace) -> Directory:
    events = app.repository.event_store.get(DIRECTORY_ID)
    directory = functools.reduce(lambda aggregate, event: event.mutate(aggregate), events, None)
    assert isinstance(directory, Directory)
    return directory


def state(directory: Directory) -> tuple[object, ...]:
    return (directory.version, directory.listings, directory._serving, directory._org_numbers,
            directory.created_on, directory.modified_on)  # fmt: skip


def test_a_directory_loaded_from_its_snapshot_equals_the_one_replayed_from_every_event() -> None:
    app = Marketplace()
    register_cast(app)
    register_workshops(app, SNAPSHOT_EVERY + 20)
    assert app.snapshots is not None

    snapshots = list(app.snapshots.get(DIRECTORY_ID, desc=True, limit=1))
    loaded = app.directory()

    assert snapshots and snapshots[0].originator_version == SNAPSHOT_EVERY
    assert isinstance(snapshots[0], Directory.Snapshot)
    assert loaded.version > SNAPSHOT_EVERY
    assert state(loaded) == state(replayed_from_every_event(app))


def test_snapshots_are_taken_for_registrations_made_in_a_round_too() -> None:
    app = Marketplace()
    register_cast(app)
    jobs = [functools.partial(register_workshops, app, 1) for _ in range(SNAPSHOT_EVERY)]

    outcomes = app.run_together(jobs)

    assert outcomes is not None and all(outcome.error is None for outcome in outcomes)
    assert app.snapshots is not None and list(app.snapshots.get(DIRECTORY_ID))
    assert state(app.directory()) == state(replayed_from_every_event(app))


def test_the_directory_read_for_orders_follows_registrations() -> None:
    app = Marketplace()
    cast = register_cast(app)
    design_id = published_design(app, cast)
    first = app.listed()

    register_workshops(app, 3, municipality="Botkyrka")
    second = app.listed()

    assert second is not first, "a newer directory replaces the copy readers may still hold"
    assert len(second.listings) == len(first.listings) + 3
    assert state(second) == state(replayed_from_every_event(app))
    assert app.listed() is second, "nothing new: the same copy"
    order = app.order(app.place_order(cast.buyer, SITE, True, [LineRequest(design_id, 1)]).id)
    assert order.area_company_id == cast.area_company


def test_lookups_keep_the_order_organisations_were_listed_in() -> None:
    app = Marketplace()
    register_cast(app)
    register_workshops(app, 5, municipality="Botkyrka")
    directory = app.listed()

    workshops = [item.organisation_id for item in directory.listings.values()
                 if item.role is Role.WORKSHOP and item.serves("Botkyrka") and "carpentry" in item.capabilities]  # fmt: skip

    assert directory.eligible_workshops(["carpentry"], " botkyrka ") == workshops
    assert directory.eligible_workshops(["carpentry", "no such skill"], "Botkyrka") == []
    assert directory.area_companies_serving("Nowhere") == []


def test_snapshot_state_holds_no_derived_index() -> None:
    app = Marketplace()
    register_cast(app)
    snapshot = Directory.Snapshot.take(app.directory())

    assert set(snapshot.state) >= {"listings"} and not {"_serving", "_org_numbers"} & set(snapshot.state)
    assert isinstance(snapshot.mutate(None), Aggregate)


def test_a_copy_records_its_own_events_and_leaves_the_original_as_it_was() -> None:
    app = Marketplace()
    register_cast(app)
    kept = app.listed()
    before = state(kept)

    changed = app.directory()
    changed.list(workshop())

    assert changed is not kept and len(changed.pending_events) == 1
    assert kept.pending_events == [] and state(kept) == before

