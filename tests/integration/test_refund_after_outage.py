"""A refund the payment provider could not make is made when Stripe delivers the notice again.

Stripe redelivers a webhook that failed. A payment that lands on a cancelled order is owed
back at once; when the provider is down at that moment the notice is recorded, the webhook
fails, and the redelivery must finish the refund even though the notice itself is a duplicate.
"""

from __future__ import annotations

from fractions import Fraction

from tests.chain import SITE, published_design, register_cast
from tests.conftest import RecordingRefunds, store_env
from vardekedja.application import Marketplace
from vardekedja.domain.order import LineRequest, OrderStatus


class ProviderDown(RecordingRefunds):
    """Refunds fail while ``down`` is set, as during a network outage."""

    down = True

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        if self.down:
            raise ConnectionError("the payment provider did not answer")
        return super().refund(payment_intent_id, amount_ore, idempotency_key)


def test_a_redelivered_notice_refunds_a_late_payment_the_provider_failed_to_refund(storage, tmp_path, request):
    provider = ProviderDown()
    app = Marketplace(store_env(storage, tmp_path, request), platform_fee_rate=Fraction(10, 100), payments=provider)
    try:
        cast = register_cast(app)
        order_id = app.place_order(cast.buyer, SITE, False, [LineRequest(published_design(app, cast), 1)]).id
        app.start_checkout(cast.buyer, order_id, "pi_late")
        app.cancel_order(cast.buyer, order_id)
        notice = dict(
            provider_event_id="evt_late", kind="succeeded", payment_intent_id="pi_late", order_id=order_id,
            amount_ore=app.order(order_id).total_ore, currency="sek",
        )  # fmt: skip

        try:
            app.record_payment_notice(**notice)
        except ConnectionError:
            pass  # the webhook answers 500, so Stripe delivers the event again later
        assert app.order(order_id).refund_due_ore == notice["amount_ore"]

        provider.down = False
        assert app.record_payment_notice(**notice) is None  # still a duplicate notice

        order = app.order(order_id)
        assert order.status is OrderStatus.CANCELLED and order.refund_due_ore == 0
        assert order.refunded_ore == order.paid_ore == notice["amount_ore"]
        assert [(intent, amount) for intent, amount, _ in provider.calls] == [("pi_late", notice["amount_ore"])]
    finally:
        app.close()
