"""Payouts: what each party is owed for an order line, and why.

A payout's id is derived from (order, line, role), so a delivery or an
installation can make a payout owed once and only once. Settling an order
line fully (delivered, and installed where asked) owes the designer, the
workshop and the area company; what is left of the line's amount ex VAT is the
platform fee, to the öre.
"""

from __future__ import annotations

from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from vardekedja.domain.errors import InvalidTransitionError
from vardekedja.domain.order import Order
from vardekedja.domain.organisation import Role


def payout_id(order_id: UUID, line_no: int, role: Role) -> UUID:
    return uuid5(NAMESPACE_URL, f"vardekedja:order/{order_id}/line/{line_no}/payout/{role}")


class Payout(Aggregate):
    TOPIC = "vardekedja:Payout"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Payout.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Payout.Event"

    class Owed(Created):
        TOPIC = "vardekedja:Payout.Owed"
        order_id: UUID
        line_no: int
        party_id: UUID
        role: str
        amount_ore: int
        reason: str

    class TransferAttached(Event):
        TOPIC = "vardekedja:Payout.TransferAttached"
        transfer_id: str

    @staticmethod
    def create_id(order_id: UUID, line_no: int, role: str) -> UUID:
        return payout_id(order_id, line_no, Role(role))

    @event(Owed)
    def __init__(
        self, *, order_id: UUID, line_no: int, party_id: UUID, role: str, amount_ore: int, reason: str
    ) -> None:
        self.order_id = order_id
        self.line_no = line_no
        self.party_id = party_id
        self.role = Role(role)
        self.amount_ore = amount_ore
        self.reason = reason
        self.transfer_id: str | None = None

    def attach_transfer(self, transfer_id: str) -> None:
        """Record the payment that settled this payout (a Stripe transfer, later)."""
        if self.transfer_id is not None:
            raise InvalidTransitionError("this payout already has a transfer")
        self._transfer_attached(transfer_id=transfer_id)

    @event(TransferAttached)
    def _transfer_attached(self, transfer_id: str) -> None:
        self.transfer_id = transfer_id


def payouts_on_delivery(order: Order, line_no: int, workshop_id: UUID) -> list[Payout]:
    """A delivered line owes the designer its royalty and the workshop its production fee."""
    line = order.line(line_no)
    return [
        Payout(
            order_id=order.id,
            line_no=line_no,
            party_id=line.designer_id,
            role=Role.DESIGNER.value,
            amount_ore=line.royalty_ore * line.quantity,
            reason=f"royalty: {line.quantity} × {line.title} rev {line.revision}",
        ),
        Payout(
            order_id=order.id,
            line_no=line_no,
            party_id=workshop_id,
            role=Role.WORKSHOP.value,
            amount_ore=line.production_fee_ore * line.quantity,
            reason=f"production: {line.quantity} × {line.title}",
        ),
    ]


def payout_on_installation(order: Order, line_no: int) -> Payout:
    """An installed line owes the area company its installation fee."""
    line = order.line(line_no)
    if order.area_company_id is None:
        raise InvalidTransitionError("the order did not ask for installation")
    return Payout(
        order_id=order.id,
        line_no=line_no,
        party_id=order.area_company_id,
        role=Role.AREA_COMPANY.value,
        amount_ore=line.installation_fee_ore * line.quantity,
        reason=f"installation: {line.quantity} × {line.title}",
    )
