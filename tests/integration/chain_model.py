"""A plain model of the value chain for the state-machine test: it predicts each command's outcome.

For every command the model answers which domain error refuses it (checking the rules in
the order the aggregates do), or None when it must succeed; after a success the machine
applies the command to the model too. Money is recomputed here in plain integers, so
the invariants compare the application against an independent reckoning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from vardekedja.domain.delivery import DeliveryStatus, delivery_id
from vardekedja.domain.design import Specification
from vardekedja.domain.errors import (
    AlreadyTakenError,
    DesignRetiredError,
    DomainError,
    ForbiddenError,
    InvalidOrderError,
    InvalidTransitionError,
    NoAreaCompanyError,
    NoEligibleWorkshopError,
    NotEligibleError,
    NotOrderableError,
    NotOwnerError,
    NotPublishableError,
    RuleViolationError,
)
from vardekedja.domain.order import LineRequest, OrderStatus
from vardekedja.domain.production import ProductionStatus, production_order_id

Expectation = type[DomainError] | None


def half_up_percent(amount: int, percent: int) -> int:
    """``percent`` % of a non-negative whole amount, rounded half-up, in plain integers."""
    return (amount * percent * 2 + 100) // 200


@dataclass
class MDesign:
    designer: UUID
    revisions: dict[int, Specification]
    published: list[int] = field(default_factory=list)
    retired_at: int | None = None  # global position of the Retired event

    @property
    def draft_revision(self) -> int | None:
        latest = max(self.revisions)
        return None if latest in self.published else latest


@dataclass
class MLine:
    design_id: UUID
    revision: int
    spec: Specification
    quantity: int


@dataclass
class MOrder:
    buyer: UUID
    install: bool
    municipality: str
    area_company: UUID | None
    lines: list[MLine]
    placed_at: int
    status: OrderStatus = OrderStatus.PLACED
    checkouts: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    paid_intent: str | None = None  # the payment that paid the order
    payments: dict[str, int] = field(default_factory=dict)  # every payment received, by intent
    refunds: dict[str, int] = field(default_factory=dict)
    delivered: set[int] = field(default_factory=set)
    installed: set[int] = field(default_factory=set)
    payouts: set[tuple[int, str, UUID, int]] = field(default_factory=set)  # (line, role, party, öre)

    def line_amounts(self, line: MLine) -> tuple[int, int, int]:
        """(unit platform fee, line amount ex VAT, line VAT) from the frozen revision's prices."""
        s = line.spec
        base = s.royalty_ore + s.production_fee_ore + (s.installation_fee_ore if self.install else 0)
        fee = half_up_percent(base, 10)
        amount = (base + fee) * line.quantity
        return fee, amount, half_up_percent(amount, 25)

    @property
    def total_ore(self) -> int:
        return sum(amount + vat for _, amount, vat in map(self.line_amounts, self.lines))

    @property
    def kept_ore(self) -> int:
        """What the marketplace keeps of the buyer's money: the paying payment, unless cancelled."""
        if self.paid_intent is None or self.status is OrderStatus.CANCELLED:
            return 0
        return self.payments[self.paid_intent]


@dataclass
class MProduction:
    order_id: UUID
    line_no: int
    capabilities: tuple[str, ...]
    municipality: str
    status: ProductionStatus = ProductionStatus.OPEN
    workshop: UUID | None = None  # kept on cancellation, as the aggregate does
    holders: list[UUID] = field(default_factory=list)


@dataclass
class MDelivery:
    order_id: UUID
    line_no: int
    workshop: UUID
    status: DeliveryStatus = DeliveryStatus.PENDING
    failures: int = 0


