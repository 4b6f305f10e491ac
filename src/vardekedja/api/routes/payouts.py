"""The payout ledger."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from sqlalchemy.engine import Connection

from vardekedja.api.deps import CallerDep, Cursor, Limit, RuntimeDep, ViewsDep, seen_by
from vardekedja.api.resources import PayoutOut, PayoutPage
from vardekedja.domain.organisation import Role
from vardekedja.projections.payouts import PayoutsView

router = APIRouter(tags=["payouts"])


@router.get("/payouts", response_model=PayoutPage)
async def list_payouts(caller: CallerDep, reads: ViewsDep, runtime: RuntimeDep,
                       order_id: Annotated[UUID | None, Query()] = None, limit: Limit = 20,
                       cursor: Cursor = None) -> PayoutPage:  # fmt: skip
    """What is owed and why, newest first: each party its own; the operator and auditors everyone's.

    ``totals_ore`` sums, per role, every entry the caller may see that fits the filter (all pages of it).
    """

    def read(views: Connection) -> PayoutPage:
        party = seen_by(caller, *Role, what="payout")
        view = runtime.view(PayoutsView)
        page = view.list(views, party_id=party, order_id=order_id, limit=limit, cursor=cursor)
        return PayoutPage(
            items=[PayoutOut.from_row(row) for row in page.items], next_cursor=page.next_cursor,
            totals_ore=view.totals(views, party_id=party, order_id=order_id),
        )  # fmt: skip

    return await reads.read(read)
