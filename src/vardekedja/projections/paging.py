"""Cursor pagination: newest first, a cursor is an opaque token for "older than this"."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any


class InvalidCursorError(ValueError):
    """A cursor that this service did not hand out."""


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def encode_cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"p{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursorError("the cursor is not one this service handed out") from None
    if not text.startswith("p") or not text[1:].isdigit():
        raise InvalidCursorError("the cursor is not one this service handed out")
    return int(text[1:])
