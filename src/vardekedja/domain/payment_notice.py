"""Payment notices: what the payment provider told us, recorded once per notice.

The provider may deliver a notice twice or out of order. Each notice's id is
derived from the provider's own event id and saved in the same transaction as
its effect on the order, so a second delivery conflicts and changes nothing.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event


def payment_notice_id(provider_event_id: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"vardekedja:payment-notice/{provider_event_id}")


class PaymentNotice(Aggregate):
    TOPIC = "vardekedja:PaymentNotice"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:PaymentNotice.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:PaymentNotice.Event"

    class Received(Created):
        TOPIC = "vardekedja:PaymentNotice.Received"
        provider_event_id: str
        kind: str
        payment_intent_id: str
        order_id: UUID | None
        amount_ore: int
        currency: str
        detail: str

    @staticmethod
    def create_id(provider_event_id: str) -> UUID:
        return payment_notice_id(provider_event_id)

    @event(Received)
    def __init__(
        self, *, provider_event_id: str, kind: str, payment_intent_id: str, order_id: UUID | None,
        amount_ore: int, currency: str, detail: str,
    ) -> None:  # fmt: skip
        self.provider_event_id = provider_event_id
        self.kind = kind
        self.payment_intent_id = payment_intent_id
        self.order_id = order_id
        self.amount_ore = amount_ore
        self.currency = currency
        self.detail = detail
