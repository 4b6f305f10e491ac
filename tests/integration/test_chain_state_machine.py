"""Random command sequences over the whole chain, checked against a model after every command.

The model (``chain_model``) predicts each command's outcome: success, or the domain error
that refuses it, and a refused command must write nothing. After every command the chain
stays consistent: the money adds up to the öre, a production order never has two workshops
at once, a retired design takes no new orders, and every aggregate a command saved replays
from its stored events to the state the command left in memory, the state the repository
serves and the state the model expects.

Every command of the chain has a rule: the cast is registered, designs drafted, revised,
published and retired (some specifications invalid), orders placed (one fault at a time),
checked out through a payment provider in memory, paid by the provider's notices (wrong
amounts and currencies, late, twice, redelivered) or directly, cancelled, and their
production and deliveries taken through every step, by the right actors or by wrong ones.
``advance`` takes a few valid steps forward, so that walks reach payouts, installation and
refunds. Each example gets an empty store of its own; the walks are derandomised, so a run
is the same every time, and a run that never reached the deep states fails.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from tests.integration.chain_driver import ChainDriver, Reach, register_cast, state, store_opener
from tests.integration.chain_model import SPEC_FLAWS, MDesign, MOrder, half_up_percent
from tests.soak import soak
from vardekedja.domain.delivery import Delivery, DeliveryStatus
from vardekedja.domain.order import LineRequest, Order, OrderStatus
from vardekedja.domain.production import ProductionOrder, ProductionStatus

CAPABILITIES = ("carpentry", "welding", "cnc", "concrete")
DESIGN_CAPABILITIES = [
    ("carpentry",),
    ("carpentry", "welding"),
    ("welding",),
    ("cnc",),
    ("concrete",),
    ("upholstery",),
]
# The valid steps forward, in the order the chain takes them; a release is a step back, taken now and then.
STAGES = "release draft publish place pay accept start complete schedule dispatch deliver install".split()
NEXT_FOR_PRODUCTION = {
    ProductionStatus.OPEN: "accept",
    ProductionStatus.ACCEPTED: "start",
    ProductionStatus.IN_PROGRESS: "complete",
}
NEXT_FOR_DELIVERY = {
    DeliveryStatus.PENDING: "schedule",
    DeliveryStatus.FAILED: "schedule",
    DeliveryStatus.SCHEDULED: "dispatch",
    DeliveryStatus.DISPATCHED: "deliver",
}
MUNICIPALITIES = ("Botkyrka", "Huddinge", "Malmö")
UNSERVED = "Kiruna"  # no workshop or area company serves it
PLACEMENT_FAULTS = [
    None, None, None, None, "not a buyer", "no lines", "install where no area company works", "quantity",
    "unknown design", "unpublished revision", "retired design", "no workshop there",
]  # fmt: skip
FLAWS = [None, None, None, None, *SPEC_FLAWS]
# Small prices hit every rounding case of the 10 % fee and 25 % VAT; large ones the sums.
PRICES = st.one_of(st.integers(0, 2_000), st.integers(0, 1_000_000), st.sampled_from([1, 3, 5, 150_00]))
HOURS = st.sampled_from([0.0, 7.5, 12.0, 40.0, -1.0, 10_001.0])

# The in-memory walk is the thorough one; each database gets a shorter one. ``make soak`` walks further.
PROFILES = {
    "memory": settings(max_examples=soak(40, 100), stateful_step_count=50),
    "sqlite": settings(max_examples=15, stateful_step_count=30),
    "postgres": settings(max_examples=soak(6, 12), stateful_step_count=30),
}
DETERMINISTIC = dict(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


def sound_changes(draw: Callable[..., Any], flaw: str | None = None) -> dict[str, Any]:
    """Changes to the sample bench giving a publishable revision, or one with the named flaw."""
    changes: dict[str, Any] = {
        "title": draw(st.sampled_from(["Bänk", "Bord", "Pergola"]), label="title"),
        "required_capabilities": draw(st.sampled_from(DESIGN_CAPABILITIES), label="capabilities"),
        "royalty_ore": draw(PRICES, label="royalty"),
        "production_fee_ore": draw(PRICES, label="production fee"),
        "installation_fee_ore": draw(PRICES, label="installation fee"),
    }
    if changes["royalty_ore"] + changes["production_fee_ore"] == 0:
        changes["production_fee_ore"] = 1
    return changes | SPEC_FLAWS.get(flaw or "", {})


class ChainMachine(RuleBasedStateMachine):
    """One fresh marketplace per example, driven by random commands of every role."""

    storage = "memory"
    open_store: Callable[[], tuple[dict[str, str], Callable[[], None]]]
    reached: Counter[str]

    def __init__(self) -> None:
        super().__init__()
        env, self.cleanup_store = type(self).open_store()
        self.driver = ChainDriver(env, self.reached)
        self.app = self.driver.app
        self.full_checks = self.storage == "memory"
        self.serial = 0

    def teardown(self) -> None:
        self.app.close()
        self.cleanup_store()

    # Drawing targets.

    def choose(self, data: Any, ids: list[UUID], fits: Callable[[UUID], Any], label: str) -> UUID:
        """Mostly an id the command fits, sometimes any id, so that both paths get walked."""
        fitting = [i for i in ids if fits(i)]
        if fitting and data.draw(st.sampled_from([True, True, True, False]), label=f"{label} fits"):
            return data.draw(st.sampled_from(fitting), label=label)
        return data.draw(st.sampled_from(ids), label=label)

    def new_event_id(self) -> str:
        self.serial += 1
        return f"evt_{self.serial}"

    def intent_for(self, data: Any, order: MOrder) -> str:
        """One of the order's payment intents, or one made elsewhere."""
        self.serial += 1
        known = [*order.checkouts, *order.payments, *order.mismatched]
        return data.draw(st.sampled_from([*known, f"pi_{self.serial}"]), label="payment intent")

    # The cast.

    @initialize(
        extra_workshops=st.lists(
            st.tuples(
                st.frozensets(st.sampled_from(CAPABILITIES), min_size=1),
                st.frozensets(st.sampled_from(MUNICIPALITIES), min_size=1),
            ),
            min_size=1,
            max_size=2,
        )
    )
    def register_cast(self, extra_workshops: list[Reach]) -> None:
        self.driver.model = self.model = register_cast(self.app, extra_workshops)

    # Rules: each command with random, often wrong, actors and inputs.

    @rule(data=st.data(), flaw=st.sampled_from(FLAWS))
    def draft_design(self, data: Any, flaw: str | None) -> None:
        designer = data.draw(st.sampled_from([*self.model.designers, self.model.buyers[0]]), label="designer")
        self.driver.do_draft(designer, sound_changes(data.draw, flaw), flaw)

    def design_and_actor(self, data: Any, fits: Callable[[MDesign], Any]) -> tuple[UUID, UUID]:
        designs = self.model.designs
        design_id = self.choose(data, list(designs), lambda i: fits(designs[i]), "design")
        owner = designs[design_id].designer
        return design_id, data.draw(st.sampled_from([owner, owner, *self.model.designers]), label="designer")

    @precondition(lambda self: self.model.designs)
    @rule(data=st.data(), flaw=st.sampled_from(FLAWS))
    def revise_design(self, data: Any, flaw: str | None) -> None:
        design_id, actor = self.design_and_actor(data, lambda d: d.retired_at is None)
        self.driver.do_revise(actor, design_id, sound_changes(data.draw, flaw), flaw)

    @precondition(lambda self: self.model.designs)
    @rule(data=st.data())
    def publish_design(self, data: Any) -> None:
        self.driver.do_publish(
            *reversed(self.design_and_actor(data, lambda d: d.draft_revision and d.retired_at is None))
        )

    @precondition(lambda self: self.model.designs)
    @rule(data=st.data())
    def retire_design(self, data: Any) -> None:
        self.driver.do_retire(*reversed(self.design_and_actor(data, lambda d: d.published)))

    @precondition(lambda self: self.model.designs)
    @rule(data=st.data(), fault=st.sampled_from(PLACEMENT_FAULTS))
    def place_order(self, data: Any, fault: str | None) -> None:
        """An order that would be placed, or one with the named fault (the model judges it either way)."""
        model = self.model
        live = [d for d in model.designs if model.orderable(d) and self.municipalities_for(d)]
        design_id = data.draw(st.sampled_from(live or list(model.designs)), label="design")
        places = self.municipalities_for(design_id) if design_id in live else list(MUNICIPALITIES)
        municipality = data.draw(st.sampled_from(places), label="municipality")
        install = municipality == "Botkyrka" and data.draw(st.booleans(), label="install")
        buyer = data.draw(st.sampled_from(model.buyers), label="buyer")
        revision, quantity = None, data.draw(st.integers(1, 5), label="quantity")
        size = data.draw(st.integers(1, 3), label="lines")
        if fault == "not a buyer":
            buyer = data.draw(st.sampled_from([*model.designers, *model.workshops]), label="buyer")
        elif fault == "no lines":
            size = 0
        elif fault == "install where no area company works":
            install, municipality = True, data.draw(st.sampled_from(["Huddinge", "Malmö", UNSERVED]))
        elif fault == "quantity":
            quantity = data.draw(st.sampled_from([0, 101, -1]), label="quantity")
        elif fault == "unknown design":
            design_id = data.draw(st.uuids(version=4), label="design")
        elif fault == "unpublished revision":
            design = model.designs[design_id]
            revision = max(design.revisions) + data.draw(st.sampled_from([0, 1]), label="revision")
        elif fault == "retired design":
            retired = [d for d, design in model.designs.items() if design.retired_at is not None]
            design_id = data.draw(st.sampled_from(retired or [design_id]), label="design")
        elif fault == "no workshop there":
            install, municipality = False, UNSERVED
        line = LineRequest(design_id, quantity, revision)
        self.driver.do_place(buyer, municipality, install, [line] * size)

    def order_and_buyer(self, data: Any, *statuses: OrderStatus) -> tuple[UUID, UUID]:
        orders = self.model.orders
        order_id = self.choose(data, list(orders), lambda i: orders[i].status in statuses, "order")
        owner = orders[order_id].buyer
        return order_id, data.draw(st.sampled_from([owner, owner, owner, *self.model.buyers]), label="buyer")

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def start_checkout(self, data: Any) -> None:
        """Mostly through the payment provider, sometimes recording an intent made elsewhere."""
        order_id, buyer = self.order_and_buyer(data, OrderStatus.PLACED)
        if data.draw(st.sampled_from([True, True, False]), label="through the provider"):
            self.driver.do_provider_checkout(buyer, order_id)
        else:
            self.driver.do_checkout(buyer, order_id, self.intent_for(data, self.model.orders[order_id]))

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data(), fault=st.sampled_from([None, "amount", "currency", "late", "twice"]))
    def payment_succeeded(self, data: Any, fault: str | None) -> None:
        """A payment for a placed order, a wrong one, one too late (to be refunded), or one told twice.

        Mostly as the provider's notice (webhook), sometimes through the direct command.
        """
        orders = self.model.orders
        fits = {
            "late": lambda i: orders[i].status is not OrderStatus.PLACED,
            "twice": lambda i: orders[i].payments,
        }.get(fault or "", lambda i: orders[i].status is OrderStatus.PLACED)
        order_id = self.choose(data, list(orders), fits, "order")
        order = orders[order_id]
        if fault == "twice" and order.payments:
            intent = data.draw(st.sampled_from(list(order.payments)), label="payment intent")
        else:
            intent = self.intent_for(data, order)
        amount_off = data.draw(st.sampled_from([1, -1]), label="amount off") if fault == "amount" else 0
        currency = (
            "eur" if fault == "currency" else data.draw(st.sampled_from(["sek", "SEK"]), label="currency")
        )
        if data.draw(st.sampled_from([True, True, False]), label="as a notice"):
            self.driver.do_notice(self.new_event_id(), "succeeded", order_id, intent, amount_off, currency)
        else:
            self.driver.do_pay(order_id, intent, amount_off, currency)

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def payment_failed(self, data: Any) -> None:
        order_id, _ = self.order_and_buyer(data, OrderStatus.PLACED)
        intent = self.intent_for(data, self.model.orders[order_id])
        if data.draw(st.sampled_from([True, True, False]), label="as a notice"):
            self.driver.do_notice(self.new_event_id(), "failed", order_id, intent, 0, "sek")
        else:
            self.driver.do_fail_payment(order_id, intent)

    @precondition(lambda self: self.model.notices)
    @rule(data=st.data())
    def payment_notice_redelivered(self, data: Any) -> None:
        self.driver.do_redeliver_notice(data.draw(st.sampled_from(list(self.model.notices)), label="event"))

    @precondition(lambda self: self.model.orders)
    @rule(data=st.data())
    def cancel_order(self, data: Any) -> None:
        """Mostly a paid order (a placed one when none is), whose cancellation must refund it."""
        paid = any(order.status is OrderStatus.PAID for order in self.model.orders.values())
        statuses = (OrderStatus.PAID,) if paid else (OrderStatus.PLACED,)
        self.driver.do_cancel(*reversed(self.order_and_buyer(data, *statuses)))

    def production_and_workshop(self, data: Any, *statuses: ProductionStatus) -> tuple[UUID, UUID]:
        productions = self.model.productions
        production_id = self.choose(
            data, list(productions), lambda i: productions[i].status in statuses, "production"
        )
        holder = productions[production_id].workshop
        actors = [holder] * 3 if holder else []
        return production_id, data.draw(st.sampled_from([*actors, *self.model.workshops]), label="workshop")

    @precondition(lambda self: self.model.productions)
    @rule(data=st.data(), fault=st.sampled_from([None, "not eligible", "taken"]))
    def accept_production(self, data: Any, fault: str | None) -> None:
        """An eligible workshop takes an open order, an ineligible one tries, or one tries a taken order."""
        model = self.model
        wanted = ProductionStatus.ACCEPTED if fault == "taken" else ProductionStatus.OPEN
        production_id = self.choose(
            data, list(model.productions), lambda i: model.productions[i].status is wanted, "production"
        )
        job = model.productions[production_id]
        fitting = [w for w in model.workshops if model.eligible(w, job.capabilities, job.municipality)]
        if fault == "not eligible":
            actors = [w for w in model.workshops if w not in fitting] + [model.buyers[0]]
        elif fault == "taken":
            actors = [w for w in model.workshops if w != job.workshop]
        else:
            actors = fitting or list(model.workshops)
        self.driver.do_accept(data.draw(st.sampled_from(actors), label="workshop"), production_id)

    @precondition(lambda self: self.model.productions)
    @rule(data=st.data())
    def start_production(self, data: Any) -> None:
        self.driver.do_start(*reversed(self.production_and_workshop(data, ProductionStatus.ACCEPTED)))

    @precondition(lambda self: self.model.productions)
    @rule(data=st.data(), hours=HOURS)
    def complete_production(self, data: Any, hours: float) -> None:
        production_id, actor = self.production_and_workshop(data, ProductionStatus.IN_PROGRESS)
        self.driver.do_complete(actor, production_id, hours)

    @precondition(lambda self: self.model.productions)
    @rule(data=st.data())
    def release_production(self, data: Any) -> None:
        statuses = (ProductionStatus.ACCEPTED, ProductionStatus.IN_PROGRESS)
        self.driver.do_release(*reversed(self.production_and_workshop(data, *statuses)))

    def delivery_and_workshop(self, data: Any, *statuses: DeliveryStatus) -> tuple[UUID, UUID]:
        deliveries = self.model.deliveries
        delivery_id = self.choose(
            data, list(deliveries), lambda i: deliveries[i].status in statuses, "delivery"
        )
        carrier = deliveries[delivery_id].workshop
        return delivery_id, data.draw(
            st.sampled_from([carrier] * 3 + list(self.model.workshops)), label="workshop"
        )

    @precondition(lambda self: self.model.deliveries)
    @rule(data=st.data(), shape=st.sampled_from(["ok", "ok", "ok", "reversed", "naive"]))
    def schedule_delivery(self, data: Any, shape: str) -> None:
        delivery_id, actor = self.delivery_and_workshop(data, DeliveryStatus.PENDING, DeliveryStatus.FAILED)
        self.driver.do_schedule(actor, delivery_id, shape)

    @precondition(lambda self: self.model.deliveries)
    @rule(data=st.data())
    def dispatch_delivery(self, data: Any) -> None:
        self.driver.do_dispatch(*reversed(self.delivery_and_workshop(data, DeliveryStatus.SCHEDULED)))

    @precondition(lambda self: self.model.deliveries)
    @rule(data=st.data())
    def fail_delivery(self, data: Any) -> None:
        statuses = (DeliveryStatus.SCHEDULED, DeliveryStatus.DISPATCHED)
        self.driver.do_fail_delivery(*reversed(self.delivery_and_workshop(data, *statuses)))

    @precondition(lambda self: self.model.deliveries)
    @rule(data=st.data(), received_by=st.sampled_from(["Anna Svensson", "Anna Svensson", "  "]))
    def deliver(self, data: Any, received_by: str) -> None:
        delivery_id, actor = self.delivery_and_workshop(data, DeliveryStatus.DISPATCHED)
        self.driver.do_deliver(actor, delivery_id, received_by)

    @precondition(lambda self: self.model.deliveries)
    @rule(data=st.data())
    def install(self, data: Any) -> None:
        model = self.model
        delivery_id = self.choose(
            data,
            list(model.deliveries),
            lambda i: (
                model.deliveries[i].status is DeliveryStatus.DELIVERED
                and model.orders[model.deliveries[i].order_id].install
            ),
            "delivery",
        )
        carrier = model.deliveries[delivery_id].workshop
        actor = data.draw(
            st.sampled_from([model.area_company, model.area_company, carrier]), label="installer"
        )
        self.driver.do_install(actor, delivery_id)

    # Valid steps forward, so that random walks get to the end of the chain.

    def forward_steps(self) -> list[tuple[str, UUID | None]]:
        """Every (command, target) that would move some part of the chain one step on."""
        model = self.model
        made = [d for d in model.designs if model.orderable(d) and self.municipalities_for(d)]
        steps: list[tuple[str, UUID | None]] = [("draft", None)] if len(made) < 3 else []
        steps += [
            ("publish", d)
            for d, design in model.designs.items()
            if design.draft_revision
            and design.retired_at is None
            and not design.revisions[design.draft_revision].publishing_problems()
        ]
        steps += [("place", d) for d in made]
        steps += [("pay", o) for o, order in model.orders.items() if order.status is OrderStatus.PLACED]
        steps += [
            (NEXT_FOR_PRODUCTION[job.status], p)
            for p, job in model.productions.items()
            if job.status in NEXT_FOR_PRODUCTION
        ]
        steps += [
            ("release", p)
            for p, job in model.productions.items()
            if job.status in (ProductionStatus.ACCEPTED, ProductionStatus.IN_PROGRESS)
        ]
        for d, job in model.deliveries.items():
            if job.status in NEXT_FOR_DELIVERY:
                steps.append((NEXT_FOR_DELIVERY[job.status], d))
            elif job.status is DeliveryStatus.DELIVERED and model.orders[job.order_id].install:
                steps.append(("install", d))
        return steps

    def municipalities_for(self, design_id: UUID) -> list[str]:
        design = self.model.designs[design_id]
        revision = design.revisions[max(design.published)]
        return [m for m in MUNICIPALITIES if self.model.can_be_made(revision, m)]

    @rule(data=st.data(), count=st.integers(1, 8))
    def advance(self, data: Any, count: int) -> None:
        """Take a few valid steps forward, mostly the furthest along, checking the invariants after each."""
        for _ in range(count):
            steps = self.forward_steps()
            if not steps:
                return
            if data.draw(st.sampled_from([True, True, True, False]), label="furthest along"):
                furthest = max(STAGES.index(command) for command, _ in steps)
                steps = [step for step in steps if STAGES.index(step[0]) == furthest]
            command, target = data.draw(st.sampled_from(steps), label="step")
            self.take(data, command, target)
            self.check_chain()

    def take(self, data: Any, command: str, target: Any) -> None:
        """Run one valid step forward, drawing whatever else the command needs."""
        model, driver = self.model, self.driver
        if command == "draft":
            designer = data.draw(st.sampled_from(model.designers), label="designer")
            driver.do_draft(designer, sound_changes(data.draw), None)
        elif command == "publish":
            driver.do_publish(model.designs[target].designer, target)
        elif command == "place":
            places = self.municipalities_for(target)
            install = "Botkyrka" in places and data.draw(st.booleans(), label="install")
            municipality = "Botkyrka" if install else data.draw(st.sampled_from(places), label="municipality")
            line = LineRequest(target, data.draw(st.integers(1, 5), label="quantity"))
            lines = [line] * data.draw(st.integers(1, 2), label="lines")
            driver.do_place(
                data.draw(st.sampled_from(model.buyers), label="buyer"), municipality, install, lines
            )
        elif command == "pay":
            buyer = model.orders[target].buyer
            intent = driver.do_provider_checkout(buyer, target)
            if data.draw(st.booleans(), label="checkout again"):  # the buyer reloads the payment page
                assert driver.do_provider_checkout(buyer, target) == intent
            assert intent is not None
            driver.do_notice(self.new_event_id(), "succeeded", target, intent, 0, "sek")
        elif command == "accept":
            job = model.productions[target]
            fitting = [w for w in model.workshops if model.eligible(w, job.capabilities, job.municipality)]
            newcomers = [w for w in fitting if w not in job.holders]  # a released order moves on if it can
            driver.do_accept(data.draw(st.sampled_from(newcomers or fitting), label="workshop"), target)
        elif command == "release":
            driver.do_release(model.productions[target].workshop, target)
        elif command == "start":
            driver.do_start(model.productions[target].workshop, target)
        elif command == "complete":
            driver.do_complete(model.productions[target].workshop, target, 8.0)
        elif command == "install":
            driver.do_install(model.area_company, target)
        else:
            carrier = model.deliveries[target].workshop
            if command == "schedule":
                driver.do_schedule(carrier, target, "ok")
            elif command == "dispatch":
                driver.do_dispatch(carrier, target)
            else:
                driver.do_deliver(carrier, target, "Anna Svensson")

    # Invariants, after every command.

    @invariant()
    def chain_stays_consistent(self) -> None:
        self.check_chain()

    def check_chain(self) -> None:
        """Check what changed since the last check: saved by a command, or expected to change by the model.

        Stored state changes only by a save, and every save is seen, so this covers every aggregate.
        In memory, the state the repository serves for all the others is compared with the model as
        well, which catches a refused command that corrupted a cached aggregate.
        """
        changed = self.driver.changed()
        self.check_money([i for i in self.model.orders if i in changed])
        self.check_one_workshop_at_a_time([i for i in self.model.productions if i in changed])
        self.check_no_order_after_retirement([i for i in self.model.orders if i in changed])
        self.check_replay_equals_live_and_model(changed)
        if self.full_checks:
            for known in (
                self.model.designs,
                self.model.orders,
                self.model.productions,
                self.model.deliveries,
            ):
                for aggregate_id in known.keys() - changed:
                    self.check_agrees_with_model(
                        self.app.repository.get(aggregate_id, deepcopy_from_cache=False)
                    )
        self.driver.forget_changes()

    def check_money(self, order_ids: list[UUID]) -> None:
        """Lines, VAT, totals, payouts and refunds add up to the öre, by the model's own reckoning."""
        for order_id in order_ids:
            model, order = self.model.orders[order_id], self.app.order(order_id)
            for line, expected in zip(order.lines, model.lines, strict=True):
                assert (line.design_id, line.revision, line.quantity) == (
                    expected.design_id,
                    expected.revision,
                    expected.quantity,
                )
                assert (line.unit_platform_fee_ore, line.amount_ore, line.vat_ore) == model.line_amounts(
                    expected
                )
                assert line.vat_ore == half_up_percent(line.amount_ore, 25)
            assert order.subtotal_ore == sum(line.amount_ore for line in order.lines)
            assert order.vat_ore == sum(line.vat_ore for line in order.lines)
            assert order.total_ore == order.subtotal_ore + order.vat_ore == model.total_ore
            assert (order.payments, order.refunds) == (model.payments, model.refunds)
            assert order.refunds_due() == [], "money owed back was not refunded"
            kept = order.paid_ore - order.refunded_ore
            assert kept == model.kept_ore and kept in (0, order.total_ore)
            payouts = self.app.payouts(order)
            assert {(p.line_no, p.role.value, p.party_id, p.amount_ore) for p in payouts} == model.payouts
            owed = sum(p.amount_ore for p in payouts)
            kept_ex_vat = kept - order.vat_ore if kept else 0
            if order.status is OrderStatus.FULFILLED:
                assert owed + order.platform_fee_ore == order.subtotal_ore == kept_ex_vat
            else:
                assert owed <= kept_ex_vat
            if order.status is OrderStatus.CANCELLED:
                assert order.refunded_ore == order.paid_ore and not payouts
        asked = Counter((intent, amount) for intent, amount, _ in self.driver.refunds.calls)
        owed_back = Counter(item for order in self.model.orders.values() for item in order.refunds.items())
        assert asked == owed_back, "the provider was asked for other refunds than were owed, or twice"

    def check_one_workshop_at_a_time(self, production_ids: list[UUID]) -> None:
        """From the stored events: between two Accepted there is always the holder's Released."""
        for production_id in production_ids:
            holder = None
            for event in self.app.events.get(production_id):
                if isinstance(event, ProductionOrder.Accepted):
                    assert holder is None, "accepted while another workshop held it"
                    holder = event.workshop_id
                elif isinstance(event, ProductionOrder.Released):
                    assert holder == event.workshop_id, "released by a workshop that did not hold it"
                    holder = None
            assert holder == self.model.productions[production_id].workshop

    def check_no_order_after_retirement(self, order_ids: list[UUID]) -> None:
        for order_id in order_ids:
            for line in self.app.order(order_id).lines:
                retired_at = self.model.designs[line.design_id].retired_at
                assert retired_at is None or retired_at > self.model.orders[order_id].placed_at

    def check_replay_equals_live_and_model(self, aggregate_ids: set[UUID]) -> None:
        for aggregate_id in aggregate_ids:
            assert aggregate_id in self.app.saved, f"the model expected {aggregate_id} to be saved"
            live = self.app.saved[aggregate_id]
            served = self.app.repository.get(aggregate_id)
            replayed = self.app.repository.get(aggregate_id, version=served.version)  # past the cache
            assert state(live) == state(served) == state(replayed), type(live).__name__
            self.check_agrees_with_model(served)

    def check_agrees_with_model(self, aggregate: Any) -> None:
        model = self.model
        if aggregate.id in model.designs:
            design = model.designs[aggregate.id]
            assert (aggregate.designer_id, aggregate.revisions, aggregate.published_revisions) == (
                design.designer,
                design.revisions,
                design.published,
            )
            assert aggregate.retired is (design.retired_at is not None)
        elif aggregate.id in model.orders:
            order = model.orders[aggregate.id]
            assert (aggregate.status, aggregate.buyer_id, aggregate.area_company_id) == (
                order.status,
                order.buyer,
                order.area_company,
            )
            assert (aggregate.checkouts, aggregate.failed_payments, aggregate.mismatched_payments) == (
                order.checkouts,
                order.failed,
                order.mismatched,
            )
            assert aggregate.paid_payment_intent_id == order.paid_intent
            assert (aggregate.delivered_lines, aggregate.installed_lines) == (
                order.delivered,
                order.installed,
            )
        elif aggregate.id in model.productions:
            job = model.productions[aggregate.id]
            assert (aggregate.status, aggregate.workshop_id) == (job.status, job.workshop)
        elif aggregate.id in model.deliveries:
            job = model.deliveries[aggregate.id]
            assert (aggregate.status, aggregate.workshop_id, aggregate.failures) == (
                job.status,
                job.workshop,
                job.failures,
            )
            assert (aggregate.window is None) is (
                job.status in (DeliveryStatus.PENDING, DeliveryStatus.FAILED)
            )
        else:
            assert not isinstance(aggregate, Order | ProductionOrder | Delivery), (
                "an aggregate the model never saw"
            )


