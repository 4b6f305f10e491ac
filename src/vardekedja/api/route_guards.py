"""Pass over, by the literal start of their paths, the included routers a request cannot reach.

FastAPI keeps each ``include_router`` as one entry among the app's routes and, for every request, asks
each entry in turn whether it matches; an entry asks every route it holds, at 1.5 to 3 µs a route. With
the API's and the web UI's 130 routes in 35 routers that came to 0.26 ms for an Open311 report (its
router comes late) and 0.45 ms for a path that matches nothing (twice over: it is tried again for the
trailing-slash redirect), on requests whose whole cost is about 1.5 ms of CPU.

A route can only match a path that starts with its literal part, what comes before its first ``{``
(Starlette compiles ``/a/{code}`` to ``^/a/(?P<code>[^/]+)$``), and a route without parameters only its
own path. So each included router is put behind a guard holding its routes' paths and literal parts: a
request path that is none of the one and starts with none of the other is passed over with a set look-up
and one string comparison, and any other is asked of the router as before. What matches, and in what
order, is unchanged (a test compares the two for every route). fastapi/fastapi#16159 proposes the same
check inside FastAPI; once it is there, this module can go.

The OpenAPI document is made from the routes as declared, without the guards.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI

# Starlette's own (private) helper, which its routes and FastAPI's match on: a guard must read the path as they do.
from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Host, Match, Mount, Route, WebSocketRoute
from starlette.types import Receive, Scope, Send


class PrefixGuard(BaseRoute):
    """One included router, asked only about paths that start with the literal part of one of its routes."""

    def __init__(self, route: BaseRoute, paths: frozenset[str], starts: tuple[str, ...]) -> None:
        self.route, self.paths, self.starts = route, paths, starts

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] in ("http", "websocket"):
            path = get_route_path(scope)  # what the routes themselves match against
            if path not in self.paths and not path.startswith(self.starts):
                return Match.NONE, {}
        return self.route.matches(scope)

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.route.handle(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self.route.url_path_for(name, **path_params)

    def __repr__(self) -> str:
        return f"PrefixGuard({self.route!r}, paths={sorted(self.paths)!r}, starts={self.starts!r})"


def guard_routes(app: FastAPI) -> None:
    """Put each included router of the app behind a guard; call again after adding routes."""
    app.router.routes = [_guarded(declared) for declared in declared_routes(app)]
    if not getattr(app.state, "route_guards", False):
        app.state.route_guards = True
        make_schema = app.openapi

        def openapi() -> dict[str, Any]:
            if app.openapi_schema is None:  # made once, from the routes as declared
                guarded = app.router.routes
                app.router.routes = declared_routes(app)
                try:
                    make_schema()
                finally:
                    app.router.routes = guarded
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]


def declared_routes(app: FastAPI) -> list[BaseRoute]:
    """The app's routes without their guards."""
    return [route.route if isinstance(route, PrefixGuard) else route for route in app.router.routes]


def _guarded(route: BaseRoute) -> BaseRoute:
    if isinstance(route, (Route, Mount, Host, WebSocketRoute)):  # one route: its own pattern is as quick
        return route
    exact, starts = set(), set()
    try:
        for path, is_mount in _paths(route):
            if "{" in path or is_mount:
                starts.add(path.split("{", 1)[0])  # a mount's path starts the paths it matches
            else:
                exact.add(path)  # a path without parameters matches itself alone
    except _Unreadable:  # a kind of route this cannot read: ask the router about every path
        return route
    if not exact and not starts or "" in starts:  # a route with no literal start may match anything
        return route
    return PrefixGuard(route, frozenset(exact), tuple(sorted(starts)))


class _Unreadable(Exception):
    """An entry whose routes' paths cannot be read here."""


def _paths(included: BaseRoute, prefix: str = "") -> Iterator[tuple[str, bool]]:
    """The paths of an included router's routes, each with whether it is a mount's.

    Read from the router as included (its routes, and the prefix it was included under) rather than through
    ``fastapi.routing.iter_route_contexts``, which would build FastAPI's per-route request state for every
    route at once (0.4 s for this app, paid by every app a test makes); FastAPI builds that lazily, for the
    routers a request reaches. A shape this does not know is ``_Unreadable``, and its entry stays unguarded.
    """
    router, context = getattr(included, "original_router", None), getattr(included, "include_context", None)
    if router is None or not isinstance(getattr(context, "prefix", None), str):
        raise _Unreadable
    prefix += context.prefix
    for route in router.routes:
        if hasattr(route, "original_router"):
            yield from _paths(route, prefix)
        elif isinstance(route, (Route, WebSocketRoute)):
            yield prefix + route.path, False
        elif isinstance(route, Mount):
            yield prefix + route.path, True
        else:
            raise _Unreadable
