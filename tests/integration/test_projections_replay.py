"""Replay equals live: views kept up to date batch by batch equal views rebuilt from scratch.

Random command sequences run through the application; the projector catches up
after every few commands with a small batch size, so batches split commands and
rows pass through many small transactions. Then the same events are projected
into a fresh database in one batch, and every view is rebuilt blue/green in the
live database; all three must agree on every row of every table.
"""

from __future__ import annotations

import itertools
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.chain import SITE, Cast, register_cast, spec, window
from tests.conftest import RecordingRefunds
from tests.integration.views_support import (
    backend_settings,
    differences,
    open_views,
    rebuilt_elsewhere,
    snapshot,
    stored_tables,
    table_names,
)
from tests.soak import soak
from tests.unit.builders import org_number
from vardekedja.application import Marketplace
from vardekedja.domain.delivery import DeliveryStatus, delivery_id
from vardekedja.domain.errors import DomainError
from vardekedja.domain.order import DeliverySite, LineRequest, OrderStatus
from vardekedja.domain.production import ProductionStatus, production_order_id
from vardekedja.projections import PROJECTIONS
from vardekedja.projections.projector import Projector
from vardekedja.projections.rebuild import rebuild

# Mixed case and stray spaces on purpose: the domain normalises them, so must the views.
SPECS = [
    spec(),
    spec(title="Planteringslåda Alby", description="Betong och ek", category=" Planter", materials=("Concrete", "oak"),
         required_capabilities=("Carpentry",), royalty_ore=99_95, production_fee_ore=1_000_05, installation_fee_ore=0),
    spec(title="Cykeltak Tumba", description="Stål, laserskuret", category="bike shelter", materials=("steel",),
         required_capabilities=("cnc", "welding"), royalty_ore=5, production_fee_ore=7, installation_fee_ore=3),
    spec(title="Pergola", materials=("Oak ", "steel"), required_capabilities=("welding",), royalty_ore=0),
    spec(materials=()),  # cannot be published
]  # fmt: skip
SITES = [
    SITE,
    DeliverySite(name="Flemingsberg", street="Gången 2", postal_code="141 52", municipality="Huddinge"),
]
WORKSHOP_KINDS = [(["carpentry"], ["Botkyrka"]), (["CNC", "welding"], ["huddinge", "Botkyrka"])]

# Each command takes what it needs from the same small integers; the productive ones are
# listed more often so that walks reach deliveries, installations and payouts.
NAMES = [
    *["place"] * 4, *["advance"] * 10, "draft", "revise", "publish", "retire", "pay_wrong", "fail_payment",
    "pay_directly", "notice", "cancel", "release", "fail_delivery", "register_workshop", "issue_key", "revoke_key",
]  # fmt: skip
COMMANDS = st.tuples(st.sampled_from(NAMES), st.integers(0, 7), st.integers(0, 7), st.integers(1, 8), st.booleans())


class Skip(Exception):
    """The command names something that does not exist yet."""


def pick(items: list[UUID], i: int) -> UUID:
    if not items:
        raise Skip
    return items[i % len(items)]


