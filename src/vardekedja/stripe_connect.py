"""Stripe Connect through the official SDK: payout accounts, onboarding links, transfers and reversals.

A mixin of ``StripeGateway`` (stripe_gateway.py), so the same client, base
address and error mapping serve payments and payouts. Against the local
stand-in the very same calls reach local_connect.py.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import stripe

from vardekedja.application.payments import ProviderError
from vardekedja.application.settlement import Transfer


class StripeConnect:
    client: stripe.StripeClient

    def _call(self, function: Any, *args: Any, **kwargs: Any) -> Any:  # provided by StripeGateway
        raise NotImplementedError

    def create_account(self, organisation_id: UUID, country: str, idempotency_key: str) -> str:
        """An Express account that may receive transfers, naming the organisation in its metadata."""
        account = self._call(self.client.v1.accounts.create, params={
            "type": "express", "country": country, "capabilities": {"transfers": {"requested": True}},
            "metadata": {"organisation_id": str(organisation_id)},
        }, options={"idempotency_key": idempotency_key})  # fmt: skip
        return str(account["id"])

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        link = self._call(self.client.v1.account_links.create, params={
            "account": account_id, "type": "account_onboarding", "refresh_url": refresh_url, "return_url": return_url,
        })  # fmt: skip
        return str(link["url"])

    def account_ready(self, account_id: str) -> bool:
        """Can the account receive transfers now (its ``transfers`` capability is active)?"""
        account = self._call(self.client.v1.accounts.retrieve, account_id).to_dict()
        return (account.get("capabilities") or {}).get("transfers") == "active"

    def charge_of(self, payment_intent_id: str) -> str:
        """The charge that paid an intent (the ``source_transaction`` of its transfers)."""
        try:
            intent = self.client.v1.payment_intents.retrieve(payment_intent_id).to_dict()
        except stripe.InvalidRequestError as error:
            if error.http_status == 404:
                raise ProviderError(f"Stripe does not know the payment {payment_intent_id} that paid the order, so "
                                    "nothing can be transferred from it") from None  # fmt: skip
            raise ProviderError(f"Stripe: {error.user_message or error}") from None
        except stripe.StripeError as error:
            raise ProviderError(f"Stripe: {error.user_message or error}") from None
        charge = intent.get("latest_charge")
        if not charge:
            raise ProviderError(f"Stripe: the payment {payment_intent_id} has no charge")
        return str(charge if isinstance(charge, str) else charge["id"])

    def transfer(self, *, payout_id: UUID, amount_ore: int, currency: str, destination: str,
                 source_transaction: str, transfer_group: str) -> Transfer:  # fmt: skip
        """One transfer per payout: the payout id is the idempotency key and rides in the metadata."""
        made = self._call(self.client.v1.transfers.create, params={
            "amount": amount_ore, "currency": currency, "destination": destination,
            "source_transaction": source_transaction, "transfer_group": transfer_group,
            "metadata": {"payout_id": str(payout_id)},
        }, options={"idempotency_key": f"payout-{payout_id}"})  # fmt: skip
        return _transfer(made)

    def find_transfer(self, transfer_group: str, payout_id: UUID) -> Transfer | None:
        """A transfer already made for the payout (for when the idempotency key has expired, after 24 h)."""
        listed = self._call(self.client.v1.transfers.list, params={"transfer_group": transfer_group, "limit": 100})
        for made in listed.auto_paging_iter():
            if (made.to_dict().get("metadata") or {}).get("payout_id") == str(payout_id):
                return _transfer(made)
        return None

    def reversals(self, transfer_id: str) -> list[tuple[str, int]]:
        """Every reversal of a transfer, as (id, amount)."""
        listed = self._call(self.client.v1.transfers.reversals.list, transfer_id, params={"limit": 100})
        return [(str(made["id"]), int(made["amount"])) for made in listed.auto_paging_iter()]

    def reverse(self, transfer_id: str, amount_ore: int, idempotency_key: str) -> str:
        reversal = self._call(self.client.v1.transfers.reversals.create, transfer_id, params={"amount": amount_ore},
                              options={"idempotency_key": idempotency_key})  # fmt: skip
        return str(reversal["id"])


def _transfer(made: Any) -> Transfer:
    return Transfer(id=str(made["id"]), amount_ore=int(made["amount"]), destination=str(made["destination"]))
