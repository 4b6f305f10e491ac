"""The start page and catalogue pages answered from memory while the catalogue has not changed.

As ``api/pages.py`` does for ``GET /v1/catalogue``: these pages depend only on
the catalogue view, the query string and the language, and everyone may read
them, so the first answer for each (query, language) is kept in the catalogue's
memo (``Memo`` in projections/base.py drops every kept page before a change to
the catalogue commits, and keeps nothing unless this process's projector applies
every change). Only the catalogue's own parameters are kept; a request that
sets the language cookie (``?lang=``), or carries cookies besides the language,
the cart and the form token (a signed-in person's pages may differ), takes the
usual way.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vardekedja.api.memo import memo as kept_memo
from vardekedja.web.i18n import choose_language

PAGES = {
    "/": frozenset(),
    "/catalogue": frozenset({"q", "category", "material", "capability", "municipality", "max_price", "cursor"}),
}
ANONYMOUS_COOKIES = frozenset({"lang", "cart", "csrftoken"})


class KeptPagesMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        allowed = PAGES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        runtime = getattr(scope["app"].state, "runtime", None) if allowed is not None else None
        if runtime is None or not _plain(scope["query_string"], allowed) or not _anonymous(scope):
            await self.app(scope, receive, send)
            return
        language, _ = choose_language(Request(scope))
        htmx = any(name == b"hx-request" for name, _ in scope["headers"])
        key = ("web", scope["path"], scope["query_string"], language, htmx)
        memo = kept_memo(runtime, "catalogue")
        kept = memo.find(key) if memo.applied is not None else None
        if kept is not None:
            scope["route"] = scope["path"]  # so that the metrics name the route
            status, headers, body = kept
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        generation = memo.generation
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                headers = start.get("headers", [])
                if (not message.get("more_body", False) and start.get("status") == 200
                        and not any(name == b"set-cookie" for name, _ in headers)):  # fmt: skip
                    body = b"".join(chunks)
                    memo.remember(key, (200, list(headers), body), generation, size=len(body))
            await send(message)

        await self.app(scope, receive, keep)


def _plain(query_string: bytes, allowed: frozenset[str]) -> bool:
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    return len(names) == len(set(names)) and set(names) <= allowed


def _anonymous(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"cookie":
            for part in value.decode("latin-1").split(";"):
                if part.strip() and part.split("=", 1)[0].strip() not in ANONYMOUS_COOKIES:
                    return False
    return True
