"""An in-memory Stripe Connect for unit tests: the same rules as the local stand-in, none of the network.

Per-charge balances (a transfer may not exceed what its source charge has left,
refunds and reversals counted), reversals bounded by the transfer, idempotency
keys that replay the first answer and refuse other parameters, and failures on
demand. Hypothesis runs the marketplace against this hundreds of times.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from vardekedja.application.payments import PaymentIntent, ProviderError
from vardekedja.application.settlement import Transfer


@dataclass
class FakeConnect:
    accounts: dict[str, bool] = field(default_factory=dict)  # account -> can receive
    charges: dict[str, tuple[str, int]] = field(default_factory=dict)  # payment intent -> (charge, amount)
    transfers: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, tuple[str, int]] = field(default_factory=dict)  # refund -> (payment intent, amount)
    keys: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # idempotency key -> (params, answer)
    fail_next: int = 0
    calls: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def _new(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def _once(self, key: str, params: Any, make: Any) -> Any:
        self.calls += 1
        if self.fail_next:
            self.fail_next -= 1
            raise ProviderError("Stripe: an unexpected error occurred (fake outage)")
        if key in self.keys:
            kept, answer = self.keys[key]
            if kept != params:
                raise ProviderError("Stripe: keys for idempotent requests can only be used with the same parameters")
            return answer
        answer = make()
        self.keys[key] = (params, answer)
        return answer

    def pay(self, payment_intent_id: str, amount_ore: int) -> None:
        self.charges[payment_intent_id] = (f"ch_{payment_intent_id}", amount_ore)

    # The port (ConnectGateway, and refunds of PaymentGateway).

    def create_account(self, organisation_id: UUID, country: str, idempotency_key: str) -> str:
        def make() -> str:
            account = self._new("acct_")
            self.accounts[account] = False
            return account

        return str(self._once(idempotency_key, (str(organisation_id), country), make))

    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        return f"https://connect.test/onboard/{account_id}"

    def account_ready(self, account_id: str) -> bool:
        return self.accounts[account_id]

    def charge_of(self, payment_intent_id: str) -> str:
        return self.charges[payment_intent_id][0]

    def left_on(self, charge: str) -> int:
        [(intent, amount)] = [(i, a) for i, (c, a) in self.charges.items() if c == charge]
        refunded = sum(a for i, a in self.refunds.values() if i == intent)
        used = sum(t["amount"] - t["reversed"] for t in self.transfers.values() if t["source"] == charge)
        return amount - refunded - used

    def transfer(self, *, payout_id: UUID, amount_ore: int, currency: str, destination: str,
                 source_transaction: str, transfer_group: str) -> Transfer:  # fmt: skip
        params = (amount_ore, currency, destination, source_transaction, transfer_group)

        def make() -> Transfer:
            if not self.accounts.get(destination):
                raise ProviderError("Stripe: the destination account cannot receive transfers")
            if amount_ore > self.left_on(source_transaction):
                raise ProviderError("Stripe: the transfer exceeds what is left of the source transaction")
            made = Transfer(self._new("tr_"), amount_ore, destination)
            self.transfers[made.id] = {"amount": amount_ore, "reversed": 0, "source": source_transaction,
                                       "group": transfer_group, "payout": str(payout_id), "reversals": []}  # fmt: skip
            return made

        return self._once(f"payout-{payout_id}", params, make)  # type: ignore[no-any-return]

    def find_transfer(self, transfer_group: str, payout_id: UUID) -> Transfer | None:
        for transfer_id, made in self.transfers.items():
            if made["group"] == transfer_group and made["payout"] == str(payout_id):
                return Transfer(transfer_id, made["amount"], "")
        return None

    def reversals(self, transfer_id: str) -> list[tuple[str, int]]:
        return list(self.transfers[transfer_id]["reversals"])

    def reverse(self, transfer_id: str, amount_ore: int, idempotency_key: str) -> str:
        def make() -> str:
            made = self.transfers[transfer_id]
            if not 0 < amount_ore <= made["amount"] - made["reversed"]:
                raise ProviderError("Stripe: the reversal exceeds what is left of the transfer")
            made["reversed"] += amount_ore
            reversal = self._new("trr_")
            made["reversals"].append((reversal, amount_ore))
            return reversal

        return str(self._once(idempotency_key, (transfer_id, amount_ore), make))

    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str:
        def make() -> str:
            refund = self._new("re_")
            self.refunds[refund] = (payment_intent_id, amount_ore)
            return refund

        return str(self._once(idempotency_key, (payment_intent_id, amount_ore), make))

    # Unused by settlement, present for the payment port.

    def create_payment_intent(self, order_id: UUID, amount_ore: int, currency: str, idempotency_key: str) -> PaymentIntent:
        raise AssertionError("settlement tests pay orders directly")

    def payment_intent(self, payment_intent_id: str) -> PaymentIntent | None:
        return None

    # What happened, per order.

    def transferred(self, order_id: UUID) -> int:
        return sum(t["amount"] - t["reversed"] for t in self.transfers.values() if t["group"] == str(order_id))

    def refunded(self, payment_intent_id: str) -> int:
        return sum(amount for intent, amount in self.refunds.values() if intent == payment_intent_id)
