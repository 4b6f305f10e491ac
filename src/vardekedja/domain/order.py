"""Orders: the sale. Prices are frozen when the order is placed and never change."""

from __future__ import annotations

from enum import StrEnum
from fractions import Fraction
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.design import Design
from vardekedja.domain.directory import Directory
from vardekedja.domain.errors import (
    DesignRetiredError,
    InvalidOrderError,
    InvalidTransitionError,
    NoAreaCompanyError,
    NoEligibleWorkshopError,
    NotOrderableError,
    NotOwnerError,
    NotPublishedError,
)
from vardekedja.domain.money import price_line
from vardekedja.domain.order_parts import DeliverySite, LineRequest, OrderLine

__all__ = ["CURRENCY", "MAX_LINES", "MAX_QUANTITY", "DeliverySite", "LineRequest", "Order", "OrderLine", "OrderStatus"]

MAX_LINES = 100
MAX_QUANTITY = 100
CURRENCY = "sek"


class OrderStatus(StrEnum):
    PLACED = "placed"
    PAID = "paid"
    IN_PRODUCTION = "in_production"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


class Order(Aggregate):
    TOPIC = "vardekedja:Order"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Order.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Order.Event"

    class Placed(Created):
        TOPIC = "vardekedja:Order.Placed"
        buyer_id: UUID
        delivery_site: dict[str, str]
        install: bool
        area_company_id: UUID | None
        platform_fee_rate: str
        lines: list[dict[str, Any]]

    class CheckoutStarted(Event):
        TOPIC = "vardekedja:Order.CheckoutStarted"
        payment_intent_id: str
        amount_ore: int

    class PaymentFailed(Event):
        TOPIC = "vardekedja:Order.PaymentFailed"
        payment_intent_id: str
        reason: str

    class PaymentMismatched(Event):
        TOPIC = "vardekedja:Order.PaymentMismatched"
        payment_intent_id: str
        amount_ore: int
        currency: str

    class PaymentReceived(Event):
        TOPIC = "vardekedja:Order.PaymentReceived"
        payment_intent_id: str
        amount_ore: int
        currency: str

    class ProductionStarted(Event):
        TOPIC = "vardekedja:Order.ProductionStarted"

    class LineDelivered(Event):
        TOPIC = "vardekedja:Order.LineDelivered"
        line_no: int

    class LineInstalled(Event):
        TOPIC = "vardekedja:Order.LineInstalled"
        line_no: int

    class Fulfilled(Event):
        TOPIC = "vardekedja:Order.Fulfilled"

    class Cancelled(Event):
        TOPIC = "vardekedja:Order.Cancelled"
        reason: str

    class Refunded(Event):
        TOPIC = "vardekedja:Order.Refunded"
        refund_id: str
        payment_intent_id: str
        amount_ore: int

    @classmethod
    def place(
        cls,
        *,
        buyer_id: UUID,
        delivery_site: DeliverySite,
        install: bool,
        lines: list[tuple[LineRequest, Design | None]],
        directory: Directory,
        platform_fee_rate: Fraction,
        order_id: UUID | None = None,
    ) -> Order:
        """Price and freeze the lines; refuse the order naming the first line that cannot be made.

        ``lines`` pairs each request with its design, or None where no such design exists.
        """
        delivery_site.check()
        if not lines:
            raise InvalidOrderError("an order needs at least one line", field="lines")
        if len(lines) > MAX_LINES:
            raise InvalidOrderError(f"an order has at most {MAX_LINES} lines", field="lines")
        municipality = delivery_site.municipality
        area_company_id = None
        if install:
            serving = directory.area_companies_serving(municipality)
            if not serving:
                raise NoAreaCompanyError(
                    f"no area company installs in {municipality}", field="install"
                )
            area_company_id = serving[0]
        frozen = []
        for index, (request, design) in enumerate(lines):
            where = f"lines.{index}"
            if not 1 <= request.quantity <= MAX_QUANTITY:
                raise InvalidOrderError(
                    f"line {index + 1}: quantity must be 1–{MAX_QUANTITY}", field=f"{where}.quantity"
                )
            # A design never published is its designer's secret: refused exactly like an unknown id.
            if design is None or not design.published_revisions:
                raise NotOrderableError(
                    f"line {index + 1}: no published design {request.design_id}", field=f"{where}.design_id"
                )
            try:
                revision, spec = design.orderable_revision(request.revision)
            except (NotPublishedError, DesignRetiredError) as error:
                raise NotOrderableError(f"line {index + 1}: {error}", field=f"{where}.revision") from None
            if not directory.eligible_workshops(list(spec.required_capabilities), municipality):
                raise NoEligibleWorkshopError(
                    f"line {index + 1}: no workshop in {municipality} can make {spec.title!r} "
                    f"(needs {', '.join(spec.required_capabilities)})",
                    field=f"{where}.design_id",
                )
            price = price_line(
                quantity=request.quantity,
                royalty_ore=spec.royalty_ore,
                production_fee_ore=spec.production_fee_ore,
                installation_fee_ore=spec.installation_fee_ore,
                install=install,
                platform_fee_rate=platform_fee_rate,
            )
            frozen.append(
                OrderLine(
                    line_no=index + 1,
                    design_id=design.id,
                    revision=revision,
                    designer_id=design.designer_id,
                    title=spec.title,
                    required_capabilities=spec.required_capabilities,
                    quantity=request.quantity,
                    royalty_ore=price.royalty_ore,
                    production_fee_ore=price.production_fee_ore,
                    installation_fee_ore=price.installation_fee_ore,
                    unit_platform_fee_ore=price.unit_platform_fee_ore,
                ).to_dict()
            )
        placed: dict[str, Any] = {
            "buyer_id": buyer_id, "delivery_site": delivery_site.to_dict(), "install": install,
            "area_company_id": area_company_id, "platform_fee_rate": str(platform_fee_rate), "lines": frozen,
        }  # fmt: skip
        if order_id is not None:  # chosen by the caller, so that a retry finds the order it already placed
            return cls._create(cls.Placed, id=order_id, **placed)
        return cls(**placed)

    @event(Placed)
    def __init__(
        self,
        *,
        buyer_id: UUID,
        delivery_site: dict[str, str],
        install: bool,
        area_company_id: UUID | None,
        platform_fee_rate: str,
        lines: list[dict[str, Any]],
    ) -> None:
        self.buyer_id = buyer_id
        self.delivery_site = DeliverySite(**delivery_site)
        self.install = install
        self.area_company_id = area_company_id
        self.platform_fee_rate = Fraction(platform_fee_rate)
        self.lines = [OrderLine.from_dict(line) for line in lines]
        self.status = OrderStatus.PLACED
        self.checkouts: list[str] = []
        self.failed_payments: list[str] = []
        self.mismatched_payments: list[str] = []
        self.paid_payment_intent_id: str | None = None
        self.payments: dict[str, int] = {}
        self.refunds: dict[str, int] = {}
        self.refund_ids: list[str] = []
        self.delivered_lines: set[int] = set()
        self.installed_lines: set[int] = set()

    # Amounts, derived from the frozen lines.

    @property
    def subtotal_ore(self) -> int:
        return sum(line.amount_ore for line in self.lines)

    @property
    def vat_ore(self) -> int:
        return sum(line.vat_ore for line in self.lines)

    @property
    def total_ore(self) -> int:
        return self.subtotal_ore + self.vat_ore

    @property
    def platform_fee_ore(self) -> int:
        return sum(line.platform_fee_ore for line in self.lines)

    @property
    def paid_ore(self) -> int:
        return sum(self.payments.values())

    @property
    def refunded_ore(self) -> int:
        return sum(self.refunds.values())

    def refunds_due(self) -> list[tuple[str, int]]:
        """(payment intent, öre) still owed back to the buyer.

        A cancelled order owes back every payment; a live one owes back any
        payment beyond the one that paid it (a second checkout confirmed too).
        """
        due = []
        for payment_intent_id, amount in self.payments.items():
            kept = payment_intent_id == self.paid_payment_intent_id and self.status is not OrderStatus.CANCELLED
            owed = (0 if kept else amount) - self.refunds.get(payment_intent_id, 0)
            if owed > 0:
                due.append((payment_intent_id, owed))
        return due

    @property
    def refund_due_ore(self) -> int:
        return sum(amount for _, amount in self.refunds_due())

    def line(self, line_no: int) -> OrderLine:
        if not 1 <= line_no <= len(self.lines):
            raise InvalidOrderError(f"the order has no line {line_no}", field="line_no")
        return self.lines[line_no - 1]

    def check_buyer(self, organisation_id: UUID) -> None:
        if organisation_id != self.buyer_id:
            raise NotOwnerError("only the buyer may do this to the order")

    # Payment.

    def start_checkout(self, payment_intent_id: str) -> None:
        if self.status is not OrderStatus.PLACED:
            raise InvalidTransitionError(f"an order that is {self.status} cannot be checked out")
        if payment_intent_id not in self.checkouts:
            self._checkout_started(payment_intent_id=payment_intent_id, amount_ore=self.total_ore)

    @event(CheckoutStarted)
    def _checkout_started(self, payment_intent_id: str, amount_ore: int) -> None:
        self.checkouts.append(payment_intent_id)

    def record_payment_failure(self, payment_intent_id: str, reason: str) -> None:
        self._payment_failed(payment_intent_id=payment_intent_id, reason=reason)

    @event(PaymentFailed)
    def _payment_failed(self, payment_intent_id: str, reason: str) -> None:
        self.failed_payments.append(payment_intent_id)

    def receive_payment(self, payment_intent_id: str, amount_ore: int, currency: str) -> bool:
        """Mark the order paid if the payment covers it exactly; else record the mismatch.

        Money that arrives for an order that is no longer waiting for it (it was
        cancelled meanwhile, or another checkout paid it) is recorded all the
        same, and is then owed back (``refunds_due``). Returns whether this
        payment paid the order.
        """
        if payment_intent_id in self.payments:
            raise InvalidTransitionError(f"payment {payment_intent_id} is already recorded")
        if self.status is not OrderStatus.PLACED:
            self._payment_received(payment_intent_id=payment_intent_id, amount_ore=amount_ore, currency=currency.lower())
            return False
        if amount_ore != self.total_ore or currency.lower() != CURRENCY:
            self._payment_mismatched(
                payment_intent_id=payment_intent_id, amount_ore=amount_ore, currency=currency.lower()
            )
            return False
        self._payment_received(payment_intent_id=payment_intent_id, amount_ore=amount_ore, currency=CURRENCY)
        return True

    @event(PaymentMismatched)
    def _payment_mismatched(self, payment_intent_id: str, amount_ore: int, currency: str) -> None:
        self.mismatched_payments.append(payment_intent_id)

    @event(PaymentReceived)
    def _payment_received(self, payment_intent_id: str, amount_ore: int, currency: str) -> None:
        self.payments[payment_intent_id] = amount_ore
        if self.status is OrderStatus.PLACED:
            self.status = OrderStatus.PAID
            self.paid_payment_intent_id = payment_intent_id

    # Progress, driven by the production orders and deliveries of its lines.

    def note_production_started(self) -> None:
        if self.status is OrderStatus.PAID:
            self._production_started()
        elif self.status is not OrderStatus.IN_PRODUCTION:
            raise InvalidTransitionError(f"an order that is {self.status} is not in production")

    @event(ProductionStarted)
    def _production_started(self) -> None:
        self.status = OrderStatus.IN_PRODUCTION

    def note_line_delivered(self, line_no: int) -> None:
        self.line(line_no)
        if self.status is not OrderStatus.IN_PRODUCTION:
            raise InvalidTransitionError(f"an order that is {self.status} takes no deliveries")
        if line_no in self.delivered_lines:
            raise InvalidTransitionError(f"line {line_no} is already delivered")
        self._line_delivered(line_no=line_no)
        self._fulfil_when_done()

    @event(LineDelivered)
    def _line_delivered(self, line_no: int) -> None:
        self.delivered_lines.add(line_no)

    def note_line_installed(self, line_no: int) -> None:
        self.line(line_no)
        if not self.install:
            raise InvalidTransitionError("the order did not ask for installation")
        if line_no not in self.delivered_lines:
            raise InvalidTransitionError(f"line {line_no} is not delivered yet")
        if line_no in self.installed_lines:
            raise InvalidTransitionError(f"line {line_no} is already installed")
        self._line_installed(line_no=line_no)
        self._fulfil_when_done()

    @event(LineInstalled)
    def _line_installed(self, line_no: int) -> None:
        self.installed_lines.add(line_no)

    def _fulfil_when_done(self) -> None:
        every_line = {line.line_no for line in self.lines}
        done = self.delivered_lines >= every_line and (
            not self.install or self.installed_lines >= every_line
        )
        if done:
            self._fulfilled()

    @event(Fulfilled)
    def _fulfilled(self) -> None:
        self.status = OrderStatus.FULFILLED

    # Cancellation.

    def cancel(self, reason: str) -> None:
        """Cancel before production starts; a paid order is then owed a full refund."""
        if self.status not in (OrderStatus.PLACED, OrderStatus.PAID):
            raise InvalidTransitionError(
                f"an order that is {self.status} can no longer be cancelled: production has started"
                if self.status is OrderStatus.IN_PRODUCTION
                else f"an order that is {self.status} can no longer be cancelled"
            )
        self._cancelled(reason=reason)

    @event(Cancelled)
    def _cancelled(self, reason: str) -> None:
        self.status = OrderStatus.CANCELLED

    def record_refund(self, refund_id: str, payment_intent_id: str, amount_ore: int) -> None:
        owed = dict(self.refunds_due()).get(payment_intent_id, 0)
        if not 0 < amount_ore <= owed:
            raise InvalidTransitionError(f"no refund of {amount_ore} öre is due on {payment_intent_id}")
        self._refunded(refund_id=refund_id, payment_intent_id=payment_intent_id, amount_ore=amount_ore)

    @event(Refunded)
    def _refunded(self, refund_id: str, payment_intent_id: str, amount_ore: int) -> None:
        self.refunds[payment_intent_id] = self.refunds.get(payment_intent_id, 0) + amount_ore
        self.refund_ids.append(refund_id)