@dataclass
class Walk:
    """Runs commands through the application; a command the domain refuses just writes nothing."""

    app: Marketplace
    cast: Cast
    designs: list[UUID] = field(default_factory=list)
    orders: list[UUID] = field(default_factory=list)
    organisations: list[UUID] = field(default_factory=list)
    workshops: list[UUID] = field(default_factory=list)
    serials: Any = field(default_factory=lambda: itertools.count(500))

    def __post_init__(self) -> None:
        c = self.cast
        self.organisations = [c.designer, c.workshop, c.other_workshop, c.area_company, c.buyer]
        self.workshops = [c.workshop, c.other_workshop]
        # Three published designs to start with, so that most walks reach orders and beyond.
        for s in range(3):
            self.draft(s)
            self.publish(len(self.designs) - 1)

    def run(self, command: tuple[str, int, int, int, bool]) -> None:
        name, *args = command
        try:
            getattr(self, name)(*args)
        except (DomainError, Skip):
            pass

    def _payment_id(self) -> str:
        return f"pi_{next(self.serials)}"

    def draft(self, s: int, *_: Any) -> None:
        self.designs.append(self.app.draft_design(self.cast.designer, SPECS[s % len(SPECS)]).id)

    def revise(self, d: int, s: int, *_: Any) -> None:
        self.app.revise_design(self.cast.designer, pick(self.designs, d), SPECS[s % len(SPECS)])

    def publish(self, d: int, *_: Any) -> None:
        self.app.publish_design(self.cast.designer, pick(self.designs, d))

    def retire(self, d: int, *_: Any) -> None:
        self.app.retire_design(self.cast.designer, pick(self.designs, d))

    def place(self, d: int, second: int, quantity: int, install: bool) -> None:
        """One line, or two when ``second`` is odd; at the second site (no area company) when ``d`` is 7."""
        lines = [LineRequest(pick(self.designs, d), quantity % 3 + 1)]
        if second % 2:
            lines.append(LineRequest(pick(self.designs, second // 2), 1))
        site = SITES[1] if d == 7 else SITES[0]
        self.orders.append(self.app.place_order(self.cast.buyer, site, install, lines).id)

    def _pay(self, order_id: UUID, amount_change: int = 0) -> None:
        payment = self._payment_id()
        self.app.start_checkout(self.cast.buyer, order_id, payment)
        self.app.record_payment(order_id, payment, self.app.order(order_id).total_ore + amount_change, "sek")

    def pay_wrong(self, o: int, *_: Any) -> None:
        self._pay(pick(self.orders, o), amount_change=-1)

    def fail_payment(self, o: int, *_: Any) -> None:
        self.app.record_payment_failure(pick(self.orders, o), self._payment_id(), "card declined")

    def pay_directly(self, o: int, *_: Any) -> None:
        """A payment that arrives without a checkout (late, or for a cancelled order): recorded, maybe refunded."""
        order_id = pick(self.orders, o)
        self.app.record_payment(order_id, self._payment_id(), self.app.order(order_id).total_ore, "sek")

    def notice(self, o: int, event: int, _: int, succeeded: bool) -> None:
        """A webhook from the payment provider; event ids repeat, as Stripe's retries do."""
        order_id = pick(self.orders, o)
        order = self.app.order(order_id)
        self.app.record_payment_notice(
            provider_event_id=f"evt_{event}", kind="succeeded" if succeeded else "failed",
            payment_intent_id=f"pi_notice_{o}", order_id=order_id, amount_ore=order.total_ore, currency="sek",
        )  # fmt: skip

    def cancel(self, o: int, *_: Any) -> None:
        self.app.cancel_order(self.cast.buyer, pick(self.orders, o), "ändrade planer")

    def _holder(self, order_id: UUID, line_no: int) -> UUID:
        return self.app.production_order(production_order_id(order_id, line_no)).workshop_id or self.cast.workshop

    def release(self, o: int, line: int, *_: Any) -> None:
        order_id, line_no = pick(self.orders, o), line % 2 + 1
        holder = self._holder(order_id, line_no)
        self.app.release_production(holder, production_order_id(order_id, line_no), "sjukdom")

    def fail_delivery(self, o: int, line: int, *_: Any) -> None:
        delivery = self.app.delivery(delivery_id(pick(self.orders, o), line % 2 + 1))
        self.app.fail_delivery(delivery.workshop_id, delivery.id, "ingen på plats")

    def register_workshop(self, kind: int, *_: Any) -> None:
        capabilities, area = WORKSHOP_KINDS[kind % len(WORKSHOP_KINDS)]
        serial = next(self.serials)
        workshop = self.app.register_organisation(
            name=f"Verkstad {serial}", role="workshop", org_number=org_number(serial), municipality="Huddinge",
            capabilities=capabilities, service_area=area,
        ).organisation_id  # fmt: skip
        self.organisations.append(workshop)
        self.workshops.append(workshop)

    def issue_key(self, g: int, *_: Any) -> None:
        self.app.issue_api_key(pick(self.organisations, g))

    def revoke_key(self, g: int, *_: Any) -> None:
        organisation = self.app.organisation(pick(self.organisations, g))
        if organisation.api_keys:
            self.app.revoke_api_key(organisation.id, sorted(organisation.api_keys)[0])

    def advance(self, o: int, _: int, steps: int, detour: bool) -> None:
        """Take an order the next few valid steps along the chain.

        With ``detour`` a held production order is first released and a dispatched
        delivery first fails (once each), and the walk goes on from there.
        """
        order_id = pick(self.orders, o)
        detours = {"release", "fail"} if detour else set()
        for _ in range(steps):
            if not self._step(order_id, detours):
                return

    def _step(self, order_id: UUID, detours: set[str]) -> bool:
        app = self.app
        order = app.order(order_id)
        if order.status is OrderStatus.PLACED:
            self._pay(order_id)
            return True
        if order.status in (OrderStatus.CANCELLED, OrderStatus.FULFILLED):
            return False
        for line in order.lines:
            production = app.production_order(production_order_id(order_id, line.line_no))
            if production.status is ProductionStatus.OPEN:
                for workshop in self.workshops:
                    try:
                        app.accept_production(workshop, production.id)
                        return True
                    except DomainError:
                        continue
                return False
            if production.status is ProductionStatus.ACCEPTED and "release" in detours:
                detours.discard("release")
                app.release_production(production.workshop_id, production.id, "semester")
                return True
            if production.status is ProductionStatus.ACCEPTED:
                app.start_production(production.workshop_id, production.id)
                return True
            if production.status is ProductionStatus.IN_PROGRESS:
                app.complete_production(production.workshop_id, production.id, 7.5, "oljad")
                return True
            delivery = app.delivery_for(order_id, line.line_no)
            workshop = delivery.workshop_id
            if delivery.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED):
                start, end = window()
                app.schedule_delivery(workshop, delivery.id, start, end)
                return True
            if delivery.status is DeliveryStatus.SCHEDULED:
                app.dispatch_delivery(workshop, delivery.id)
                return True
            if delivery.status is DeliveryStatus.DISPATCHED and "fail" in detours:
                detours.discard("fail")
                app.fail_delivery(workshop, delivery.id, "grinden var låst")
                return True
            if delivery.status is DeliveryStatus.DISPATCHED:
                app.deliver(workshop, delivery.id, "Vaktmästaren")
                return True
            if delivery.status is DeliveryStatus.DELIVERED and order.install:
                app.install(self.cast.area_company, delivery.id)
                return True
        return False


def replay_equals_live(
    backend: str, postgres_url: str | None, commands: list[Any], batch_size: int, every: int
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        with backend_settings(backend, root / "live", postgres_url) as live, \
                backend_settings(backend, root / "fresh", postgres_url) as fresh:  # fmt: skip
            app = Marketplace(live.event_store_env(), payments=RecordingRefunds())
            database, projections = open_views(live)
            try:
                projector = Projector(app, database, projections, batch_size=batch_size)
                walk = Walk(app, register_cast(app))
                projector.catch_up()
                for number, command in enumerate(commands, 1):
                    walk.run(command)
                    if number % every == 0:
                        projector.catch_up()
                projector.catch_up()
                assert projector.refresh_positions() == {name: app.position for name in PROJECTIONS}

                incremental = snapshot(database)
                from_scratch = rebuilt_elsewhere(app, fresh)
                assert incremental == from_scratch, differences(incremental, from_scratch)

                before = stored_tables(database)
                for name in PROJECTIONS:
                    assert rebuild(app, database, name, batch_size=batch_size * 3) == app.position
                rebuilt = snapshot(database)
                assert rebuilt == incremental, differences(rebuilt, incremental)
                assert stored_tables(database) == before, "a rebuild left tables behind or lost some"
                assert not [t for t in before if t.endswith(("__next", "__old"))]
                assert set(table_names(database.dialect)) <= before
            finally:
                database.dispose()
                app.close()


walks = given(
    commands=st.lists(COMMANDS, min_size=8, max_size=30),
    batch_size=st.integers(1, 8),
    every=st.integers(1, 3),
)
profile = settings(
    derandomize=True, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)  # fmt: skip


# A walk through every kind of event, among them a design republished with the same
# unnormalised materials (which once made the catalogue insert a duplicate row).
EVERYTHING = [
    ("place", 0, 1, 2, True), *[("advance", 0, 0, 8, True)] * 5,
    ("place", 1, 0, 1, True), ("pay_wrong", 1, 0, 1, False), ("fail_payment", 1, 0, 1, False),
    ("advance", 1, 0, 1, False), ("cancel", 1, 0, 1, False), ("pay_directly", 1, 0, 1, False),
    ("place", 7, 0, 1, False), ("cancel", 2, 0, 1, False), ("revise", 1, 1, 1, False), ("publish", 1, 0, 1, False),
    ("revise", 1, 3, 1, False), ("publish", 1, 0, 1, False), ("draft", 4, 0, 1, False), ("publish", 3, 0, 1, False),
    ("register_workshop", 1, 0, 1, False), ("revoke_key", 0, 0, 1, False), ("issue_key", 0, 0, 1, False),
    ("retire", 2, 0, 1, False), ("place", 2, 0, 1, False), ("fail_delivery", 0, 0, 1, False),
    ("place", 0, 0, 1, True), ("notice", 3, 1, 1, False), ("notice", 3, 2, 1, True), ("notice", 3, 2, 1, True),
]  # fmt: skip


@pytest.mark.slow
@settings(profile, max_examples=soak(3, 10))
@example(commands=EVERYTHING, batch_size=1, every=1)
@example(commands=EVERYTHING, batch_size=5, every=3)
@walks
def test_views_updated_batch_by_batch_equal_views_rebuilt_from_scratch_on_sqlite(commands, batch_size, every):
    replay_equals_live("sqlite", None, commands, batch_size, every)


@pytest.mark.slow
@pytest.mark.postgres
def test_views_updated_batch_by_batch_equal_views_rebuilt_from_scratch_on_postgres(postgres_url):
    @settings(profile, max_examples=soak(1, 4))
    @example(commands=EVERYTHING, batch_size=4, every=2)
    @walks
    def check(commands, batch_size, every):
        replay_equals_live("postgres", postgres_url, commands, batch_size, every)

    check()
