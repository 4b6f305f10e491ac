"""Drives the marketplace and the chain model side by side, for the state-machine test.

Each ``do_*`` command asks the model what must happen, runs the command on the marketplace,
checks that it succeeded or was refused as predicted (and that a refusal wrote nothing), and
applies a success to the model. It also notes which aggregates changed, for the invariants.
"""

from __future__ import annotations

import copy
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from tests.chain import ORG_NUMBERS, spec, window
from tests.conftest import RecordingRefunds, create_postgres_schema, drop_postgres_schema
from tests.integration.chain_model import INVALID_SPEC_FLAWS, ChainModel, Expectation, MDesign, MOrder
from vardekedja.application import Marketplace, PaymentIntent
from vardekedja.domain.delivery import DeliveryStatus
from vardekedja.domain.errors import (
    DomainError,
    ForbiddenError,
    InvalidSpecificationError,
    RuleViolationError,
)
from vardekedja.domain.order import DeliverySite, LineRequest, OrderStatus
from vardekedja.domain.production import ProductionStatus
from vardekedja.settings import Settings

Reach = tuple[frozenset[str], frozenset[str]]  # capabilities, municipalities


class ObservedMarketplace(Marketplace):
    """The marketplace, keeping a copy of each aggregate exactly as a command saved it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.saved: dict[UUID, Aggregate] = {}
        self.just_saved: set[UUID] = set()

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        recordings = super().save(*objs, **kwargs)
        for obj in objs:
            if isinstance(obj, Aggregate):
                self.saved[obj.id] = copy.deepcopy(obj)
                self.just_saved.add(obj.id)
        return recordings


class FakeProvider(RecordingRefunds):
    """A payment provider in memory: intents made once per idempotency key, refunds recorded."""

    def __init__(self) -> None:
        super().__init__()
        self.intents: dict[str, PaymentIntent] = {}
        self.by_key: dict[str, str] = {}

    def create_payment_intent(
        self, order_id: UUID, amount_ore: int, currency: str, idempotency_key: str
    ) -> PaymentIntent:
        if idempotency_key not in self.by_key:
            intent_id = f"pi_checkout_{len(self.intents) + 1}"
            self.intents[intent_id] = PaymentIntent(
                intent_id, f"{intent_id}_secret", amount_ore, currency, "requires_payment_method"
            )
            self.by_key[idempotency_key] = intent_id
        return self.intents[self.by_key[idempotency_key]]

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        return self.intents.get(payment_intent_id)

    def succeed(self, payment_intent_id: str) -> None:
        """The buyer paid with this intent (the provider's side of a succeeded notice)."""
        if payment_intent_id in self.intents:
            intent = self.intents[payment_intent_id]
            self.intents[payment_intent_id] = PaymentIntent(
                intent.id, intent.client_secret, intent.amount_ore, intent.currency, "succeeded"
            )


def state(aggregate: Aggregate) -> dict[str, Any]:
    """An aggregate's whole state, without the events still waiting to be saved."""
    return {name: value for name, value in vars(aggregate).items() if name != "_pending_events"}


def store_opener(
    storage: str, base: Path, postgres_url: str | None
) -> Callable[[], tuple[dict[str, str], Callable[[], None]]]:
    """Makes (event store env, cleanup) so that each example gets an empty store of its own."""

    def make() -> tuple[dict[str, str], Callable[[], None]]:
        if storage == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}, lambda: None
        if storage == "sqlite":
            directory = Path(tempfile.mkdtemp(dir=base))
            return Settings(data_dir=directory, database_url=None).event_store_env(), lambda: None
        assert postgres_url is not None
        schema = create_postgres_schema(postgres_url)
        env = Settings(data_dir=base, database_url=postgres_url, database_schema=schema).event_store_env()
        return env, lambda: drop_postgres_schema(postgres_url, schema)

    return make