# What each walk must reach at least once, so that a walk that never gets deep cannot pass.
MILESTONES = {
    "memory": [
        "order fulfilled with installation",
        "order fulfilled",
        "paid order cancelled and refunded",
        "payment refunded",
        "released order taken by another workshop",
        "order for a retired design refused",
        "payment mismatched",
        "notice redelivered",
        "usable intent reused",
        "payment told twice under two event ids",
        "refused with AlreadyTakenError",
        "refused with NotEligibleError",
        "refused with NotPublishableError",
        "refused with NoEligibleWorkshopError",
    ],
    "sqlite": [
        "order fulfilled",
        "payment refunded",
        "refused with AlreadyTakenError",
        "refused with NotOwnerError",
    ],
    "postgres": [
        "order fulfilled",
        "payment refunded",
        "refused with AlreadyTakenError",
        "refused with NotOwnerError",
    ],
}


def test_random_command_sequences_keep_the_chain_consistent(
    storage: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    postgres_url = request.getfixturevalue("postgres_url") if storage == "postgres" else None
    reached: Counter[str] = Counter()
    machine = type(
        f"Chain{storage.title()}",
        (ChainMachine,),
        {
            "storage": storage,
            "open_store": staticmethod(store_opener(storage, tmp_path, postgres_url)),
            "reached": reached,
        },
    )
    run_state_machine_as_test(machine, settings=settings(PROFILES[storage], **DETERMINISTIC))
    missing = [name for name in MILESTONES[storage] if not reached[name]]
    assert not missing, f"the random walks never reached {missing}; they reached {dict(reached)}"
