"""Every message of the web UI has a translation in each catalogue, and the catalogues compile."""

from __future__ import annotations

import pytest
from babel.messages.pofile import read_po

from vardekedja.web.catalogues import extract, po_path
from vardekedja.web.i18n import LANGUAGES, translations


def _translated(message: object) -> bool:
    string = message.string  # type: ignore[attr-defined]
    return all(string) if isinstance(string, tuple) else bool(string)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_message_in_the_templates_and_code_is_translated(language: str) -> None:
    with po_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    missing = [m.id for m in extract() if m.id and (catalog.get(m.id) is None or not _translated(catalog.get(m.id)))]
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert not missing, f"untranslated in {language} (run python -m vardekedja.web.catalogues, then translate): {missing}"
    assert not fuzzy, f"fuzzy in {language}: {fuzzy}"


def test_swedish_and_english_differ_where_they_should() -> None:
    assert translations("sv").gettext("Add to cart") == "Lägg i varukorgen"
    assert translations("en").gettext("Add to cart") == "Add to cart"
    assert translations("sv").ngettext("%(count)s design", "%(count)s designs", 2) == "%(count)s formgivningar"


def test_placeholders_survive_translation() -> None:
    import re

    with po_path("sv").open("rb") as po:
        catalog = read_po(po, locale="sv")
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", string)) <= wanted | set(re.findall(r"%\(\w+\)[sd]", ids[0])), message.id