def register_cast(app: Marketplace, extra_workshops: list[Reach]) -> ChainModel:
    """Two designers, two or three workshops of differing reach, an area company, two buyers.

    The second workshop can make what the first makes in Botkyrka and more, so that a released
    production order can move to another workshop; the third, if any, is random.
    """
    numbers = iter(ORG_NUMBERS)

    def register(name: str, role: str, **reach: Any) -> UUID:
        issued = app.register_organisation(
            name=name, role=role, org_number=next(numbers), municipality="Botkyrka", **reach
        )
        return issued.organisation_id

    designers = [register("Studio Allmänning", "designer"), register("Form för gården", "designer")]
    workshops = {}
    (second_capabilities, second_area), *others = extra_workshops
    reaches = [
        (frozenset({"carpentry", "welding", "cnc"}), frozenset({"Botkyrka", "Huddinge"})),
        (second_capabilities | {"carpentry", "welding"}, second_area | {"Botkyrka"}),
        *others,
    ]
    for index, (capabilities, area) in enumerate(reaches):
        workshop = register(
            f"Verkstad {index}", "workshop", capabilities=sorted(capabilities), service_area=sorted(area)
        )
        workshops[workshop] = (capabilities, frozenset(m.casefold() for m in area))
    area_company = register("Botkyrka Områdesföretag", "area_company", service_area=["Botkyrka"])
    buyers = [register("Botkyrkabyggen", "buyer"), register("Huddinge Hem", "buyer")]
    return ChainModel(designers, workshops, area_company, frozenset({"botkyrka"}), buyers)


