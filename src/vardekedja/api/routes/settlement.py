"""Money that reaches the parties: payout accounts, claims, and transfers that failed."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from vardekedja.api.deps import CallerDep, OperatorDep, OverseerDep, RuntimeDep, ViewsDep, WriterDep, recorded
from vardekedja.api.problems import ApiError
from vardekedja.api.schemas import Body, Text
from vardekedja.application.settlement_follower import SettlementFollower
from vardekedja.domain.claim import Claim
from vardekedja.domain.design import MAX_ORE
from vardekedja.domain.order import MAX_LINES
from vardekedja.domain.organisation import Role
from vardekedja.projections.settlement import SettlementView

router = APIRouter(tags=["settlement"])


class PayoutAccountOut(BaseModel):
    account_id: str = Field(description="The Stripe Connect account")
    onboarding_url: str | None = Field(description="Where the party gives Stripe its details (single use, expires)")
    ready: bool = Field(description="Can the account receive transfers yet (Stripe's account.updated says so)")


class ClaimIn(Body):
    line_no: Annotated[int, Field(ge=1, le=MAX_LINES)]
    amount_ore: Annotated[int, Field(ge=1, le=MAX_ORE, description="Given back to the buyer, VAT included")]
    reason: Text = Field(min_length=1)


class ClaimOut(BaseModel):
    id: UUID
    order_id: UUID
    line_no: int
    amount_ore: int
    reason: str
    refund_id: str
    payouts_ore: dict[str, int] = Field(description="What each party's payout gives back, by role")
    vat_ore: int
    platform_fee_ore: int

    @classmethod
    def from_aggregate(cls, claim: Claim) -> ClaimOut:
        return cls(id=claim.id, order_id=claim.order_id, line_no=claim.line_no, amount_ore=claim.amount_ore,
                   reason=claim.reason, refund_id=claim.refund_id, payouts_ore=claim.payouts, vat_ore=claim.vat_ore,
                   platform_fee_ore=claim.platform_fee_ore)  # fmt: skip


class TransferFailureOut(BaseModel):
    payout_id: UUID
    party_id: UUID
    order_id: UUID
    line_no: int
    role: str
    due_ore: int = Field(description="The transfer (or, after a claim, the reversal) still to be made")
    failures: int
    last_error: str
    last_failed_at: datetime | None
    next_attempt_at: datetime | None = Field(description="When the settlement follower tries again")

    @classmethod
    def from_row(cls, row: dict[str, Any], follower: SettlementFollower) -> TransferFailureOut:
        net = row["amount_ore"] - row["reduced_ore"]
        due = net if row["transfer_id"] is None else row["transferred_ore"] - row["reversed_ore"] - net
        retry = follower.next_attempt(row["failures"], row["last_failed_at"])
        return cls(**{name: row[name] for name in cls.model_fields if name not in ("due_ore", "next_attempt_at")},
                   due_ore=due, next_attempt_at=datetime.fromtimestamp(retry, UTC) if retry else None)  # fmt: skip


def _operator_or_self(caller: CallerDep, organisation_id: UUID) -> None:
    if caller.role is not Role.OPERATOR and caller.organisation_id != organisation_id:
        raise ApiError(404, f"no organisation {organisation_id}")


@router.post("/organisations/{organisation_id}/payout-account", response_model=PayoutAccountOut)
async def connect_payout_account(organisation_id: UUID, caller: WriterDep, runtime: RuntimeDep, request: Request,
                                 response: Response) -> PayoutAccountOut:  # fmt: skip
    """Open the organisation's payout account at Stripe (once) and give a fresh onboarding link.

    For a designer, workshop or area company, by itself or the operator. Money owed waits until Stripe
    says the account can receive it, then goes.
    """
    _operator_or_self(caller, organisation_id)
    back = runtime.settings.public_url("/", str(request.base_url))  # where Stripe sends the party back
    done, link = await to_thread.run_sync(
        lambda: runtime.marketplace.connect_payout_account(organisation_id, back, back))
    recorded(response, done.position)
    return PayoutAccountOut(account_id=link.account_id, onboarding_url=link.onboarding_url, ready=link.ready)


@router.get("/organisations/{organisation_id}/payout-account", response_model=PayoutAccountOut)
async def get_payout_account(organisation_id: UUID, caller: CallerDep, reads: ViewsDep,
                             runtime: RuntimeDep) -> PayoutAccountOut:  # fmt: skip
    """The organisation's payout account and whether it can receive money (to itself, the operator, auditors)."""
    if caller.role is not Role.AUDITOR:
        _operator_or_self(caller, organisation_id)

    def read(views: Connection) -> PayoutAccountOut:
        row = runtime.view(SettlementView).account(views, organisation_id)
        if row is None:
            raise ApiError(404, "this organisation has no payout account yet")
        return PayoutAccountOut(account_id=row["account_id"], onboarding_url=None, ready=row["ready"])

    return await reads.read(read)


@router.post("/orders/{order_id}/refunds", status_code=status.HTTP_201_CREATED, response_model=ClaimOut)
async def refund_claim(order_id: UUID, body: ClaimIn, caller: OperatorDep, runtime: RuntimeDep,
                       response: Response) -> ClaimOut:  # fmt: skip
    """A claim: refund part of a delivered (and, where asked, installed) line to the buyer.

    The line's payouts give back their share in proportion, rounded half-up: still owed, they shrink;
    already transferred, the transfer is reversed by that much. VAT gives back its share; the platform fee
    the rest. Send an Idempotency-Key: a retry then answers the same claim.
    """

    def run() -> ClaimOut:
        done = runtime.marketplace.claim_refund(order_id, body.line_no, body.amount_ore, body.reason)
        recorded(response, done.position)
        return ClaimOut.from_aggregate(runtime.marketplace.claim(done.id))

    claim = await to_thread.run_sync(run)
    runtime.settlement.wake.set()
    return claim


@router.get("/payouts/transfer-failures", response_model=list[TransferFailureOut])
async def transfer_failures(caller: OverseerDep, reads: ViewsDep, runtime: RuntimeDep) -> list[TransferFailureOut]:
    """Payouts whose last transfer (or reversal) failed and are still due; they are tried again with
    doubling waits. Operator and auditors."""

    def read(views: Connection) -> list[TransferFailureOut]:
        return [TransferFailureOut.from_row(row, runtime.settlement) for row in runtime.view(SettlementView).failing(views)]

    return await reads.read(read)
