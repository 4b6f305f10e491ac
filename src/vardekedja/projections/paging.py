"""Cursor pagination: newest first, a cursor is an opaque token for "older than this"."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection


class InvalidCursorError(ValueError):
    """A cursor that this service did not hand out."""


_POSITION = re.compile(r"p[0-9]{1,19}")
MAX_POSITION = 2**63 - 1


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
    # ASCII digits only (``isdigit`` takes "²" too, which ``int`` refuses), and no more than a
    # 64-bit column holds: either would otherwise reach the database and fail there.
    if not _POSITION.fullmatch(text) or int(text[1:]) > MAX_POSITION:
        raise InvalidCursorError("the cursor is not one this service handed out")
    return int(text[1:])


def newest_first(connection: Connection, query: sa.Select[Any], position: sa.ColumnElement[int], *,
                 limit: int, cursor: str | None) -> Page:  # fmt: skip
    """One page of ``query`` ordered by ``position`` descending, and the cursor to the next page, if any."""
    after = decode_cursor(cursor)
    if after is not None:
        query = query.where(position < after)
    rows = connection.execute(query.order_by(position.desc()).limit(limit + 1)).mappings().all()
    return page_of(rows, limit, position.key)


def newest_first_statement(query: sa.Select[Any], position: sa.ColumnElement[int], *,
                           after: bool) -> sa.Select[Any]:  # fmt: skip
    """``newest_first``'s statement with the cursor's position (``after``) and ``limit`` left as parameters,
    so that it can be built once and run with ``newest_first_values``; ``page_of`` makes the page."""
    if after:
        query = query.where(position < sa.bindparam("after", type_=sa.BigInteger))
    return query.order_by(position.desc()).limit(sa.bindparam("limit", type_=sa.Integer))


def newest_first_values(limit: int, cursor: str | None) -> dict[str, int]:
    """The values ``newest_first_statement`` takes for a page of ``limit`` items after ``cursor``."""
    after = decode_cursor(cursor)
    return {"limit": limit + 1} if after is None else {"limit": limit + 1, "after": after}


def page_of(rows: Sequence[Any], limit: int, key: str) -> Page:
    """The page of ``limit`` items from rows read with one more, and the cursor to the next page, if any."""
    items = [dict(row) for row in rows[:limit]]
    return Page(items, encode_cursor(items[-1][key]) if len(rows) > limit else None)