class ChainDriver:
    """One marketplace, its model, what the walk reached, and what changed since the last check."""

    def __init__(self, env: dict[str, str], reached: Counter[str]) -> None:
        self.refunds = FakeProvider()
        self.app = ObservedMarketplace(env, payments=self.refunds)
        self.reached = reached
        self.model_dirty: set[UUID] = set()
        self.model: ChainModel

    def changed(self) -> set[UUID]:
        """Aggregates saved, or expected by the model to change, since ``forget_changes``."""
        return self.app.just_saved | self.model_dirty

    def forget_changes(self) -> None:
        self.app.just_saved.clear()
        self.model_dirty.clear()

    def attempt(self, expected: Expectation, command: Callable[..., Any], *args: Any) -> Any:
        """Run one command; the model has said whether it succeeds or which error refuses it."""
        before = self.app.recorder.max_notification_id()
        try:
            result = command(*args)
        except DomainError as error:
            assert self.app.recorder.max_notification_id() == before, (
                f"refused with {error!r}, yet wrote events"
            )
            assert expected is not None, f"{command.__name__} was refused: {error!r}"
            assert isinstance(error, expected), (
                f"{command.__name__}: expected {expected.__name__}, got {error!r}"
            )
            self.reached[f"refused with {type(error).__name__}"] += 1
            return None
        assert expected is None, f"{command.__name__} should have been refused with {expected.__name__}"
        self.reached[f"did {command.__name__}"] += 1
        return result

    # Commands, each predicted by the model and, when it succeeds, applied to it.

    def do_draft(self, designer: UUID, changes: dict[str, Any], flaw: str | None) -> None:
        expected = InvalidSpecificationError if flaw in INVALID_SPEC_FLAWS else None
        if expected is None and designer not in self.model.designers:
            expected = ForbiddenError

        def draft_design() -> Any:  # the specification is part of the command: a bad one refuses it
            return self.app.draft_design(designer, spec(**changes))

        recorded = self.attempt(expected, draft_design)
        if recorded:
            self.model.designs[recorded.id] = MDesign(designer, {1: spec(**changes)})
            self.model_dirty.add(recorded.id)

    def do_revise(self, actor: UUID, design_id: UUID, changes: dict[str, Any], flaw: str | None) -> None:
        design = self.model.designs[design_id]
        expected = self.model.expect_design_change(actor, design)
        if flaw in INVALID_SPEC_FLAWS:
            expected = InvalidSpecificationError

        def revise_design() -> Any:
            return self.app.revise_design(actor, design_id, spec(**changes))

        if self.attempt(expected, revise_design):
            design.revisions[design.draft_revision or max(design.revisions) + 1] = spec(**changes)
            self.model_dirty.add(design_id)

    def do_publish(self, actor: UUID, design_id: UUID) -> None:
        design = self.model.designs[design_id]
        if self.attempt(self.model.expect_publish(actor, design), self.app.publish_design, actor, design_id):
            design.published.append(design.draft_revision)
            self.model_dirty.add(design_id)

    def do_retire(self, actor: UUID, design_id: UUID) -> None:
        design = self.model.designs[design_id]
        recorded = self.attempt(
            self.model.expect_design_change(actor, design), self.app.retire_design, actor, design_id
        )
        if recorded:
            design.retired_at = recorded.position
            self.model_dirty.add(design_id)

    def do_place(self, buyer: UUID, municipality: str, install: bool, requests: list[LineRequest]) -> None:
        expected, lines = self.model.expect_placement(buyer, municipality, install, requests)
        retired = [
            r
            for r in requests
            if r.design_id in self.model.designs and self.model.designs[r.design_id].retired_at
        ]
        site = DeliverySite(f"Gården i {municipality}", "Torget 1", "145 51", municipality)
        recorded = self.attempt(expected, self.app.place_order, buyer, site, install, requests)
        if retired:
            assert recorded is None, "an order for a retired design was placed"
            self.reached["order for a retired design refused"] += 1
        if recorded:
            area = self.model.area_company if install else None
            self.model.orders[recorded.id] = MOrder(
                buyer, install, municipality, area, lines, recorded.position
            )
            self.model_dirty.add(recorded.id)
            self.reached["order placed"] += 1

    def do_checkout(self, buyer: UUID, order_id: UUID, intent: str) -> None:
        order = self.model.orders[order_id]
        expected = self.model.expect_buyer_command(buyer, order, OrderStatus.PLACED)
        if (
            self.attempt(expected, self.app.start_checkout, buyer, order_id, intent)
            and intent not in order.checkouts
        ):
            order.checkouts.append(intent)
            self.model_dirty.add(order_id)

    def do_provider_checkout(self, buyer: UUID, order_id: UUID) -> str | None:
        """Checkout through the provider: the latest intent while still usable, else a new one."""
        order = self.model.orders[order_id]
        expected = self.model.expect_buyer_command(buyer, order, OrderStatus.PLACED)
        latest = self.refunds.payment_intent(order.checkouts[-1]) if order.checkouts else None
        reused = latest is not None and latest.usable and latest.amount_ore == order.total_ore
        before = self.app.recorder.max_notification_id()
        done = self.attempt(expected, self.app.checkout, buyer, order_id)
        if not done:
            return None
        recorded, intent = done
        assert (intent.amount_ore, intent.currency) == (order.total_ore, "sek")
        if reused:
            assert intent == latest and self.app.recorder.max_notification_id() == before
            self.reached["usable intent reused"] += 1
        else:
            assert intent.id not in order.checkouts
            order.checkouts.append(intent.id)
            self.model_dirty.add(order_id)
        return intent.id

    def do_pay(self, order_id: UUID, intent: str, amount_off: int, currency: str) -> None:
        order = self.model.orders[order_id]
        amount = order.total_ore + amount_off
        expected = self.model.expect_payment(order, intent)
        if self.attempt(expected, self.app.record_payment, order_id, intent, amount, currency):
            outcome, opened = self.model.receive_payment(order_id, intent, amount, currency)
            self.model_dirty.update({order_id, *opened})
            self.reached[f"payment {outcome}"] += 1

    def do_notice(
        self, event_id: str, kind: str, order_id: UUID, intent: str, amount_off: int, currency: str
    ) -> None:
        """A payment provider's notice (webhook), applied once per provider event id."""
        order = self.model.orders[order_id]
        notice = dict(
            provider_event_id=event_id, kind=kind, payment_intent_id=intent, order_id=order_id,
            amount_ore=order.total_ore + amount_off, currency=currency,
        )  # fmt: skip

        def record_payment_notice() -> Any:
            return self.app.record_payment_notice(**notice)

        if not self.attempt(None, record_payment_notice):
            raise AssertionError("a new payment notice was taken for a redelivery")
        self.model.notices[event_id] = notice
        self.model_dirty.add(order_id)
        if kind == "failed":
            order.failed.append(intent)
            return
        self.refunds.succeed(intent)
        if intent in order.payments:
            self.reached["payment told twice under two event ids"] += 1
            return
        outcome, opened = self.model.receive_payment(order_id, intent, notice["amount_ore"], currency)
        self.model_dirty.update(opened)
        self.reached[f"payment {outcome}"] += 1

    def do_redeliver_notice(self, event_id: str) -> None:
        """The provider sends a notice again: nothing happens and nothing is written."""
        before = self.app.recorder.max_notification_id()
        assert self.app.record_payment_notice(**self.model.notices[event_id]) is None
        assert self.app.recorder.max_notification_id() == before, "a redelivered notice wrote events"
        self.reached["notice redelivered"] += 1

    def do_fail_payment(self, order_id: UUID, intent: str) -> None:
        if self.attempt(None, self.app.record_payment_failure, order_id, intent, "card_declined"):
            self.model.orders[order_id].failed.append(intent)
            self.model_dirty.add(order_id)

    def do_cancel(self, buyer: UUID, order_id: UUID) -> None:
        order = self.model.orders[order_id]
        expected = self.model.expect_buyer_command(buyer, order, OrderStatus.PLACED, OrderStatus.PAID)
        if self.attempt(expected, self.app.cancel_order, buyer, order_id, "ändrade planer"):
            if order.status is OrderStatus.PAID:
                self.reached["paid order cancelled and refunded"] += 1
            self.model_dirty.update({order_id, *self.model.cancel(order_id)})

    def do_accept(self, actor: UUID, production_id: UUID) -> None:
        production = self.model.productions[production_id]
        if self.attempt(
            self.model.expect_accept(actor, production), self.app.accept_production, actor, production_id
        ):
            assert production.workshop is None, "the model let a second workshop accept"
            if production.holders and production.holders[-1] != actor:
                self.reached["released order taken by another workshop"] += 1
            production.status, production.workshop = ProductionStatus.ACCEPTED, actor
            production.holders.append(actor)
            self.model_dirty.add(production_id)

    def do_start(self, actor: UUID, production_id: UUID) -> None:
        production = self.model.productions[production_id]
        if self.attempt(
            self.model.expect_start(actor, production), self.app.start_production, actor, production_id
        ):
            production.status = ProductionStatus.IN_PROGRESS
            self.model.orders[production.order_id].status = OrderStatus.IN_PRODUCTION
            self.model_dirty.update({production_id, production.order_id})

    def do_complete(self, actor: UUID, production_id: UUID, hours: float) -> None:
        production = self.model.productions[production_id]
        expected = self.model.expect_complete(actor, production, hours)
        if self.attempt(
            expected, self.app.complete_production, actor, production_id, hours, "oljad två gånger"
        ):
            self.model_dirty.update({production_id, self.model.complete(production_id, actor)})

    def do_release(self, actor: UUID, production_id: UUID) -> None:
        production = self.model.productions[production_id]
        expected = self.model.expect_holder_command(
            actor, production, ProductionStatus.ACCEPTED, ProductionStatus.IN_PROGRESS
        )
        if self.attempt(expected, self.app.release_production, actor, production_id, "sjuk personal"):
            production.status, production.workshop = ProductionStatus.OPEN, None
            self.model_dirty.add(production_id)

    def do_schedule(self, actor: UUID, delivery_id: UUID, shape: str) -> None:
        delivery = self.model.deliveries[delivery_id]
        earliest, latest = window()
        if shape == "reversed":
            earliest, latest = latest, earliest
        elif shape == "naive":
            earliest, latest = earliest.replace(tzinfo=None), latest.replace(tzinfo=None)
        expected = self.model.expect_carrier_command(
            actor, delivery, DeliveryStatus.PENDING, DeliveryStatus.SCHEDULED, DeliveryStatus.FAILED
        )
        if expected is None and shape != "ok":
            expected = RuleViolationError
        if self.attempt(expected, self.app.schedule_delivery, actor, delivery_id, earliest, latest):
            delivery.status = DeliveryStatus.SCHEDULED
            self.model_dirty.add(delivery_id)

    def do_dispatch(self, actor: UUID, delivery_id: UUID) -> None:
        delivery = self.model.deliveries[delivery_id]
        expected = self.model.expect_carrier_command(actor, delivery, DeliveryStatus.SCHEDULED)
        if self.attempt(expected, self.app.dispatch_delivery, actor, delivery_id):
            delivery.status = DeliveryStatus.DISPATCHED
            self.model_dirty.add(delivery_id)

    def do_fail_delivery(self, actor: UUID, delivery_id: UUID) -> None:
        delivery = self.model.deliveries[delivery_id]
        expected = self.model.expect_carrier_command(
            actor, delivery, DeliveryStatus.SCHEDULED, DeliveryStatus.DISPATCHED
        )
        if self.attempt(expected, self.app.fail_delivery, actor, delivery_id, "grinden var låst"):
            delivery.status = DeliveryStatus.FAILED
            delivery.failures += 1
            self.model_dirty.add(delivery_id)

    def do_deliver(self, actor: UUID, delivery_id: UUID, received_by: str) -> None:
        delivery = self.model.deliveries[delivery_id]
        expected = self.model.expect_deliver(actor, delivery, received_by)
        if self.attempt(expected, self.app.deliver, actor, delivery_id, received_by):
            install = self.model.orders[delivery.order_id].install
            if self.model.deliver(delivery):
                self.reached["order fulfilled" + (" with installation" if install else "")] += 1
            self.model_dirty.update({delivery_id, delivery.order_id})
            self.reached["line delivered"] += 1

    def do_install(self, actor: UUID, delivery_id: UUID) -> None:
        delivery = self.model.deliveries[delivery_id]
        if self.attempt(self.model.expect_install(actor, delivery), self.app.install, actor, delivery_id):
            if self.model.install(delivery):
                self.reached["order fulfilled with installation"] += 1
            self.model_dirty.update({delivery_id, delivery.order_id})
