"""The order timeline's words: money and delivery windows as a person reads them, whatever the input."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from vardekedja.projections.timeline import local_window, sek


def test_money_reads_as_kronor_with_two_decimals() -> None:
    assert sek(123_456_78) == "SEK 123,456.78"
    assert sek(5) == "SEK 0.05"


def test_a_window_reads_in_stockholm_time() -> None:
    start = datetime(2026, 12, 2, 7, tzinfo=timezone.utc)

    assert local_window(start, start + timedelta(hours=4)) == "2 Dec 2026 08:00–12:00 (Stockholm time)"


def test_a_window_at_the_edge_of_representable_time_is_written_as_given_not_raised() -> None:
    earliest = datetime(2026, 12, 2, 8, tzinfo=timezone.utc)
    latest = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14)))

    assert local_window(earliest, latest) == f"{earliest.isoformat()} – {latest.isoformat()}"
