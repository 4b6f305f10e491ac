"""Orders and payment: place, check out, record what the provider says, cancel, refund."""

from __future__ import annotations

from uuid import UUID

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.payments import PaymentIntent, PaymentsUnavailableError
from vardekedja.application.rounds import Recorded, retrying
from vardekedja.domain.design import Design
from vardekedja.domain.errors import InvalidTransitionError, NotFoundError
from vardekedja.domain.order import CURRENCY, DeliverySite, LineRequest, Order, OrderStatus
from vardekedja.domain.organisation import Role
from vardekedja.domain.payment_notice import PaymentNotice, payment_notice_id
from vardekedja.domain.production import ProductionOrder, production_order_id


class OrderCommands(MarketplaceBase):

    @retrying
    def place_order(
        self, buyer_id: UUID, delivery_site: DeliverySite, install: bool, lines: list[LineRequest],
        order_id: UUID | None = None,
    ) -> Recorded:
        """Place an order; with ``order_id``, under that id, or answer the order already placed under it."""
        if order_id is not None:
            try:
                existing = self.order(order_id)
            except NotFoundError:
                existing = None
            if existing is not None:
                existing.check_buyer(buyer_id)
                return Recorded(existing.id, self.position)
        delivery_site.check()  # invalid input is refused first, as before anything is loaded
        self._member(buyer_id, Role.BUYER)
        designs: list[tuple[LineRequest, Design | None]] = []
        for request in lines:
            try:
                designs.append((request, self.design(request.design_id)))
            except NotFoundError:
                designs.append((request, None))
        order = Order.place(
            buyer_id=buyer_id,
            delivery_site=delivery_site,
            install=install,
            lines=designs,
            directory=self.listed(),
            platform_fee_rate=self.platform_fee_rate,
            order_id=order_id,
        )
        return self._commit(order.id, order)

    @retrying
    def start_checkout(self, buyer_id: UUID, order_id: UUID, payment_intent_id: str) -> Recorded:
        order = self.order(order_id)
        order.check_buyer(buyer_id)
        order.start_checkout(payment_intent_id)
        return self._commit(order.id, order)

    def record_payment(self, order_id: UUID, payment_intent_id: str, amount_ore: int, currency: str) -> Recorded:
        """A confirmed payment: mark the order paid and open one production order per line.

        A payment the order no longer wanted (it was cancelled meanwhile) is
        recorded and refunded at once where a payment provider is configured.
        """
        recorded = self._record_payment(order_id, payment_intent_id, amount_ore, currency)
        if self.payments is not None and self.order(order_id).refunds_due():
            recorded = self.refund_order(order_id)
        return recorded

    @retrying
    def _record_payment(self, order_id: UUID, payment_intent_id: str, amount_ore: int, currency: str) -> Recorded:
        order = self.order(order_id)
        production_orders = self._production_orders_if_paid(order, payment_intent_id, amount_ore, currency)
        return self._commit(order.id, order, *production_orders)

    def checkout(self, buyer_id: UUID, order_id: UUID) -> tuple[Recorded, PaymentIntent]:
        """The payment intent the buyer pays the order with: the latest one while still usable, else a new one.

        A new intent's idempotency key names the order and the attempt, so a
        retried checkout after a crash asks the provider for the same intent.
        """
        order = self.order(order_id)
        order.check_buyer(buyer_id)
        if order.status is not OrderStatus.PLACED:
            raise InvalidTransitionError(f"an order that is {order.status} cannot be checked out")
        if self.payments is None:
            raise PaymentsUnavailableError("no payment provider is configured")
        if order.checkouts:
            latest = self.payments.payment_intent(order.checkouts[-1])
            if latest is not None and latest.usable and latest.amount_ore == order.total_ore and latest.currency == CURRENCY:
                return self._commit(order.id), latest
        intent = self.payments.create_payment_intent(
            order.id, order.total_ore, CURRENCY, f"checkout-{order.id}-{len(order.checkouts)}"
        )
        return self.start_checkout(buyer_id, order_id, intent.id), intent

    def record_payment_notice(
        self, *, provider_event_id: str, kind: str, payment_intent_id: str, order_id: UUID,
        amount_ore: int, currency: str, detail: str = "",
    ) -> Recorded | None:  # fmt: skip
        """Apply what the payment provider says happened, once per provider event.

        ``kind`` is "succeeded" or "failed". Returns None for a notice already
        recorded. A success that the order no longer wanted is refunded.
        """
        recorded = self._record_notice(provider_event_id, kind, payment_intent_id, order_id, amount_ore, currency, detail)
        # Also on a duplicate: Stripe redelivers a webhook that failed, and the refund may be what failed.
        if self.payments is not None and self.order(order_id).refunds_due():
            refunded = self.refund_order(order_id)
            if recorded is not None:
                recorded = refunded
        return recorded

    @retrying
    def _record_notice(self, provider_event_id: str, kind: str, payment_intent_id: str, order_id: UUID,
                       amount_ore: int, currency: str, detail: str) -> Recorded | None:  # fmt: skip
        notice_id = payment_notice_id(provider_event_id)
        if notice_id in self.repository:
            return None
        notice = PaymentNotice(provider_event_id=provider_event_id, kind=kind, payment_intent_id=payment_intent_id,
                               order_id=order_id, amount_ore=amount_ore, currency=currency, detail=detail)  # fmt: skip
        order = self.order(order_id)
        if kind == "failed":
            order.record_payment_failure(payment_intent_id, detail or "payment failed")
            return self._commit(order.id, notice, order)
        if kind != "succeeded":
            raise ValueError(f"unknown payment notice {kind!r}")
        if payment_intent_id in order.payments:
            return self._commit(order.id, notice)  # the same payment told twice under two event ids
        return self._commit(order.id, notice, order, *self._production_orders_if_paid(order, payment_intent_id,
                                                                                         amount_ore, currency))  # fmt: skip

    def _production_orders_if_paid(self, order: Order, payment_intent_id: str, amount_ore: int,
                                   currency: str) -> list[ProductionOrder]:  # fmt: skip
        """Receive the payment; if it paid the order, open one production order per line."""
        if not order.receive_payment(payment_intent_id, amount_ore, currency):
            return []
        return [
            ProductionOrder(
                order_id=order.id,
                line_no=line.line_no,
                design_id=line.design_id,
                revision=line.revision,
                title=line.title,
                required_capabilities=list(line.required_capabilities),
                municipality=order.delivery_site.municipality,
                quantity=line.quantity,
                production_fee_ore=line.production_fee_ore,
            )
            for line in order.lines
        ]

    @retrying
    def record_payment_failure(self, order_id: UUID, payment_intent_id: str, reason: str) -> Recorded:
        order = self.order(order_id)
        order.record_payment_failure(payment_intent_id, reason)
        return self._commit(order.id, order)

    def cancel_order(self, buyer_id: UUID, order_id: UUID, reason: str = "") -> Recorded:
        """Cancel before production starts; a paid order is then refunded in full.

        The cancellation is recorded before the refund is asked for, so a crash
        between the two leaves a cancelled order whose refund is still due, and
        ``refund_order`` finishes the job (the provider sees the same idempotency key).
        So does the buyer cancelling again: a cancelled order whose refund is still
        due (the provider was unreachable, say) has it asked for once more.
        """
        order = self.order(order_id)
        if order.status is OrderStatus.CANCELLED and order.refund_due_ore:
            order.check_buyer(buyer_id)
            return self.refund_order(order_id)
        recorded = self._cancel(buyer_id, order_id, reason)
        if self.order(order_id).refund_due_ore:
            recorded = self.refund_order(order_id)
        return recorded

    @retrying
    def _cancel(self, buyer_id: UUID, order_id: UUID, reason: str) -> Recorded:
        order = self.order(order_id)
        order.check_buyer(buyer_id)
        if order.status is OrderStatus.PAID and self.payments is None:
            raise PaymentsUnavailableError("the order is paid and no payment provider is configured")
        order.cancel(reason)
        production_orders = []
        if order.paid_payment_intent_id is not None:
            production_orders = [self.production_order(production_order_id(order.id, line.line_no)) for line in order.lines]
            for production in production_orders:
                production.cancel(f"order cancelled: {reason}" if reason else "order cancelled")
        return self._commit(order.id, order, *production_orders)

    @retrying
    def refund_order(self, order_id: UUID) -> Recorded:
        """Give back every payment the order owes the buyer; a no-op when none is due.

        The idempotency key names the payment and how much of it was already
        refunded, so a retry after a crash asks the provider for the same refund.
        """
        order = self.order(order_id)
        due = order.refunds_due()
        if not due:
            return self._commit(order.id)  # nothing to record: the position covers what it saw
        if self.payments is None:
            raise PaymentsUnavailableError("a refund is due and no payment provider is configured")
        for payment_intent_id, amount in due:
            already = order.refunds.get(payment_intent_id, 0)
            refund_id = self.payments.refund(payment_intent_id, amount, f"refund-{order.id}-{payment_intent_id}-{already}")
            order.record_refund(refund_id, payment_intent_id, amount)
        return self._commit(order.id, order)
