"""The auditor's pages (the operator's too): the event log with its chain hashes, verification, and one
stream as it stood at a time. Each answers with what the API's audit routes answer, by calling them."""

from __future__ import annotations

from contextlib import suppress
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from vardekedja.api.deps import RuntimeDep
from vardekedja.api.problems import ApiError
from vardekedja.api.routes import audit as api_audit
from vardekedja.domain.errors import NotFoundError
from vardekedja.runtime import Runtime
from vardekedja.web import stream_words
from vardekedja.web.auth import PageOverseer
from vardekedja.web.errors import PageError
from vardekedja.web.i18n import STOCKHOLM
from vardekedja.web.rendering import PageDep

router = APIRouter(include_in_schema=False)
PAGE = 50


@router.get("/audit", response_class=HTMLResponse)
async def log(page: PageDep, caller: PageOverseer, runtime: RuntimeDep,
              after: Annotated[int, Query(ge=0, le=2**62)] = 0) -> HTMLResponse:  # fmt: skip
    """The event log in position order, a page at a time."""
    found = api_audit.events(caller, runtime, after=after, limit=PAGE)
    return page.render("audit.html", events=found.items, next_after=found.next_after, after=after)


@router.get("/audit/verify", response_class=HTMLResponse)
async def verify(page: PageDep, caller: PageOverseer, runtime: RuntimeDep) -> HTMLResponse:
    """The whole chain, its checkpoints and every order's money, checked now."""
    report = await api_audit.verify(caller, runtime)
    return page.render("audit_verify.html", report=report)


@router.get("/audit/streams/{stream_id}", response_class=HTMLResponse)
async def stream(stream_id: UUID, page: PageDep, caller: PageOverseer, runtime: RuntimeDep,
                 as_of: Annotated[str, Query(max_length=32)] = "") -> HTMLResponse:  # fmt: skip
    """One stream's events and its state rebuilt from them, as of a moment in Swedish time if one is given."""
    moment = None
    if as_of:
        try:
            moment = datetime.fromisoformat(as_of).replace(tzinfo=STOCKHOLM)
        except ValueError:
            raise PageError(422, page.gettext("Choose a date and a time.")) from None
    try:
        found = api_audit.stream(stream_id, caller, runtime, as_of=moment)
    except ApiError:
        raise PageError(404, page.gettext("There is no such stream.")) from None
    names = await to_thread.run_sync(_names, runtime, found.state)
    return page.render("audit_stream.html", stream=found, as_of=as_of, names=names, links=stream_words.LINKS)


def _names(runtime: Runtime, state: dict[str, Any] | None) -> dict[str, str]:
    """The organisations and designs the state points to, by id: their names and titles as they are now."""
    names = {}
    for found in stream_words.pointed_to(state, stream_words.ORGANISATIONS):
        with suppress(NotFoundError, ValueError):
            names[found] = runtime.marketplace.organisation(UUID(found)).name
    for found in stream_words.pointed_to(state, stream_words.DESIGNS):
        with suppress(NotFoundError, ValueError):
            design = runtime.marketplace.design(UUID(found))
            names[found] = design.revisions[max(design.revisions)].title
    return names
