"""Languages: which one a request gets, its message catalogue, and money, numbers and times in it.

Swedish is the default and English the other choice. A request's language is,
in order: ``?lang=`` (then remembered in a cookie), the cookie, the signed-in
person's own language (when the people module has set
``request.state.person_language``), the browser's ``Accept-Language``, Swedish.

The catalogues are the ``.po`` files under ``locales/``; Babel compiles them
into in-memory ``.mo`` catalogues when the web UI is built (``translations()``),
so a clean checkout needs no generated files and a stale ``.mo`` can never be
served. ``tests/web/test_translations.py`` fails on any message in the
templates or the code that a catalogue lacks.
"""

from __future__ import annotations

import functools
import io
from datetime import date, datetime
from decimal import Decimal
from importlib.resources import files
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from starlette.requests import Request

LANGUAGES = ("sv", "en")
DEFAULT = "sv"
COOKIE = "lang"
STOCKHOLM = ZoneInfo("Europe/Stockholm")
# Babel's English pattern puts no space between "SEK" and the amount; the contract says "SEK 1,234.50".
MONEY_FORMATS = {"sv": None, "en": "¤\u00a0#,##0.00"}
BABEL_LOCALES = {"sv": "sv_SE", "en": "en_GB"}


def catalogue_path(language: str) -> Any:
    return files("vardekedja.web").joinpath("locales", language, "LC_MESSAGES", "messages.po")


@functools.cache
def translations(language: str) -> Translations:
    """The language's catalogue, compiled from its ``.po`` file (once per process)."""
    with catalogue_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled)


def choose_language(request: Request) -> tuple[str, bool]:
    """The request's language, and whether to remember it in the cookie (it was asked for by ``?lang=``)."""
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        return asked, True
    remembered = request.cookies.get(COOKIE)
    if remembered in LANGUAGES:
        return remembered, False
    person = getattr(request.state, "person_language", None)
    if person in LANGUAGES:
        return person, False
    return from_accept_language(request.headers.get("accept-language")), False


def from_accept_language(header: str | None) -> str:
    """The first of our languages in the browser's ranked ``Accept-Language`` list (RFC 9110 §12.5.4)."""
    ranked = []
    for index, part in enumerate((header or "")[:500].split(",")):
        tag, *parameters = (piece.strip() for piece in part.split(";"))
        weight = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if tag and weight > 0:
            ranked.append((-weight, index, tag.split("-")[0].lower()))
    for _, _, primary in sorted(ranked):
        if primary in LANGUAGES:
            return primary
        if primary == "*":
            return DEFAULT
    return DEFAULT


class Formats:
    """Money, numbers and times written the way the language writes them (times in Europe/Stockholm)."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.locale = Locale.parse(BABEL_LOCALES[language])

    def money(self, ore: int) -> str:
        """``1 234,50 kr`` in Swedish, ``SEK 1,234.50`` in English (plain spaces; the page keeps it on one line)."""
        text = format_currency(Decimal(ore) / 100, "SEK", format=MONEY_FORMATS[self.language], locale=self.locale)
        return text.replace("\u00a0", " ").replace("\u202f", " ").replace("\u2212", "-")

    def number(self, value: float | int | Decimal, digits: int = 0) -> str:
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale).replace("\u00a0", " ").replace("\u202f", " ")

    def date(self, value: date | datetime) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(STOCKHOLM).date()
        return format_date(value, format="long", locale=self.locale)

    def datetime(self, value: datetime) -> str:
        return format_datetime(value, format="d MMM y HH:mm", tzinfo=STOCKHOLM, locale=self.locale)

    def instant(self, value: datetime | str) -> str:
        """To the second, in Swedish time: an event's time in the audit log (given as ISO 8601 text there)."""
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
        return format_datetime(moment, format="d MMM y HH:mm:ss", tzinfo=STOCKHOLM, locale=self.locale)