@dataclass
class ChainModel:
    designers: list[UUID]
    workshops: dict[UUID, tuple[frozenset[str], frozenset[str]]]  # capabilities, casefolded area
    area_company: UUID
    area_served: frozenset[str]
    buyers: list[UUID]
    designs: dict[UUID, MDesign] = field(default_factory=dict)
    orders: dict[UUID, MOrder] = field(default_factory=dict)
    productions: dict[UUID, MProduction] = field(default_factory=dict)
    deliveries: dict[UUID, MDelivery] = field(default_factory=dict)
    notices: dict[str, dict[str, Any]] = field(default_factory=dict)  # by provider event id, as sent

    def eligible(self, workshop: UUID, capabilities: tuple[str, ...], municipality: str) -> bool:
        reach = self.workshops.get(workshop)
        return reach is not None and set(capabilities) <= reach[0] and municipality.casefold() in reach[1]

    def can_be_made(self, specification: Specification, municipality: str) -> bool:
        return any(
            self.eligible(w, specification.required_capabilities, municipality) for w in self.workshops
        )

    # Designs.

    def expect_design_change(self, actor: UUID, design: MDesign) -> Expectation:
        if actor != design.designer:
            return NotOwnerError
        return DesignRetiredError if design.retired_at is not None else None

    def expect_publish(self, actor: UUID, design: MDesign) -> Expectation:
        refused = self.expect_design_change(actor, design)
        if refused:
            return refused
        draft = design.draft_revision
        if draft is None:
            return InvalidTransitionError
        return NotPublishableError if design.revisions[draft].publishing_problems() else None

    def orderable(self, design_id: UUID) -> int | None:
        """The revision a line without one gets, if the design can be ordered at all."""
        design = self.designs[design_id]
        if design.retired_at is not None or not design.published:
            return None
        return max(design.published)

    # Orders.

    def expect_placement(
        self, buyer: UUID, municipality: str, install: bool, requests: list[LineRequest]
    ) -> tuple[Expectation, list[MLine]]:
        """The error refusing the order, in the order ``Order.place`` checks; else its frozen lines."""
        if buyer not in self.buyers:
            return ForbiddenError, []
        if not requests:
            return InvalidOrderError, []
        if install and municipality.casefold() not in self.area_served:
            return NoAreaCompanyError, []
        lines = []
        for request in requests:
            if not 1 <= request.quantity <= 100:
                return InvalidOrderError, []
            design = self.designs.get(request.design_id)
            if design is None or design.retired_at is not None:
                return NotOrderableError, []
            revision = (
                request.revision if request.revision is not None else max(design.published, default=None)
            )
            if revision not in design.published:
                return NotOrderableError, []
            if not self.can_be_made(design.revisions[revision], municipality):
                return NoEligibleWorkshopError, []
            lines.append(MLine(request.design_id, revision, design.revisions[revision], request.quantity))
        return None, lines

    def expect_buyer_command(self, buyer: UUID, order: MOrder, *statuses: OrderStatus) -> Expectation:
        if buyer != order.buyer:
            return NotOwnerError
        return None if order.status in statuses else InvalidTransitionError

    @staticmethod
    def expect_payment(order: MOrder, intent: str) -> Expectation:
        """Only a payment recorded before is refused (a webhook that came twice)."""
        return InvalidTransitionError if intent in order.payments else None

    def receive_payment(
        self, order_id: UUID, intent: str, amount: int, currency: str
    ) -> tuple[str, list[UUID]]:
        """Apply a confirmed payment: ("paid", production orders opened), ("mismatched", []),
        or ("refunded", []) for money the order no longer wanted, given straight back."""
        order = self.orders[order_id]
        if order.status is not OrderStatus.PLACED:
            order.payments[intent] = amount
            order.refunds |= {intent: amount} if amount else {}
            return "refunded", []
        if amount != order.total_ore or currency.lower() != "sek":
            order.mismatched.append(intent)
            return "mismatched", []
        order.status, order.paid_intent, order.payments[intent] = OrderStatus.PAID, intent, amount
        opened = []
        for number, line in enumerate(order.lines, start=1):
            production_id = production_order_id(order_id, number)
            self.productions[production_id] = MProduction(
                order_id, number, line.spec.required_capabilities, order.municipality
            )
            opened.append(production_id)
        return "paid", opened

    def cancel(self, order_id: UUID) -> list[UUID]:
        """Cancel the order; a paid one is refunded and its production orders cancelled (returned)."""
        order = self.orders[order_id]
        cancelled = []
        order.refunds |= {intent: amount for intent, amount in order.payments.items() if amount}
        if order.status is OrderStatus.PAID:
            for number in range(1, len(order.lines) + 1):
                cancelled.append(production_order_id(order_id, number))
                self.productions[cancelled[-1]].status = ProductionStatus.CANCELLED
        order.status = OrderStatus.CANCELLED
        return cancelled

    # Production.

    def expect_accept(self, actor: UUID, production: MProduction) -> Expectation:
        if production.status is ProductionStatus.CANCELLED:
            return InvalidTransitionError
        if production.status is not ProductionStatus.OPEN:
            taken = production.workshop is not None and production.workshop != actor
            return AlreadyTakenError if taken else InvalidTransitionError
        return (
            None
            if self.eligible(actor, production.capabilities, production.municipality)
            else NotEligibleError
        )

    def expect_holder_command(
        self, actor: UUID, production: MProduction, *statuses: ProductionStatus
    ) -> Expectation:
        if actor != production.workshop:
            return NotOwnerError
        return None if production.status in statuses else InvalidTransitionError

    def expect_start(self, actor: UUID, production: MProduction) -> Expectation:
        refused = self.expect_holder_command(actor, production, ProductionStatus.ACCEPTED)
        order = self.orders[production.order_id]
        if refused is None and order.status not in (OrderStatus.PAID, OrderStatus.IN_PRODUCTION):
            return InvalidTransitionError
        return refused

    def expect_complete(self, actor: UUID, production: MProduction, hours: float) -> Expectation:
        refused = self.expect_holder_command(actor, production, ProductionStatus.IN_PROGRESS)
        if refused is None and not 0 <= hours <= 10_000:
            return RuleViolationError
        return refused

    def complete(self, production_id: UUID, actor: UUID) -> UUID:
        production = self.productions[production_id]
        production.status = ProductionStatus.COMPLETED
        opened = delivery_id(production.order_id, production.line_no)
        self.deliveries[opened] = MDelivery(production.order_id, production.line_no, actor)
        return opened

    # Delivery and installation.

    def expect_carrier_command(
        self, actor: UUID, delivery: MDelivery, *statuses: DeliveryStatus
    ) -> Expectation:
        if actor != delivery.workshop:
            return NotOwnerError
        return None if delivery.status in statuses else InvalidTransitionError

    def expect_deliver(self, actor: UUID, delivery: MDelivery, received_by: str) -> Expectation:
        refused = self.expect_carrier_command(actor, delivery, DeliveryStatus.DISPATCHED)
        if refused is None and not received_by.strip():
            return RuleViolationError
        order = self.orders[delivery.order_id]
        if refused is None and (
            order.status is not OrderStatus.IN_PRODUCTION or delivery.line_no in order.delivered
        ):
            return InvalidTransitionError
        return refused

    def deliver(self, delivery: MDelivery) -> bool:
        """Settle a delivered line: designer and workshop are owed. Returns whether the order is fulfilled."""
        delivery.status = DeliveryStatus.DELIVERED
        order = self.orders[delivery.order_id]
        order.delivered.add(delivery.line_no)
        line = order.lines[delivery.line_no - 1]
        order.payouts |= {
            (
                delivery.line_no,
                "designer",
                self.designs[line.design_id].designer,
                line.spec.royalty_ore * line.quantity,
            ),
            (delivery.line_no, "workshop", delivery.workshop, line.spec.production_fee_ore * line.quantity),
        }
        return self._fulfil_when_done(order)

    def expect_install(self, actor: UUID, delivery: MDelivery) -> Expectation:
        order = self.orders[delivery.order_id]
        if not order.install:
            return InvalidTransitionError
        if actor != order.area_company:
            return NotOwnerError
        return None if delivery.status is DeliveryStatus.DELIVERED else InvalidTransitionError

    def install(self, delivery: MDelivery) -> bool:
        delivery.status = DeliveryStatus.INSTALLED
        order = self.orders[delivery.order_id]
        order.installed.add(delivery.line_no)
        line = order.lines[delivery.line_no - 1]
        order.payouts.add(
            (
                delivery.line_no,
                "area_company",
                self.area_company,
                line.spec.installation_fee_ore * line.quantity,
            )
        )
        return self._fulfil_when_done(order)

    @staticmethod
    def _fulfil_when_done(order: MOrder) -> bool:
        every_line = set(range(1, len(order.lines) + 1))
        if order.delivered >= every_line and (not order.install or order.installed >= every_line):
            order.status = OrderStatus.FULFILLED
            return True
        return False


SPEC_FLAWS: dict[str, dict[str, Any]] = {
    "title": {"title": "  "},
    "lead_time": {"lead_time_days": 3651},
    "materials": {"materials": ()},
    "capabilities": {"required_capabilities": ()},
    "negative": {"installation_fee_ore": -1},
    "zero_fees": {"royalty_ore": 0, "production_fee_ore": 0},
}
INVALID_SPEC_FLAWS = ("title", "lead_time")  # refused by Specification itself, before any command runs
