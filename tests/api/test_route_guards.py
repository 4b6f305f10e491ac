"""The guards in front of the included routers pick the same route as the routes as declared, only sooner."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.routing import BaseRoute, Match, Router

from vardekedja.api.route_guards import PrefixGuard, declared_routes, guard_routes
from vardekedja.settings import Settings
from vardekedja.web import create_web_app

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    return create_web_app(Settings(data_dir=Path(tmp_path_factory.mktemp("guards")), database_url=None))


def decide(routes: list[BaseRoute], path: str, method: str, root_path: str = "") -> tuple[Any, ...]:
    """Which entry the app's router hands the request to, and how (as its loop does: first full, else first partial)."""
    scope = {"type": "http", "method": method, "path": root_path + path, "root_path": root_path, "headers": [],
             "query_string": b""}  # fmt: skip
    partial = None
    for index, route in enumerate(routes):
        match, child = route.matches(dict(scope))
        if match is Match.FULL:
            return index, "full", child
        if match is Match.PARTIAL and partial is None:
            partial = (index, "partial", child)
    return partial or (None, "none", {})


def paths_of(app: FastAPI) -> list[str]:
    """A request path for every declared route, its parameters filled in."""
    found = []
    for context in iter_route_contexts(declared_routes(app)):
        if context.path_format is not None:
            found.append(re.sub(r"\{[^}]+\}", "x1", context.path_format))
    return sorted(set(found))


def test_most_routers_are_guarded(app: FastAPI) -> None:
    guards = [route for route in app.router.routes if isinstance(route, PrefixGuard)]
    assert len(guards) >= 30, f"only {len(guards)} of {len(app.router.routes)} entries guarded"
    assert all((guard.paths or guard.starts) and "" not in guard.starts for guard in guards)


def test_every_route_and_its_neighbours_go_where_they_went_unguarded(app: FastAPI) -> None:
    declared, guarded = declared_routes(app), app.router.routes
    paths = paths_of(app)
    assert len(paths) > 100
    variants = {"/", "", "/nothing-here", "/v1", "/v1/", "/open311", "/open311/v2/", "/static", "/static/"}
    for path in paths:
        variants |= {path, path + "/", path.rstrip("/"), path[:-1], path + "x", path + "/x1", path.upper()}
    checked = 0
    for path in sorted(variants):
        for method in METHODS:
            assert decide(guarded, path, method) == decide(declared, path, method), (path, method)
            checked += 1
    assert checked > 5000


def test_under_a_root_path_too(app: FastAPI) -> None:
    declared, guarded = declared_routes(app), app.router.routes
    for path in [*paths_of(app)[:40], "", "/"]:
        for root in ("/under", "/under/"):
            assert decide(guarded, path, "GET", root) == decide(declared, path, "GET", root), (root, path)


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_random_paths_go_where_they_went_unguarded(app: FastAPI, data: st.DataObject) -> None:
    segments = sorted({part for path in paths_of(app) for part in path.split("/") if part})
    parts = data.draw(st.lists(st.one_of(st.sampled_from(segments), st.text(alphabet="ax1./{}-_", max_size=6)),
                               max_size=5))  # fmt: skip
    path = "/" + "/".join(parts) + data.draw(st.sampled_from(["", "/"]))
    method = data.draw(st.sampled_from(METHODS))
    assert decide(app.router.routes, path, method) == decide(declared_routes(app), path, method)


def test_a_router_is_not_asked_about_a_path_outside_it(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []
    guards = [route for route in app.router.routes if isinstance(route, PrefixGuard)]
    for guard in guards:
        original = guard.route.matches

        def spy(scope: dict[str, Any], original: Any = original) -> Any:
            asked.append(scope["path"])
            return original(scope)

        monkeypatch.setattr(guard.route, "matches", spy)
    assert decide(app.router.routes, "/nothing-here", "GET") == (None, "none", {})
    assert asked == []
    index, how, _ = decide(app.router.routes, "/open311/v2/requests.json", "POST")
    assert how == "full" and asked == ["/open311/v2/requests.json"]  # only the Open311 router was asked


def test_the_openapi_document_is_made_from_the_routes_as_declared(app: FastAPI) -> None:
    documented = app.openapi()["paths"]
    assert "/open311/v2/requests.json" in documented and "/v1/orders" in documented
    assert any(isinstance(route, PrefixGuard) for route in app.router.routes)  # and the guards stay in place


def test_urls_for_route_names_are_found_through_the_guards(app: FastAPI) -> None:
    unguarded = Router(routes=declared_routes(app))
    assert app.url_path_for("static", path="site.css") == "/static/site.css"
    named = {context.name: re.findall(r"\{([^}:]+)", context.path_format)
             for context in iter_route_contexts(declared_routes(app)) if context.name and context.path_format}  # fmt: skip
    assert len(named) > 80
    for name, parameters in named.items():
        values = dict.fromkeys(parameters, "x1")
        assert app.url_path_for(name, **values) == unguarded.url_path_for(name, **values), name


def test_a_mount_inside_a_router_keeps_the_paths_under_it() -> None:
    toy = FastAPI()
    inner = APIRouter()
    inner.mount("/files", StaticFiles(directory=str(Path(__file__).parent)), name="files")
    inner.add_api_route("/things/{thing}", lambda thing: thing, methods=["GET"])
    toy.include_router(inner, prefix="/v2")
    guard_routes(toy)
    assert any(isinstance(route, PrefixGuard) for route in toy.router.routes)
    for path in ("/v2/files", "/v2/files/", "/v2/files/a/b.txt", "/v2/things/1", "/v2/thing", "/v2", "/files"):
        assert decide(toy.router.routes, path, "GET") == decide(declared_routes(toy), path, "GET"), path
    assert decide(toy.router.routes, "/v2/files/a/b.txt", "GET")[1] == "full"
