"""An order's timeline as a person reads it: what happened, in a sentence, and who did it.

Each entry has a ``kind`` (a stable word a program can switch on, such as
``production_accepted``), a ``summary`` in English naming the parties, the
parties involved (``id``, ``name``, ``role``) and a ``detail`` with the values
behind the sentence (amounts in öre, reasons, times). No class names, and no
ids in the sentence. The web UI renders its own words from kind and detail.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

LOCAL_TIME = ZoneInfo("Europe/Stockholm")


def sek(ore: int) -> str:
    """Money as an English sentence writes it: SEK 1,234.50."""
    return f"SEK {ore // 100:,}.{ore % 100:02d}" if ore >= 0 else f"-{sek(-ore)}"


def local_window(earliest: datetime, latest: datetime) -> str:
    """A delivery window in Stockholm time: 2 Dec 2026 08:00–12:00, or across days in full.

    A time at the edge of what Python represents (year 9999 at -14:00, say) cannot be moved to
    Stockholm: it is written as it was given, since a timeline entry must never stop a projection.
    """
    try:
        start, end = earliest.astimezone(LOCAL_TIME), latest.astimezone(LOCAL_TIME)
    except (OverflowError, ValueError):
        return f"{earliest.isoformat()} – {latest.isoformat()}"
    day = f"{start.day} {start:%b %Y}"
    if start.date() == end.date():
        return f"{day} {start:%H:%M}–{end:%H:%M} (Stockholm time)"
    return f"{day} {start:%H:%M} – {end.day} {end:%b %Y} {end:%H:%M} (Stockholm time)"


def party(row: dict[str, Any] | None, role: str, organisation_id: Any) -> dict[str, Any]:
    """A party as an entry names it; one the view never saw registered is named by its role."""
    if row is None:
        return {"id": str(organisation_id), "name": f"the {role.replace('_', ' ')}", "role": role}
    return {"id": str(organisation_id), "name": row["name"], "role": row["role"]}


def lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"


def entry(position: int, at: datetime, kind: str, summary: str, *, line_no: int | None = None,
          parties: list[dict[str, Any]] | None = None, **detail: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "position": position, "at": at.isoformat(), "kind": kind, "summary": summary, "line_no": line_no,
        "parties": parties or [], "detail": detail,
    }  # fmt: skip
