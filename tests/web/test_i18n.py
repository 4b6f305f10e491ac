"""Money, numbers and times in each language, and how a request's language is chosen."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from vardekedja.web.i18n import Formats, from_accept_language


@pytest.mark.parametrize(("language", "ore", "written"), [
    ("sv", 123450, "1 234,50 kr"), ("en", 123450, "SEK 1,234.50"), ("sv", 5, "0,05 kr"), ("en", 0, "SEK 0.00"),
    ("sv", 100_000_000_00, "100 000 000,00 kr"),
])  # fmt: skip
def test_money_is_written_as_each_language_writes_it(language: str, ore: int, written: str) -> None:
    assert Formats(language).money(ore) == written


def test_times_are_shown_in_stockholm_time_summer_and_winter() -> None:
    summer = datetime(2026, 7, 1, 10, 30, tzinfo=timezone.utc)
    winter = datetime(2026, 12, 1, 10, 30, tzinfo=timezone.utc)
    assert "12:30" in Formats("sv").datetime(summer)
    assert "11:30" in Formats("en").datetime(winter)
    assert Formats("sv").date(datetime(2026, 12, 31, 23, 30, tzinfo=timezone.utc)) == "1 januari 2027"


def test_numbers_group_digits_by_language() -> None:
    assert Formats("sv").number(1234567) == "1 234 567"
    assert Formats("en").number(1234.5, 1) == "1,234.5"


@pytest.mark.parametrize(("header", "language"), [
    (None, "sv"), ("", "sv"), ("en", "en"), ("en-GB,en;q=0.9", "en"), ("de-DE,en;q=0.5,sv;q=0.4", "en"),
    ("sv-SE,en;q=0.8", "sv"), ("en;q=0.2,sv;q=0.9", "sv"), ("fr, de", "sv"), ("en;q=0", "sv"), ("en;q=x", "sv"),
])  # fmt: skip
def test_the_browsers_ranked_languages_choose_ours(header: str | None, language: str) -> None:
    assert from_accept_language(header) == language
