"""Reconciliation of the money, and the SIE 4 export of the books (operator and auditors)."""

from __future__ import annotations

import threading
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from vardekedja import __version__
from vardekedja.api.deps import OverseerDep, RuntimeDep, ViewsDep
from vardekedja.domain.errors import RuleViolationError
from vardekedja.projections.ledger import LedgerView, reconcile
from vardekedja.projections.projector import projector_lock
from vardekedja.runtime import Runtime
from vardekedja.sie import DEFAULT_ACCOUNTS, SWEDEN, write_sie

router = APIRouter(tags=["bookkeeping"])

From = Annotated[date | None, Query(alias="from", description="First day (Swedish time), inclusive")]
To = Annotated[date | None, Query(alias="to", description="Last day (Swedish time), inclusive")]


class Reconciled(BaseModel):
    received_ore: int = Field(description="Money that arrived for the order")
    vat_ore: int
    platform_fee_ore: int
    transferred_ore: int = Field(description="Transfers to the parties, less reversals")
    owed_ore: int = Field(description="Owed to the parties and not transferred yet (negative: a reversal is due)")
    refunded_ore: int = Field(description="Given back to the buyer: cancellations, second payments, claims")
    difference_ore: int = Field(description="received − (VAT + fee + transferred + owed + refunded)")
    awaiting_delivery_ore: int = Field(description="Part of the difference: for lines not yet delivered or installed")
    refund_due_ore: int = Field(description="Part of the difference: still to be given back to the buyer")
    unexplained_ore: int = Field(description="What neither explains; anything but 0 needs a look")


class OrderReconciled(Reconciled):
    order_id: UUID


class Difference(BaseModel):
    order_id: UUID
    difference_ore: int
    explanation: str


class Reconciliation(BaseModel):
    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")
    orders: list[OrderReconciled]
    total: Reconciled
    differences: list[Difference]


def period(start: date | None, end: date | None) -> tuple[datetime | None, datetime | None]:
    """Whole Swedish days [start, end] as moments [from, until)."""
    if start is not None and end is not None and end < start:
        raise RuleViolationError("the period ends on the day given in `to`, before it starts", field="to")
    since = datetime.combine(start, time.min, SWEDEN) if start else None
    until = datetime.combine(end + timedelta(days=1), time.min, SWEDEN) if end else None
    return since, until


def explain(row: dict[str, int]) -> str:
    said = []
    if row["awaiting_delivery_ore"]:
        said.append(f"{row['awaiting_delivery_ore']} öre for lines not yet delivered or installed")
    if row["refund_due_ore"]:
        said.append(f"{row['refund_due_ore']} öre still to be refunded to the buyer")
    if row["unexplained_ore"]:
        said.append(f"{row['unexplained_ore']} öre unexplained")
    return "; ".join(said)


@router.get("/payouts/reconciliation", response_model=Reconciliation, response_model_by_alias=True)
async def reconciliation(caller: OverseerDep, reads: ViewsDep, runtime: RuntimeDep, start: From = None,
                         end: To = None) -> Reconciliation:  # fmt: skip
    """Per order (by the day its first money arrived) and in total: money received = VAT + platform fee +
    transferred + owed + refunded, to the öre. Every order where it does not hold yet is listed with why."""
    since, until = period(start, end)

    def read(views: Connection) -> Reconciliation:
        rows = [reconcile(order) for order in runtime.view(LedgerView).orders_between(views, since, until)]
        fields = [name for name in Reconciled.model_fields]
        total = Reconciled(**{name: sum(row[name] for row in rows) for name in fields})
        differences = [Difference(order_id=row["order_id"], difference_ore=row["difference_ore"], explanation=explain(row))
                       for row in rows if row["difference_ore"] or row["unexplained_ore"]]  # fmt: skip
        return Reconciliation(start=start, end=end, orders=[OrderReconciled(**row) for row in rows], total=total,
                              differences=differences)  # fmt: skip

    return await reads.read(read)


@router.get("/bookkeeping/sie", response_class=Response,
            responses={200: {"content": {"text/plain": {}}, "description": "An SIE 4 file in codepage 437"}})  # fmt: skip
async def sie_export(caller: OverseerDep, reads: ViewsDep, runtime: RuntimeDep, start: From = None,
                     end: To = None) -> Response:  # fmt: skip
    """The platform's verifications in the period as an SIE 4 file (BAS accounts; see the README for the
    mapping and ``VARDEKEDJA_SIE_ACCOUNTS``), each #VER balancing to zero."""
    since, until = period(start, end)

    def read(views: Connection) -> bytes:
        return sie_file(runtime, views, since, until, start)

    body = await reads.read(read)
    name = f"vardekedja-{start or 'start'}-{end or 'now'}.se"
    return Response(body, media_type="text/plain; charset=IBM437",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


def sie_file(runtime: Runtime, views: Connection, since: datetime | None, until: datetime | None,
             start: date | None) -> bytes:  # fmt: skip
    """The SIE 4 file for [since, until); its financial year is the calendar year of the first day."""
    settings = runtime.settings
    entries = runtime.view(LedgerView).entries_between(views, since, until)
    today = datetime.now(SWEDEN).date()
    year = (start or (entries[0]["at"].astimezone(SWEDEN).date() if entries else today)).year
    return write_sie(entries, accounts={**DEFAULT_ACCOUNTS, **settings.sie_accounts}, company=settings.company_name,
                     org_number=settings.company_org_number, generated=today,
                     year=(date(year, 1, 1), date(year, 12, 31)), version=__version__)  # fmt: skip


def export_sie(runtime: Runtime, target: Path, start: date | None, end: date | None) -> int:
    """Write the period's SIE 4 file to ``target`` (for ``vardekedja bookkeeping export``); how many #VER.

    The views are brought up to the event store first: by the running server's projector if there is one,
    else here, under the projector's lock.
    """
    since, until = period(start, end)
    head = runtime.marketplace.position
    if not runtime.database.wait_for(head, 2.0):
        with projector_lock(runtime.database, None, threading.Event()):
            runtime.projector.catch_up()
    with runtime.database.reader.connect() as views:
        data = sie_file(runtime, views, since, until, start)
    target.write_bytes(data)
    return data.count(b"#VER ")
