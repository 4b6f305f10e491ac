"""Real threads racing over one event store, as separate server processes would.

Sixteen eligible workshops accept one production order at the same moment: exactly one
wins and the others get a conflict. Two lines of one order are delivered (or installed)
at the same moment: both settle, thanks to the rerun on fresh state, and the order and
its payouts come out exactly as if they had taken turns. A cancellation racing the start
of production, and a payment notice delivered twice at once, each end in one outcome.

Each race runs several rounds, with a marketplace per thread (and, for the first two, also
with one marketplace shared by all threads). Threads start together at a barrier; in every
other round each racer is also held at its first save until all have loaded their state,
so that the collision and the rerun are certain, not just likely.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from tests.chain import BENCH, SITE, published_design, register_cast, window
from tests.conftest import RecordingRefunds, store_env
from vardekedja.application import Marketplace
from vardekedja.domain.errors import AlreadyTakenError, ConcurrentUpdateError, ConflictError
from vardekedja.domain.order import LineRequest, Order, OrderStatus
from vardekedja.domain.organisation import Role
from vardekedja.domain.payout import Payout, payout_id
from vardekedja.domain.production import ProductionOrder, production_order_id

WORKSHOPS = 16
ROUNDS = 5
# Each per-thread marketplace needs one connection, not the default pool of five.
SMALL_POOL = {"POSTGRES_POOL_SIZE": "1", "POSTGRES_MAX_OVERFLOW": "2"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """One event store that every marketplace of a test shares."""
    return store_env(request.param, tmp_path, request)


class SaveGate:
    """When armed, holds each thread at its first save until every racer got there, and counts saves."""

    def __init__(self) -> None:
        self.barrier: threading.Barrier | None = None
        self.saves = 0
        self._lock = threading.Lock()
        self._held = threading.local()

    def arm(self, parties: int) -> None:
        self.barrier, self.saves = threading.Barrier(parties), 0

    def disarm(self) -> None:
        self.barrier = None

    def pass_through(self) -> None:
        if self.barrier is None:
            return
        with self._lock:
            self.saves += 1
        if not getattr(self._held, "once", False):
            self._held.once = True
            self.barrier.wait(timeout=30)


class GatedMarketplace(Marketplace):
    gate: SaveGate

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        self.gate.pass_through()
        return super().save(*objs, **kwargs)


@pytest.fixture
def gate() -> SaveGate:
    return SaveGate()


@pytest.fixture
def open_marketplace(env: dict[str, str], gate: SaveGate) -> Iterator[Callable[..., Marketplace]]:
    """Opens marketplaces over the shared store, closing them all afterwards."""
    opened: list[Marketplace] = []

    def open_(**extra: str) -> Marketplace:
        app = GatedMarketplace({**env, **extra}, payments=RecordingRefunds())
        app.gate = gate
        opened.append(app)
        return app

    yield open_
    for app in opened:
        app.close()


def org_number(n: int) -> str:
    """The n-th valid organisation number in a series of our own (Luhn check digit computed)."""
    digits = f"5569{n:05d}"
    total = sum(
        (d * 2 - 9 if d * 2 > 9 else d * 2) if i % 2 == 0 else d for i, d in enumerate(map(int, digits))
    )
    return f"{digits[:6]}-{digits[6:]}{(10 - total % 10) % 10}"


def race(calls: list[Callable[[], Any]], gate: SaveGate, *, collide: bool) -> list[Any]:
    """Run each call in its own thread, all released at once; return results or raised exceptions.

    With ``collide`` every racer loads its state before any of them saves.
    """
    if collide:
        gate.arm(len(calls))
    barrier = threading.Barrier(len(calls))
    outcomes: list[Any] = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait(timeout=30)
        try:
            outcomes[index] = calls[index]()
        except Exception as error:  # noqa: BLE001 - the outcome is what the test inspects
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    gate.disarm()
    assert not any(thread.is_alive() for thread in threads), "a racer never finished"
    return outcomes


def paid_order(
    app: Marketplace, buyer: UUID, lines: list[LineRequest], *, install: bool, intent: str
) -> Order:
    order_id = app.place_order(buyer, SITE, install, lines).id
    app.start_checkout(buyer, order_id, intent)
    app.record_payment(order_id, intent, app.order(order_id).total_ore, "sek")
    return app.order(order_id)


@pytest.mark.parametrize("instances", ["one per thread", "one shared"])
def test_exactly_one_of_sixteen_eligible_workshops_wins_a_production_order(open_marketplace, gate, instances):
    setup = open_marketplace()
    cast = register_cast(setup)
    design_id = published_design(setup, cast)
    workshops = [
        setup.register_organisation(
            name=f"Verkstad {n}",
            role=Role.WORKSHOP,
            org_number=org_number(n),
            municipality="Botkyrka",
            capabilities=list(BENCH.required_capabilities),
            service_area=[SITE.municipality],
        ).organisation_id
        for n in range(WORKSHOPS)
    ]
    if instances == "one per thread":
        apps = [open_marketplace(**SMALL_POOL) for _ in workshops]
    else:
        apps = [open_marketplace()] * WORKSHOPS

    for round_no in range(ROUNDS):
        order = paid_order(
            setup, cast.buyer, [LineRequest(design_id, 1)], install=False, intent=f"pi_{round_no}"
        )
        production_id = production_order_id(order.id, 1)

        collide = round_no % 2 == 1
        outcomes = race(
            [
                partial(app.accept_production, workshop, production_id)
                for app, workshop in zip(apps, workshops, strict=True)
            ],
            gate,
            collide=collide,
        )

        winners = [
            w for w, outcome in zip(workshops, outcomes, strict=True) if not isinstance(outcome, Exception)
        ]
        losses = [outcome for outcome in outcomes if isinstance(outcome, Exception)]
        assert len(winners) == 1, f"round {round_no}: {len(winners)} workshops won"
        assert len(losses) == WORKSHOPS - 1
        assert all(isinstance(loss, AlreadyTakenError | ConcurrentUpdateError) for loss in losses), losses
        if collide:  # all sixteen tried to save; the fifteen reruns found the order taken
            assert gate.saves == WORKSHOPS and all(isinstance(loss, AlreadyTakenError) for loss in losses)
        fresh = open_marketplace()
        accepted = [e for e in fresh.events.get(production_id) if isinstance(e, ProductionOrder.Accepted)]
        assert [event.workshop_id for event in accepted] == winners
        assert fresh.production_order(production_id).workshop_id == winners[0]
        for app in {id(app): app for app in apps}.values():  # every cache catches up with the winner
            assert app.production_order(production_id).workshop_id == winners[0]


def settle_ready(app: Marketplace, cast: Any, design_id: UUID, *, install: bool, intent: str) -> Order:
    """A paid two-line order whose lines are made and out for delivery by the same workshop."""
    order = paid_order(
        app,
        cast.buyer,
        [LineRequest(design_id, 2), LineRequest(design_id, 3)],
        install=install,
        intent=intent,
    )
    for line_no in (1, 2):
        production_id = production_order_id(order.id, line_no)
        app.accept_production(cast.workshop, production_id)
        app.start_production(cast.workshop, production_id)
        app.complete_production(cast.workshop, production_id, 6.0, "klar")
        delivery = app.delivery_for(order.id, line_no)
        app.schedule_delivery(cast.workshop, delivery.id, *window())
        app.dispatch_delivery(cast.workshop, delivery.id)
    return order


@pytest.mark.parametrize("instances", ["one per thread", "one shared"])
@pytest.mark.parametrize("step", ["deliveries", "installations"])
def test_two_lines_settling_at_once_both_settle_exactly_once(open_marketplace, gate, instances, step):
    setup = open_marketplace()
    cast = register_cast(setup)
    design_id = published_design(setup, cast)
    install = step == "installations"
    apps = (
        [open_marketplace(**SMALL_POOL), open_marketplace(**SMALL_POOL)]
        if instances == "one per thread"
        else [setup] * 2
    )

    for round_no in range(ROUNDS):
        order = settle_ready(setup, cast, design_id, install=install, intent=f"pi_{round_no}")
        deliveries = [setup.delivery_for(order.id, line_no).id for line_no in (1, 2)]
        if install:
            for delivery in deliveries:
                setup.deliver(cast.workshop, delivery, "Anna Svensson")
            calls = [
                partial(app.install, cast.area_company, d) for app, d in zip(apps, deliveries, strict=True)
            ]
        else:
            calls = [
                partial(app.deliver, cast.workshop, d, "Anna Svensson")
                for app, d in zip(apps, deliveries, strict=True)
            ]

        collide = round_no % 2 == 1
        outcomes = race(calls, gate, collide=collide)

        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
        if collide:  # both saved the order at the same version; the loser reran on fresh state
            assert gate.saves == 3
        fresh = open_marketplace()
        settled = fresh.order(order.id)
        assert settled.status is OrderStatus.FULFILLED
        assert settled.delivered_lines == {1, 2} and settled.installed_lines == ({1, 2} if install else set())
        events = list(fresh.events.get(order.id))
        settling = Order.LineInstalled if install else Order.LineDelivered
        assert sorted(e.line_no for e in events if isinstance(e, settling)) == [1, 2]
        assert len([e for e in events if isinstance(e, Order.Fulfilled)]) == 1

        roles = [Role.DESIGNER, Role.WORKSHOP] + ([Role.AREA_COMPANY] if install else [])
        for line in settled.lines:
            for role in roles:
                stored = list(fresh.events.get(payout_id(order.id, line.line_no, role)))
                assert len(stored) == 1 and isinstance(stored[0], Payout.Owed), (line.line_no, role)
        payouts = fresh.payouts(settled)
        assert len(payouts) == len(roles) * 2
        assert sum(p.amount_ore for p in payouts) + settled.platform_fee_ore == settled.subtotal_ore
        assert settled.paid_ore - settled.vat_ore == settled.subtotal_ore


def test_a_cancellation_racing_the_start_of_production_leaves_one_outcome(open_marketplace, gate):
    """The buyer may cancel only until production starts: whichever commits first decides."""
    setup = open_marketplace()
    cast = register_cast(setup)
    design_id = published_design(setup, cast)
    buyer_app, workshop_app = open_marketplace(**SMALL_POOL), open_marketplace(**SMALL_POOL)

    for round_no in range(ROUNDS):
        order = paid_order(
            setup, cast.buyer, [LineRequest(design_id, 1)], install=False, intent=f"pi_{round_no}"
        )
        production_id = production_order_id(order.id, 1)
        setup.accept_production(cast.workshop, production_id)

        cancelled, started = race(
            [
                partial(buyer_app.cancel_order, cast.buyer, order.id, "budgeten drogs in"),
                partial(workshop_app.start_production, cast.workshop, production_id),
            ],
            gate,
            collide=round_no % 2 == 1,
        )

        fresh = open_marketplace()
        settled, production = fresh.order(order.id), fresh.production_order(production_id)
        lost = [outcome for outcome in (cancelled, started) if isinstance(outcome, Exception)]
        assert len(lost) == 1 and isinstance(lost[0], ConflictError), (cancelled, started)
        refunds = [call for call in buyer_app.payments.calls if call[0] == f"pi_{round_no}"]
        if isinstance(started, Exception):
            assert (settled.status, production.status.value) == (OrderStatus.CANCELLED, "cancelled")
            assert settled.refunded_ore == settled.paid_ore == settled.total_ore
            assert [amount for _, amount, _ in refunds] == [settled.total_ore]
        else:
            assert (settled.status, production.status.value) == (OrderStatus.IN_PRODUCTION, "in_progress")
            assert settled.refunded_ore == 0 and settled.paid_ore == settled.total_ore and not refunds


@pytest.mark.parametrize("events", ["the same event twice", "two events for one payment"])
def test_a_payment_told_twice_at_once_pays_the_order_once(open_marketplace, gate, events):
    """Stripe may deliver a webhook again while the first delivery is still being handled."""
    setup = open_marketplace()
    cast = register_cast(setup)
    design_id = published_design(setup, cast)
    workers = [open_marketplace(**SMALL_POOL), open_marketplace(**SMALL_POOL)]

    for round_no in range(ROUNDS):
        order_id = setup.place_order(cast.buyer, SITE, False, [LineRequest(design_id, 2)]).id
        intent = f"pi_{round_no}"
        setup.start_checkout(cast.buyer, order_id, intent)
        total = setup.order(order_id).total_ore
        event_ids = (
            [f"evt_{round_no}"] * 2
            if events == "the same event twice"
            else [f"evt_{round_no}_a", f"evt_{round_no}_b"]
        )
        notices = [
            partial(worker.record_payment_notice, provider_event_id=event_id, kind="succeeded",
                    payment_intent_id=intent, order_id=order_id, amount_ore=total, currency="sek")
            for worker, event_id in zip(workers, event_ids, strict=True)
        ]  # fmt: skip

        outcomes = race(notices, gate, collide=round_no % 2 == 1)

        assert not [outcome for outcome in outcomes if isinstance(outcome, Exception)], outcomes
        applied = [outcome for outcome in outcomes if outcome is not None]
        assert len(applied) == (1 if events == "the same event twice" else 2)
        fresh = open_marketplace()
        order = fresh.order(order_id)
        assert order.status is OrderStatus.PAID and order.payments == {intent: total}
        assert order.refunds == {} and order.refunds_due() == []
        received = [e for e in fresh.events.get(order_id) if isinstance(e, Order.PaymentReceived)]
        assert len(received) == 1
        assert len(list(fresh.events.get(production_order_id(order_id, 1)))) == 1  # opened once
