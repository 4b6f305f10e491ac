"""The payment port: what the marketplace needs from a payment provider (Stripe in production)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from vardekedja.domain.errors import DomainError


class ProviderError(Exception):
    """The payment provider refused a call or could not be reached; the message says why."""


class PaymentsUnavailableError(DomainError):
    """A refund is due but no payment provider is configured."""


@dataclass(frozen=True)
class PaymentIntent:
    """A payment provider's intent to collect one amount for one order."""

    id: str
    client_secret: str
    amount_ore: int
    currency: str
    status: str

    @property
    def usable(self) -> bool:
        """Can the buyer still pay with it (it has neither succeeded nor been cancelled)?"""
        return self.status in ("requires_payment_method", "requires_confirmation", "requires_action")


class PaymentGateway(Protocol):
    """What the application needs from a payment provider."""

    def create_payment_intent(self, order_id: UUID, amount_ore: int, currency: str, idempotency_key: str) -> PaymentIntent:
        """Ask for a new payment of the amount, naming the order in its metadata."""

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        """The intent as the provider has it now; None if the provider does not know it."""

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        """Refund part or all of a payment; return the provider's refund id."""
