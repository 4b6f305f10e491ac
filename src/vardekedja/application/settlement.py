"""Money that reaches the parties: payout accounts, transfers, reversals and claims.

Every call to the provider is made before its record, with an idempotency key
derived from what is being paid (the payout id; the payout and how much of it
was already reversed; the claim's number on its line). A process that dies
between the provider's answer and our record asks again with the same key on
its next try and gets the same transfer, reversal or refund back, so nothing
is lost and nothing is paid twice. ``pay_out`` also looks for a transfer
already made for the payout (Stripe keeps idempotency keys for 24 hours only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from vardekedja.application.base import MarketplaceBase
from vardekedja.application.payments import PaymentsUnavailableError, ProviderError
from vardekedja.application.rounds import RETRIES_ON_CONFLICT, Recorded, retrying
from vardekedja.domain.claim import CLAIM_RULE, Claim, InvalidClaimError, claim_id, split_claim
from vardekedja.domain.errors import ConcurrentUpdateError, NotFoundError
from vardekedja.domain.order import CURRENCY, Order
from vardekedja.domain.payout import Payout
from vardekedja.domain.payout_account import PayoutAccount, payout_account_id

ACCOUNT_COUNTRY = "SE"


@dataclass(frozen=True)
class Transfer:
    id: str
    amount_ore: int
    destination: str


@dataclass(frozen=True)
class PayoutAccountLink:
    account_id: str
    onboarding_url: str
    ready: bool


class ConnectGateway(Protocol):
    """What payouts need from the payment provider (Stripe Connect); errors are ``ProviderError``."""

    def create_account(self, organisation_id: UUID, country: str, idempotency_key: str) -> str: ...
    def onboarding_link(self, account_id: str, refresh_url: str, return_url: str) -> str: ...
    def account_ready(self, account_id: str) -> bool: ...
    def charge_of(self, payment_intent_id: str) -> str: ...
    def transfer(self, *, payout_id: UUID, amount_ore: int, currency: str, destination: str,
                 source_transaction: str, transfer_group: str) -> Transfer: ...  # fmt: skip
    def find_transfer(self, transfer_group: str, payout_id: UUID) -> Transfer | None: ...
    def reversals(self, transfer_id: str) -> list[tuple[str, int]]: ...
    def reverse(self, transfer_id: str, amount_ore: int, idempotency_key: str) -> str: ...
    def refund(self, payment_intent_id: str, amount_ore: int, idempotency_key: str) -> str: ...


class SettlementCommands(MarketplaceBase):

    def _connect(self) -> ConnectGateway:
        if self.payments is None or not hasattr(self.payments, "transfer"):
            raise PaymentsUnavailableError("no payment provider with payouts (Stripe Connect) is configured")
        return self.payments  # type: ignore[return-value]

    def payout_account(self, organisation_id: UUID) -> PayoutAccount | None:
        try:
            return self._get(PayoutAccount, payout_account_id(organisation_id))
        except NotFoundError:
            return None

    # Payout accounts.

    def connect_payout_account(self, organisation_id: UUID, refresh_url: str, return_url: str) -> tuple[Recorded, PayoutAccountLink]:
        """The organisation's payout account (opened at the provider the first time) and a fresh onboarding link.

        Opening asks the provider first, with an idempotency key naming the organisation, then records; a
        crash in between opens the same account again on the next try. Each link handed out is recorded.
        """
        connect = self._connect()
        organisation = self.organisation(organisation_id)
        account = self.payout_account(organisation_id)
        if account is None:
            PayoutAccount.open(organisation, "")  # the rules first: refuse a buyer before asking the provider
            account_id = connect.create_account(organisation_id, ACCOUNT_COUNTRY, f"payout-account-{organisation_id}")
        else:
            account_id = account.account_id
        url = connect.onboarding_link(account_id, refresh_url, return_url)
        recorded = self._link_issued(organisation_id, account_id)
        account = self._get(PayoutAccount, payout_account_id(organisation_id))
        return recorded, PayoutAccountLink(account.account_id, url, account.ready)

    @retrying
    def _link_issued(self, organisation_id: UUID, account_id: str) -> Recorded:
        account = self.payout_account(organisation_id)
        if account is None:
            account = PayoutAccount.open(self.organisation(organisation_id), account_id)
        account.note_link_issued()
        return self._commit(account.id, account)

    def record_account_update(self, organisation_id: UUID, account_id: str) -> Recorded | None:
        """The provider says an account changed: ask it whether the account can receive money now.

        Asking rather than trusting the event keeps out-of-order deliveries from undoing a newer state.
        None when the account is not one of ours.
        """
        account = self.payout_account(organisation_id)
        if account is None or account.account_id != account_id:
            return None
        return self._note_readiness(organisation_id, self._connect().account_ready(account_id))

    @retrying
    def _note_readiness(self, organisation_id: UUID, ready: bool) -> Recorded:
        account = self._get(PayoutAccount, payout_account_id(organisation_id))
        return self._commit(account.id, account if account.note_readiness(ready) else None)

    # Transfers and reversals, one payout at a time (the settlement follower calls this).

    def pay_out(self, payout_id: UUID) -> str:
        """Transfer what the payout is owed, or reverse what a claim took back; say which, or why not.

        Returns "transferred", "reversed", "waiting" (no account that can receive yet), "nothing" or
        "failed" (recorded on the payout, to be tried again later).
        """
        payout = self._get(Payout, payout_id)
        if payout.transfer_due_ore > 0:
            return self._transfer(payout)
        if payout.reversal_due_ore > 0:
            return self._reverse(payout)
        return "nothing"

    def _transfer(self, payout: Payout) -> str:
        account = self.payout_account(payout.party_id)
        if account is None or not account.ready:
            return "waiting"
        order = self.order(payout.order_id)
        connect = self._connect()
        try:
            made = connect.find_transfer(str(order.id), payout.id) if payout.failures else None
            if made is None:
                made = connect.transfer(
                    payout_id=payout.id, amount_ore=payout.transfer_due_ore, currency=CURRENCY,
                    destination=account.account_id, source_transaction=connect.charge_of(self._paid_by(order)),
                    transfer_group=str(order.id),
                )  # fmt: skip
        except ProviderError as error:
            self._record_failure(payout.id, str(error))
            return "failed"
        self._record_transfer(payout.id, made)
        return "transferred"

    @staticmethod
    def _paid_by(order: Order) -> str:
        if order.paid_payment_intent_id is None:
            raise ProviderError("the order was never paid")
        return order.paid_payment_intent_id

    @retrying
    def _record_transfer(self, payout_id: UUID, made: Transfer) -> Recorded:
        payout = self._get(Payout, payout_id)
        return self._commit(payout.id, payout if payout.record_transfer(made.id, made.amount_ore) else None)

    @retrying
    def _record_failure(self, payout_id: UUID, reason: str) -> Recorded:
        payout = self._get(Payout, payout_id)
        payout.record_transfer_failure(reason)
        return self._commit(payout.id, payout)

    def _reverse(self, payout: Payout) -> str:
        connect = self._connect()
        assert payout.transfer_id is not None
        try:
            for reversal_id, amount in connect.reversals(payout.transfer_id):  # made, but not recorded (a crash)
                if reversal_id not in payout.reversal_ids:
                    self._record_reversal(payout.id, reversal_id, amount)
            payout = self._get(Payout, payout.id)
            if payout.reversal_due_ore <= 0:
                return "reversed"
            reversal_id = connect.reverse(payout.transfer_id, payout.reversal_due_ore,
                                          f"reversal-{payout.id}-{payout.reversed_ore}")  # fmt: skip
        except ProviderError as error:
            self._record_failure(payout.id, str(error))
            return "failed"
        self._record_reversal(payout.id, reversal_id, payout.reversal_due_ore)
        return "reversed"

    @retrying
    def _record_reversal(self, payout_id: UUID, reversal_id: str, amount_ore: int) -> Recorded:
        payout = self._get(Payout, payout_id)
        if reversal_id in payout.reversal_ids:
            return self._commit(payout.id)
        payout.record_reversal(reversal_id, amount_ore)
        return self._commit(payout.id, payout)

    # Claims.

    def claim(self, claim_id_: UUID) -> Claim:
        return self._get(Claim, claim_id_)

    def claims(self, order_id: UUID, line_no: int) -> list[Claim]:
        found: list[Claim] = []
        while True:
            try:
                found.append(self._get(Claim, claim_id(order_id, line_no, len(found))))
            except NotFoundError:
                return found

    def claim_refund(self, order_id: UUID, line_no: int, amount_ore: int, reason: str) -> Recorded:
        """Refund part of a settled line to the buyer; its payouts give back their share (reversed later
        by the settlement follower where already transferred)."""
        order = self.order(order_id)
        line = order.line(line_no)
        if line_no not in order.delivered_lines:
            raise InvalidClaimError(f"line {line_no} is not delivered yet", field="line_no")
        if order.install and line_no not in order.installed_lines:
            raise InvalidClaimError(f"line {line_no} is not installed yet; claim once it is", field="line_no")
        claims = self.claims(order_id, line_no)
        self._split(order, line_no, claims, amount_ore)  # the rules first: refuse before any money moves
        number = len(claims)
        refund_id = self._connect().refund(self._paid_by(order), amount_ore, f"claim-{order.id}-{line_no}-{number}")
        for _ in range(RETRIES_ON_CONFLICT):
            existing = self.claims(order_id, line_no)
            if len(existing) > number:  # recorded already, by a retry of this very claim, or raced
                if existing[number].refund_id == refund_id:
                    return Recorded(existing[number].id, self.position)
                raise ConcurrentUpdateError("another claim on this line was made at the same time; try again")
            payouts = [p for p in self.payouts(order) if p.line_no == line.line_no]
            split = self._split(order, line_no, existing, amount_ore, payouts)
            claim = Claim(order_id=order.id, line_no=line_no, number=number, amount_ore=amount_ore, reason=reason,
                          refund_id=refund_id, payment_intent_id=self._paid_by(order), payouts=split.payouts,
                          vat_ore=split.vat_ore, platform_fee_ore=split.platform_fee_ore, rule=CLAIM_RULE)  # fmt: skip
            for payout in payouts:
                if split.payouts.get(payout.role.value):
                    payout.reduce(split.payouts[payout.role.value], claim.id)
            try:
                return self._commit(claim.id, claim, *payouts)
            except IntegrityError:
                continue
        raise ConcurrentUpdateError("the line changed while the claim was recorded; try again")

    def _split(self, order: Order, line_no: int, claims: list[Claim], amount_ore: int,
               payouts: list[Payout] | None = None):  # type: ignore[no-untyped-def]  # fmt: skip
        line = order.line(line_no)
        if payouts is None:
            payouts = [p for p in self.payouts(order) if p.line_no == line_no]
        return split_claim(
            amount_ore=amount_ore, claimed_before_ore=sum(c.amount_ore for c in claims),
            line_gross_ore=line.amount_ore + line.vat_ore, line_vat_ore=line.vat_ore,
            payouts={p.role.value: (p.amount_ore, p.reduced_ore) for p in payouts},
            vat_before_ore=sum(c.vat_ore for c in claims), fee_before_ore=sum(c.platform_fee_ore for c in claims),
        )  # fmt: skip
