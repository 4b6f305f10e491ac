"""A rule a command breaks is said in the page's language: every message of the domain and the application."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from fastapi.testclient import TestClient

import vardekedja
from tests.api.support import Cast, org_number
from tests.web.conftest import caught_up
from tests.web.test_orders import sign_in
from vardekedja.runtime import Runtime
from vardekedja.web.domain_words import MESSAGES, explain, reason
from vardekedja.web.i18n import translations

ROOT = Path(vardekedja.__file__).parent
# Messages no page shows: they stop a server or a programmer, not a person using a page.
NOT_FOR_PAGES = (
    "only aggregates are saved in a round", "commands are held up", "the command did not finish",
    "the command writer stopped", "the command was aborted", "unknown payment notice", "data subject",
    "an API key looks like", "API key ", "a rate lies between", "unknown role", "language is one of",
    "payment ", "no refund of", "a transfer of", "this payout has nothing left", "cannot take",
    "no reversal of",
)


def raised_messages() -> list[tuple[str, str]]:
    """(where, message) for every error raised with a message in domain/ and application/, values as "X"."""
    found = []
    for path in sorted([*ROOT.glob("domain/*.py"), *ROOT.glob("application/*.py")]):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.endswith("Error")
                    and node.args):  # fmt: skip
                continue
            texts = [node.args[0]]
            if isinstance(node.args[0], ast.IfExp):
                texts = [node.args[0].body, node.args[0].orelse]
            for text in texts:
                if isinstance(text, ast.Constant) and isinstance(text.value, str):
                    found.append((f"{path.name}:{node.lineno}", text.value))
                elif isinstance(text, ast.JoinedStr):
                    found.append((f"{path.name}:{node.lineno}", "".join(
                        part.value if isinstance(part, ast.Constant) else "X" for part in text.values)))
    return found


def test_every_message_the_domain_and_the_application_raise_is_explained_in_swedish() -> None:
    gettext = translations("sv").gettext
    unexplained = [(where, message) for where, message in raised_messages()
                   if not message.startswith(NOT_FOR_PAGES) and reason(gettext, message) == message]  # fmt: skip
    assert len(raised_messages()) > 80
    assert not unexplained, unexplained


def test_a_message_is_translated_with_its_values_and_words_in_them() -> None:
    swedish, english = translations("sv").gettext, translations("en").gettext
    cancelled = "an order that is in_production can no longer be cancelled: production has started"
    assert explain(swedish, cancelled) == ("En beställning som är i produktion kan inte längre avbeställas: "
                                           "tillverkningen har börjat.")  # fmt: skip
    assert explain(english, cancelled) == "An order that is in production can no longer be cancelled: production has started."
    assert reason(swedish, "line 2: the delivery site needs a postal_code") == "rad 2: leveransplatsen behöver: postnummer"
    assert reason(swedish, "something nobody listed") == "something nobody listed"
    assert all(re.search(r"%\(\w+\)s", message) or "%" not in message for message in MESSAGES)


def test_a_swedish_page_shows_a_broken_rule_in_swedish(client: TestClient, runtime: Runtime, cast: Cast) -> None:
    caught_up(runtime)
    sign_in(client, cast.operator)
    page = client.get("/admin", params={"lang": "sv"}).text
    token = re.search(r'name="csrftoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    number = org_number()
    form = {"csrftoken": token, "name": "Alby Bostäder", "role": "buyer", "org_number": number,
            "municipality": "Botkyrka", "capabilities": "", "service_area": ""}  # fmt: skip
    assert client.post("/admin/organisations", data=form).status_code == 201
    again = client.post("/admin/organisations", data={**form, "name": "Alby Bostäder igen"})
    assert again.status_code == 422
    assert f"organisationsnummer {number} är redan registrerat" in again.text
    assert "already registered" not in again.text
