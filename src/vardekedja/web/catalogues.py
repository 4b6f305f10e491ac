"""Keep the message catalogues in step with the code: ``python -m vardekedja.web.catalogues``.

Extracts every message from the templates and the web package's code with
Babel, then updates ``locales/{sv,en}/LC_MESSAGES/messages.po``: new messages
are added (English ones translated as themselves, since English is the
source language; Swedish ones left empty, for a translator), vanished ones
dropped. ``tests/web/test_translations.py`` fails while any message lacks a
translation, so an untranslated message cannot land.
"""

from __future__ import annotations

from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).parent
KEYWORDS = {**DEFAULT_KEYWORDS, "N_": None}
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true", "trimmed": "false"}}
SOURCE_LANGUAGE = "en"


def extract() -> Catalog:
    """Every message the web UI uses, as a template catalogue."""
    template = Catalog(project="vardekedja", fuzzy=False)
    for filename, lineno, message, comments, context in extract_from_dir(
        HERE, method_map=METHODS, options_map=OPTIONS, keywords=KEYWORDS, strip_comment_tags=True
    ):
        if filename.startswith("catalogues"):
            continue
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return template


def po_path(language: str) -> Path:
    return HERE / "locales" / language / "LC_MESSAGES" / "messages.po"


def update() -> None:
    template = extract()
    for language in ("sv", "en"):
        path = po_path(language)
        if path.exists():
            with path.open("rb") as existing:
                catalog = read_po(existing, locale=language)
        else:
            catalog = Catalog(locale=language, project="vardekedja", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        if language == SOURCE_LANGUAGE:
            for message in catalog:
                if message.id and not any(message.string if message.pluralizable else [message.string]):
                    message.string = message.id
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("wb") as out:
            write_po(out, catalog, width=120, omit_header=False, sort_output=False, include_previous=False)


if __name__ == "__main__":
    update()
