"""The web UI: server-rendered pages (Jinja2) with htmx, in Swedish and English, served beside the API.

The web UI stands on the HTTP API (its dependencies, views and answers), so the
whole server is built here: ``create_web_app`` is the API's ``create_app`` with
the pages installed, and ``serve_app`` is what ``vardekedja serve`` runs.
``install_web(app)`` adds the pages, the static files (our stylesheet and the
vendored htmx, see ``static/VERSIONS``), HTML error pages outside ``/v1`` and
CSRF protection for the forms of people not signed in (``asgi-csrf``: a signed
token in a cookie that the form sends back; signed-in people's forms carry their
session's token, see ``api/sessions.py``).
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from asgi_csrf import asgi_csrf
from fastapi import FastAPI
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from vardekedja.api.app import create_app
from vardekedja.api.route_guards import guard_routes
from vardekedja.runtime import Runtime
from vardekedja.settings import Settings
from vardekedja.web.errors import install_page_errors
from vardekedja.web.i18n import LANGUAGES, translations
from vardekedja.web.kept import KeptPagesMiddleware
from vardekedja.web.routes import admin, area, audit, care, cart, impact, money, orders, pay, public, studio, workshop
from vardekedja.web.routes import admin_members as people_and_keys
from vardekedja.web.routes import admin_projections as projections_pages
from vardekedja.web.routes import sign_in as sign_in_pages
from vardekedja.web.security import web_secret


class Static(StaticFiles):
    """Static files; a URL with the content's version (``?v=``) is kept by browsers for a year."""

    def file_response(self, full_path: str | Path, stat_result: object, scope: Scope, status_code: int = 200,
                      ) -> Response:  # fmt: skip
        response = super().file_response(full_path, stat_result, scope, status_code)  # type: ignore[arg-type]
        versioned = b"v=" in scope.get("query_string", b"")
        response.headers["Cache-Control"] = "public, max-age=31536000, immutable" if versioned else "no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


# The forms this token protects: the cart's, which need no sign-in. Forms of signed-in people carry their
# session's own CSRF token instead (api/sessions.py), and the JSON API with a session cookie the header.
ANONYMOUS_FORMS = ("/a/", "/cart", "/orders", "/studio", "/workshop", "/area", "/admin")  # signed-in pages' forms too, until they carry the session's token


class _AnonymousForms:
    """For ``always_protect``: every path of an anonymous form, checked even when no cookie came with it."""

    def __contains__(self, path: object) -> bool:
        return isinstance(path, str) and path.startswith(ANONYMOUS_FORMS)


# Uploads: asgi-csrf cannot read a multipart form with today's python-multipart, so the upload route checks
# the same token itself once the stream is read (``form_token_matches``), before anything is kept.
UPLOAD_FORM = re.compile(r"^/studio/designs/[^/]+/media$")


def _not_an_anonymous_form(scope: Scope) -> bool:
    return not scope["path"].startswith(ANONYMOUS_FORMS) or UPLOAD_FORM.match(scope["path"]) is not None


# Never a page with a form: the API (a session's writes carry its own header token) and Open311.
NO_FORMS = ("/v1/", "/open311/")

_scope: ContextVar[Scope] = ContextVar("scope")


class Csrf:
    """``asgi-csrf`` without its copy of the scope: what routing records in the scope (the matched route,
    read by the metrics) must reach the middleware outside, so the token getter goes into the original.
    Its signing secret is read on the first request, so building the app touches no disk."""

    def __init__(self, app: ASGIApp, settings: Settings, **options: Any) -> None:
        self.app = app
        self.settings, self.options = settings, options
        self.protected: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(NO_FORMS):
            await self.app(scope, receive, send)  # no page, no form: no token to make (a random one per request)
            return
        if self.protected is None:
            self.protected = asgi_csrf(self._forward, signing_secret=web_secret(self.settings), **self.options)
        token = _scope.set(scope)
        try:
            await self.protected(scope, receive, send)
        finally:
            _scope.reset(token)

    async def _forward(self, copied: Scope, receive: Receive, send: Send) -> None:
        scope = _scope.get()
        if "csrftoken" in copied:
            scope["csrftoken"] = copied["csrftoken"]
        await self.app(scope, receive, send)


def create_web_app(settings: Settings | None = None, *, runtime: Runtime | None = None,
                   freeze_after_start: bool = False) -> FastAPI:  # fmt: skip
    """The API and the web UI in one app (see ``create_app``)."""
    app = create_app(settings, runtime=runtime, freeze_after_start=freeze_after_start)
    install_web(app, runtime.settings if runtime is not None else (settings or Settings()))
    guard_routes(app)  # the pages' routers too
    return app


def serve_app() -> FastAPI:
    """The app as ``vardekedja serve`` runs it (one per server process)."""
    return create_web_app(freeze_after_start=True)


def install_web(app: FastAPI, settings: Settings) -> None:
    app.state.settings = settings
    for language in LANGUAGES:
        translations(language)  # compile the catalogues now: a broken one stops the start, not a page
    app.include_router(public.router)
    app.include_router(cart.router)
    app.include_router(impact.router)  # before orders: /orders/impact is no order id
    app.include_router(care.router)  # and /orders/maintenance
    app.include_router(orders.router)
    app.include_router(studio.router)
    app.include_router(workshop.router)
    app.include_router(area.router)
    app.include_router(audit.router)
    app.include_router(admin.router)
    app.include_router(money.router)
    app.include_router(pay.router)
    app.include_router(sign_in_pages.router)
    app.include_router(people_and_keys.router)
    app.include_router(projections_pages.router)
    app.mount("/static", Static(packages=[("vardekedja.web", "static")]), name="static")
    install_page_errors(app)
    app.add_middleware(Csrf, settings=settings, skip_if_scope=_not_an_anonymous_form, always_protect=_AnonymousForms())
    app.add_middleware(KeptPagesMiddleware)  # outside the CSRF check: a kept page has no form token
