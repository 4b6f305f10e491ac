"""Assets: every delivered piece, looked after where it stands.

A delivered order line of quantity n becomes n assets, one per piece, each
with a short public code for the QR label on it. Ids and codes are derived
from the order line and the piece's number, so registering the same pieces
twice is a conflict rather than a duplicate.
"""

from __future__ import annotations

import base64
import hashlib
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

CODE_LENGTH = 8
# Letters and digits that cannot be mistaken for one another on a weathered label (no 0/O, 1/I).
_CODE_ALPHABET = set("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")


def asset_id(order_id: UUID, line_no: int, piece: int) -> UUID:
    return uuid5(NAMESPACE_URL, f"vardekedja:order/{order_id}/line/{line_no}/piece/{piece}")


def asset_code(asset_id_: UUID) -> str:
    """Eight characters from the asset's id (base32 of its SHA-256, ambiguous letters mapped away)."""
    letters = base64.b32encode(hashlib.sha256(asset_id_.bytes).digest()).decode()
    table = str.maketrans({"O": "Q", "I": "J"})
    return letters.translate(table)[:CODE_LENGTH]


def normalise_code(text: str) -> str | None:
    """The code as printed, or None when it cannot be one (checked before any lookup)."""
    code = text.strip().upper()
    if len(code) != CODE_LENGTH or not set(code) <= _CODE_ALPHABET:
        return None
    return code


class Asset(Aggregate):
    TOPIC = "vardekedja:Asset"

    class Created(Aggregate.Created):
        TOPIC = "vardekedja:Asset.Created"

    class Event(Aggregate.Event):
        TOPIC = "vardekedja:Asset.Event"

    class Registered(Created):
        TOPIC = "vardekedja:Asset.Registered"
        code: str
        order_id: UUID
        line_no: int
        piece: int
        delivery_id: UUID
        design_id: UUID
        revision: int
        title: str
        buyer_id: UUID
        site: dict[str, str]
        caretaker_id: UUID | None
        inspection_interval_months: int | None

    @staticmethod
    def create_id(order_id: UUID, line_no: int, piece: int) -> UUID:
        return asset_id(order_id, line_no, piece)

    @classmethod
    def register(
        cls,
        *,
        order_id: UUID,
        line_no: int,
        piece: int,
        delivery_id: UUID,
        design_id: UUID,
        revision: int,
        title: str,
        buyer_id: UUID,
        site: dict[str, str],
        caretaker_id: UUID | None,
        inspection_interval_months: int | None,
    ) -> Asset:
        return cls(
            code=asset_code(asset_id(order_id, line_no, piece)), order_id=order_id, line_no=line_no, piece=piece,
            delivery_id=delivery_id, design_id=design_id, revision=revision, title=title, buyer_id=buyer_id,
            site=dict(site), caretaker_id=caretaker_id, inspection_interval_months=inspection_interval_months,
        )  # fmt: skip

    @event(Registered)
    def __init__(
        self,
        *,
        code: str,
        order_id: UUID,
        line_no: int,
        piece: int,
        delivery_id: UUID,
        design_id: UUID,
        revision: int,
        title: str,
        buyer_id: UUID,
        site: dict[str, str],
        caretaker_id: UUID | None,
        inspection_interval_months: int | None,
    ) -> None:
        self.code = code
        self.order_id = order_id
        self.line_no = line_no
        self.piece = piece
        self.delivery_id = delivery_id
        self.design_id = design_id
        self.revision = revision
        self.title = title
        self.buyer_id = buyer_id
        self.site = dict(site)
        self.caretaker_id = caretaker_id
        self.inspection_interval_months = inspection_interval_months

    @property
    def municipality(self) -> str:
        return self.site["municipality"]
