"""Catalogue pages answered from memory while the catalogue has not changed.

The catalogue is what every buyer browses and it changes only when a design is
published, revised or retired or a workshop joins: it is read far more often
than it changes. A page of it depends on nothing but its query string, and
every role may read it. So the first answer to a query is kept (status 200
only) and later requests with the same query string and a key known in memory
get the same body without routing, validation or a query, until the
projector changes the catalogue (see ``Memo`` in api/memo.py, which
drops every page before such a change commits and keeps nothing while this
process's projector is not the one applying changes).

A kept answer says where the views stand now in ``Vardekedja-Position``: the
catalogue has not changed since it was read. A request that waits for a
position the views have not reached (``Vardekedja-Min-Position``), or whose
key is not known in memory, takes the usual way through the app, which
authenticates and answers it in full.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vardekedja.api.deps import bearer_key, kept_caller
from vardekedja.api.memo import memo
from vardekedja.api.problems import ApiError

# Paths whose answer depends only on the query string and which every role may read, with the
# query parameters they take: a query string with any other is answered but not kept, so made-up
# parameters cannot fill the memory with copies of one page.
PAGES = {"/v1/catalogue": "catalogue"}
PARAMETERS = {
    "/v1/catalogue": frozenset({"q", "category", "material", "capability", "municipality", "install",
                                "max_unit_price_ore", "limit", "cursor"}),
}
POSITION = b"vardekedja-position"
MIN_POSITION = b"vardekedja-min-position"


class PageCacheMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        view = PAGES.get(scope["path"]) if scope["type"] == "http" and scope["method"] == "GET" else None
        runtime = getattr(scope["app"].state, "runtime", None) if view is not None else None
        if runtime is None:
            await self.app(scope, receive, send)
            return
        kept = memo(runtime, view)
        headers = dict(scope["headers"])
        key = (scope["path"], scope["query_string"])
        # Where the views stand, read before the page: a page found afterwards is at least that fresh
        # (a change drops every page before its position is published), never older.
        applied = kept.applied
        page = kept.find(key)
        if page is not None and _known(runtime, headers.get(b"authorization")) and _reached(headers, applied):
            scope["route"] = scope["path"]  # so that the metrics name the route
            status, response_headers, body = page
            await send({"type": "http.response.start", "status": status,
                        "headers": [*response_headers, (POSITION, str(applied).encode())]})  # fmt: skip
            await send({"type": "http.response.body", "body": body})
            return
        if not _plain(scope["query_string"], scope["path"]):
            await self.app(scope, receive, send)
            return
        generation = kept.generation
        start: dict[str, Any] = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False) and start.get("status") == 200:
                    response_headers = [(name, value) for name, value in start.get("headers", []) if name != POSITION]
                    body = b"".join(chunks)
                    kept.remember(key, (200, response_headers, body), generation, size=len(body))
            await send(message)

        await self.app(scope, receive, keep)


def _plain(query_string: bytes, path: str) -> bool:
    """Does the query string name only the page's own parameters, each once?"""
    names = [name for name, _ in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)]
    return len(names) == len(set(names)) and set(names) <= PARAMETERS[path]


def _known(runtime: Any, authorization: bytes | None) -> bool:
    """Is this a bearer key of a caller kept in memory (any role may read these pages)?"""
    try:
        key_id, presented = bearer_key(authorization.decode("latin-1") if authorization is not None else None)
    except ApiError:
        return False
    return kept_caller(runtime, key_id, presented) is not None


def _reached(headers: dict[bytes, bytes], applied: int | None) -> bool:
    """Has this process's projector reached the position the request waits for, if any?"""
    if applied is None:
        return False
    wanted = headers.get(MIN_POSITION)
    if wanted is None:
        return True
    return wanted.isdigit() and int(wanted) <= applied
