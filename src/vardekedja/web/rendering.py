"""Templates: one Jinja2 environment per language, and the ``Page`` a handler renders with.

Templates live beside this module (``templates/``): ``base.html`` with blocks,
pages named after what they show, and partials prefixed with ``_`` that full
pages include and htmx requests get on their own. Every string in a template
goes through the language's catalogue (``{% trans %}``, ``_()``); every value
is escaped (autoescape is on for every template).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from importlib.resources import files
from typing import Annotated, Any

import jinja2
from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup, escape

from vardekedja.web import domain_words, stream_words, vocabulary
from vardekedja.web.i18n import COOKIE, LANGUAGES, Formats, choose_language, translations
from vardekedja.web.signed_in import signed_in_person

# No inline script or style anywhere: htmx is told not to add its indicator style or to evaluate code.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
YEAR = 365 * 24 * 3600


@functools.cache
def static_version(name: str) -> str:
    """A short hash of a static file's content, so its URL changes when it does (and it can be kept a year)."""
    return hashlib.sha256(files("vardekedja.web").joinpath("static", name).read_bytes()).hexdigest()[:12]


def static_url(name: str) -> str:
    return f"/static/{name}?v={static_version(name)}"


def _environment(language: str) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("vardekedja.web", "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )
    environment.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    formats = Formats(language)
    gettext = translations(language).gettext

    def money(ore: int) -> Markup:
        return Markup('<span class="money">{}</span>').format(formats.money(ore))

    environment.filters.update(
        money=money, number=formats.number, date=formats.date, datetime=formats.datetime, instant=formats.instant,
        word=lambda value: vocabulary.word(gettext, value),
        status=lambda value: vocabulary.status(gettext, value),
        event=lambda value: vocabulary.event(gettext, value),
        role=lambda value: vocabulary.role(gettext, value),
        view=lambda value: vocabulary.view(gettext, value),
        filesize=lambda size: format_size(size, formats),
        pretty=lambda value: json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=str),
        field=lambda name: stream_words.field(gettext, name), fields=stream_words.fields,
        what=lambda state: stream_words.what(gettext, state), reference=reference,
    )  # fmt: skip
    environment.tests["instant"] = is_instant
    environment.globals.update(language=language, languages=LANGUAGES, static=static_url)
    return environment


INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")


def is_instant(value: object) -> bool:
    """Whether ``value`` is a moment written as ISO 8601 text with its offset (as a stream's state gives times)."""
    return isinstance(value, str) and INSTANT.fullmatch(value) is not None


def reference(value: object) -> str:
    """A short reference a person can read out or quote (``3F9A-2C1B``): the start of the id, which it finds."""
    short = str(value).replace("-", "")[:8].upper()
    return f"{short[:4]}-{short[4:]}"


def format_size(size: int, formats: Formats) -> str:
    if size >= 1 << 20:
        return f"{formats.number(size / (1 << 20), 1)} MiB"
    return f"{formats.number(max(1, round(size / 1024)))} KiB"


@functools.cache
def environments() -> dict[str, jinja2.Environment]:
    return {language: _environment(language) for language in LANGUAGES}


class Page:
    """What a page handler renders with: the request's language and its templates.

    ``render`` answers with the security headers every page carries and, when
    the language was chosen with ``?lang=``, remembers it in a cookie.
    """

    def __init__(self, request: Request) -> None:
        self.request = request
        self.language, self._remember = choose_language(request)
        self.environment = environments()[self.language]
        self.gettext = translations(self.language).gettext
        self.formats = Formats(self.language)

    def reason(self, error: Exception) -> str:
        """A domain or application error's message in the page's language (``domain_words``: one place)."""
        return domain_words.reason(self.gettext, error)

    def explain(self, error: Exception) -> str:
        """The same, as a sentence of its own."""
        return domain_words.explain(self.gettext, error)

    @property
    def htmx(self) -> bool:
        """Asked for by htmx (``HX-Request``): answer with the fragment only."""
        return self.request.headers.get("hx-request") == "true"

    def html(self, template: str, **context: Any) -> str:
        return self.environment.get_template(template).render(
            request=self.request, path=self.request.url.path, switch=self._switch_urls(), csrf=self._csrf,
            caller=getattr(self.request.state, "caller", None), here=self._here(),
            person=getattr(self.request.state, "signed_in", None),
            **context,
        )  # fmt: skip

    def render(self, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        response = HTMLResponse(self.html(template, **context), status_code=status, headers=SECURITY_HEADERS)
        response.headers["Vary"] = "Accept-Language, Cookie, HX-Request"
        response.headers["Cache-Control"] = "no-cache"
        self.remember_language(response)
        return response

    def remember_language(self, response: Response) -> None:
        """Keep the language in a cookie when it was chosen with ``?lang=``."""
        if self._remember:
            response.set_cookie(COOKIE, self.language, max_age=YEAR, samesite="lax", httponly=True)

    def _switch_urls(self) -> dict[str, str]:
        """The same page in each language (the query kept, ``lang`` replaced)."""
        kept = [(k, v) for k, v in self.request.query_params.multi_items() if k not in ("lang", "cursor")]
        urls = {}
        for language in LANGUAGES:
            query = "&".join(f"{escape_query(k)}={escape_query(v)}" for k, v in [*kept, ("lang", language)])
            urls[language] = f"{self.request.url.path}?{query}"
        return urls

    def _here(self) -> str:
        """This page's path and query, for ``/login?next=`` to come back to."""
        query = self.request.url.query
        return self.request.url.path + (f"?{query}" if query else "")

    def _csrf(self) -> str:
        """The form token; asked for only by templates with a form, so a page without one sets no cookie."""
        get_token = self.request.scope.get("csrftoken")
        return str(get_token()) if callable(get_token) else ""


def escape_query(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


def fragment_or_page(page: Page, fragment: str, template: str, **context: Any) -> HTMLResponse:
    """The partial alone for htmx, the whole page otherwise: both from the same template."""
    return page.render(fragment if page.htmx else template, **context)


async def get_page(request: Request) -> Page:
    """The page, knowing who is signed in when a session cookie came (the header shows them, in their language)."""
    await signed_in_person(request)
    return Page(request)


PageDep = Annotated[Page, Depends(get_page)]

__all__ = ["Page", "PageDep", "escape", "fragment_or_page", "static_url", "SECURITY_HEADERS"]
