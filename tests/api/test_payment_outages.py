"""When Stripe cannot be reached: 503 problems, nothing half-done, and refunds that are finished later.

A cancellation is recorded before its refund is asked for, and a payment
notice before the refund it may call for; when that refund fails, a repeat of
the same request (the buyer cancelling again, Stripe redelivering the event)
finishes it, with the same idempotency key so Stripe refunds once.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.payment_shop import Shop, open_shop
from tests.payments_support import WEBHOOK_PATH, notices, order_event_types, signed


@pytest.fixture
def shop(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Shop]:
    with open_shop("sqlite", tmp_path, request) as opened:
        yield opened


def test_a_checkout_while_stripe_is_unreachable_is_a_503_and_writes_nothing(shop: Shop) -> None:
    order_id = shop.place()
    before = shop.position
    shop.stripe.down = True

    response = shop.client.post(f"/v1/orders/{order_id}/checkout", headers=shop.buyer)

    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert shop.position == before
    shop.stripe.down = False
    assert shop.checkout(order_id)["amount_ore"] == shop.order(order_id)["total_ore"]


def test_a_refund_that_failed_at_cancellation_is_finished_by_cancelling_again(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    assert shop.deliver(shop.paid_event(order_id, checkout)).status_code == 200
    shop.stripe.down = True

    failed = shop.client.post(f"/v1/orders/{order_id}/cancel", json={"reason": "flyttar"}, headers=shop.buyer)

    assert failed.status_code == 503, failed.text
    assert failed.headers["content-type"].startswith("application/problem+json")
    cancelled = shop.order(order_id)
    total = cancelled["total_ore"]
    assert (cancelled["status"], cancelled["paid_ore"], cancelled["refunded_ore"]) == ("cancelled", total, 0)
    assert shop.stripe.refunds == []

    shop.stripe.down = False
    again = shop.client.post(f"/v1/orders/{order_id}/cancel", json={"reason": "flyttar"}, headers=shop.buyer)

    assert again.status_code == 200, again.text
    assert (again.json()["status"], again.json()["refunded_ore"]) == ("cancelled", total)
    assert shop.stripe.refunds == [("re_offline_1", checkout["payment_intent_id"], total,
                                    f"refund-{order_id}-{checkout['payment_intent_id']}-0")]  # fmt: skip
    assert order_event_types(shop.runtime.marketplace, order_id).count("Cancelled") == 1
    # Nothing is owed any more: a third cancel is the conflict it always was.
    third = shop.client.post(f"/v1/orders/{order_id}/cancel", json={"reason": "flyttar"}, headers=shop.buyer)
    assert third.status_code == 409, third.text
    assert shop.order(order_id)["refunded_ore"] == total


def test_only_the_buyer_can_finish_a_refund_by_cancelling_again(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    assert shop.deliver(shop.paid_event(order_id, checkout)).status_code == 200
    shop.stripe.down = True
    assert shop.client.post(f"/v1/orders/{order_id}/cancel", headers=shop.buyer).status_code == 503
    shop.stripe.down = False
    app = shop.runtime.marketplace
    other = app.register_organisation(name="Annan Bostad", role="buyer", org_number="556677-8899",
                                      municipality="Botkyrka").api_key  # fmt: skip

    response = shop.client.post(f"/v1/orders/{order_id}/cancel", headers={"Authorization": f"Bearer {other}"})

    assert response.status_code == 404, response.text
    assert shop.stripe.refunds == []


def test_a_refund_that_failed_in_the_webhook_is_made_when_stripe_redelivers(shop: Shop) -> None:
    order_id = shop.place()
    checkout = shop.checkout(order_id)
    assert shop.client.post(f"/v1/orders/{order_id}/cancel", headers=shop.buyer).status_code == 200
    body, headers = signed(shop.paid_event(order_id, checkout), shop.stripe.webhook_secret or "")
    shop.stripe.down = True

    first = shop.client.post(WEBHOOK_PATH, content=body, headers=headers)

    assert first.status_code == 503, first.text  # not 2xx, so Stripe delivers it again
    assert len(notices(shop.runtime.marketplace)) == 1  # the payment itself is on record
    assert shop.order(order_id)["paid_ore"] == shop.order(order_id)["total_ore"]
    assert shop.order(order_id)["refunded_ore"] == 0

    shop.stripe.down = False
    redelivered = shop.client.post(WEBHOOK_PATH, content=body, headers=headers)

    assert redelivered.status_code == 200, redelivered.text
    assert redelivered.json() == {"received": True, "duplicate": True}
    order = shop.order(order_id)
    assert (order["status"], order["refunded_ore"]) == ("cancelled", order["total_ore"])
    assert [(pi, amount) for _, pi, amount, _ in shop.stripe.refunds] == [
        (checkout["payment_intent_id"], order["total_ore"])
    ]
    assert len(notices(shop.runtime.marketplace)) == 1
