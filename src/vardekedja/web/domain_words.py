"""The domain's and the application's error messages in the reader's language: one place for every page.

The domain says what rule a command broke in plain English, with the values
filled in (``an order that is paid cannot be cancelled``). Each message is
listed here once as a pattern with named placeholders; ``explain`` finds the
one a message matches, translates it through the catalogue and fills the
values back in (a value that is itself a catalogue word, such as a status,
is translated too). A message not listed is shown as it is.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from vardekedja.domain.errors import DomainError


def N_(message: str) -> str:
    """Marks a message for the catalogues without translating it here."""
    return message


MESSAGES = (
    N_("a password has at least %(count)s characters"),
    N_("a password has at most %(count)s characters"),
    N_("choose another password: %(reason)s"),
)


@functools.cache
def _patterns() -> list[tuple[re.Pattern[str], str]]:
    found = []
    for message in MESSAGES:
        pieces = re.split(r"%\((\w+)\)s", message)
        pattern = "".join(re.escape(piece) if index % 2 == 0 else f"(?P<{piece}>.+?)"
                          for index, piece in enumerate(pieces))  # fmt: skip
        found.append((re.compile(f"^{pattern}$", re.DOTALL), message))
    return found


def explain(gettext: Callable[[str], str], error: DomainError | str) -> str:
    """The error's message in the reader's language, starting with a capital letter and ending with a stop."""
    text = str(error).strip()
    for pattern, message in _patterns():
        matched = pattern.match(text)
        if matched is not None:
            values = {name: gettext(value) if value else value for name, value in matched.groupdict().items()}
            text = gettext(message) % values
            break
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else f"{text}."
