"""Payouts: what each party is owed for an order line, and why.

A payout's id is derived from (order, line, role), so a delivery or an
installation can make a payout owed once and only once. Settling an order
line fully (delivered, and installed where asked) owes the designer, the
workshop and the area company; what is left of the line's amount ex VAT is the
platform fee, to the öre.

A payout is then paid out as one transfer to the party's payout account, and
a claim on its line may take back part of it: before the transfer, by
reducing what is owed (``reduce``); after it, by a reversal of that much of
the transfer (``reversal_due_ore``). The events only record what happened at
the provider; the rules live in the public methods.
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

    class Transferred(Event):
        TOPIC = "vardekedja:Payout.Transferred"
        transfer_id: str
        amount_ore: int

    class TransferFailed(Event):
        TOPIC = "vardekedja:Payout.TransferFailed"
        reason: str

    class Reduced(Event):
        TOPIC = "vardekedja:Payout.Reduced"
        amount_ore: int
        claim_id: UUID

    class Reversed(Event):
        TOPIC = "vardekedja:Payout.Reversed"
        reversal_id: str
        amount_ore: int

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
        self.transferred_ore = 0
        self.reduced_ore = 0
        self.reversed_ore = 0
        self.reversal_ids: list[str] = []
        self.failures = 0
        self.last_failure = ""

    # What is due, and where the payout stands.

    @property
    def net_ore(self) -> int:
        """What the party is owed after claims."""
        return self.amount_ore - self.reduced_ore

    @property
    def transfer_due_ore(self) -> int:
        """What a transfer should carry now (nothing once one was made)."""
        return self.net_ore if self.transfer_id is None else 0

    @property
    def reversal_due_ore(self) -> int:
        """What a claim took back from money already transferred, and is not yet reversed."""
        if self.transfer_id is None:
            return 0
        return max(0, self.transferred_ore - self.reversed_ore - self.net_ore)

    @property
    def status(self) -> str:
        """``owed`` until transferred; ``reversed`` once a claim took any of it back; else ``transferred``."""
        if self.reversed_ore > 0 or (self.transfer_id is None and self.net_ore == 0):
            return "reversed"
        return "owed" if self.transfer_id is None else "transferred"

    def record_transfer(self, transfer_id: str, amount_ore: int) -> bool:
        """The provider made the transfer; False if this very transfer was already recorded."""
        if self.transfer_id == transfer_id:
            return False
        if self.transfer_id is not None:
            raise InvalidTransitionError("this payout already has a transfer")
        if not 0 < amount_ore <= self.amount_ore:
            raise InvalidTransitionError(f"a transfer of {amount_ore} öre does not fit a payout of {self.amount_ore}")
        self._transferred(transfer_id=transfer_id, amount_ore=amount_ore)
        return True

    @event(Transferred)
    def _transferred(self, transfer_id: str, amount_ore: int) -> None:
        self.transfer_id = transfer_id
        self.transferred_ore = amount_ore
        self.failures = 0
        self.last_failure = ""

    def record_transfer_failure(self, reason: str) -> None:
        if self.transfer_id is not None and not self.reversal_due_ore:
            raise InvalidTransitionError("this payout has nothing left to transfer or reverse")
        self._transfer_failed(reason=reason[:500])

    @event(TransferFailed)
    def _transfer_failed(self, reason: str) -> None:
        self.failures += 1
        self.last_failure = reason

    def reduce(self, amount_ore: int, claim_id: UUID) -> None:
        """A claim takes back part of what is owed (reversed later if it was already transferred)."""
        if not 0 < amount_ore <= self.net_ore:
            raise InvalidTransitionError(f"cannot take {amount_ore} öre back from {self.net_ore} öre owed")
        self._reduced(amount_ore=amount_ore, claim_id=claim_id)

    @event(Reduced)
    def _reduced(self, amount_ore: int, claim_id: UUID) -> None:
        self.reduced_ore += amount_ore

    def record_reversal(self, reversal_id: str, amount_ore: int) -> None:
        if not 0 < amount_ore <= self.reversal_due_ore:
            raise InvalidTransitionError(f"no reversal of {amount_ore} öre is due on this payout")
        self._reversed(reversal_id=reversal_id, amount_ore=amount_ore)

    @event(Reversed)
    def _reversed(self, reversal_id: str, amount_ore: int) -> None:
        self.reversed_ore += amount_ore
        self.reversal_ids.append(reversal_id)
        self.failures = 0
        self.last_failure = ""

    def attach_transfer(self, transfer_id: str) -> None:
        """Record the payment that settled this payout (a Stripe transfer, later)."""
        if self.transfer_id is not None:
            raise InvalidTransitionError("this payout already has a transfer")
        self._transfer_attached(transfer_id=transfer_id)

    @event(TransferAttached)
    def _transfer_attached(self, transfer_id: str) -> None:
        self.transfer_id = transfer_id
        self.transferred_ore = self.net_ore


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
