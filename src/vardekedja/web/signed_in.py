"""Who is signed in on this request: their organisation and role, name, language and CSRF token.

Looked up once per request from the session cookie (``api/sessions.py``) and
the people view, and kept on ``request.state``: the header shows the name and
a sign-out button, ``web/auth.py`` checks the role, and the person's language
is the page's unless ``?lang=`` or the language cookie says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from anyio import to_thread
from starlette.requests import Request

from vardekedja.api.deps import Caller
from vardekedja.api.sessions import COOKIE, Session
from vardekedja.domain.errors import NotFoundError
from vardekedja.domain.organisation import Role
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime

# Each role's main page: where a person lands after signing in.
ROLE_HOMES = {
    Role.BUYER: "/orders", Role.DESIGNER: "/studio", Role.WORKSHOP: "/workshop", Role.AREA_COMPANY: "/area",
    Role.OPERATOR: "/admin", Role.AUDITOR: "/audit",
}  # fmt: skip
_UNKNOWN = object()


@dataclass(frozen=True)
class SignedInPerson:
    caller: Caller
    name: str | None  # None once erased
    language: str | None
    csrf_token: str  # the session's: every form that changes state carries it

    @property
    def home(self) -> str:
        return ROLE_HOMES[self.caller.role]


async def signed_in_person(request: Request) -> SignedInPerson | None:
    """The person signed in with the request's session cookie, or None (looked up once per request)."""
    known = getattr(request.state, "signed_in", _UNKNOWN)
    if known is not _UNKNOWN:
        return known  # type: ignore[return-value]
    found = None
    sessions = getattr(request.app.state, "sessions", None)
    if sessions is not None and COOKIE in request.cookies:
        session = await sessions.session_of(request)
        if session is not None:
            found = await to_thread.run_sync(_person, request.app.state.runtime, session)
            request.state.caller = found.caller
            request.state.person_language = found.language
    request.state.signed_in = found
    return found


def _person(runtime: Runtime, session: Session) -> SignedInPerson:
    with runtime.database.reader.connect() as views:
        row = runtime.view(PeopleView).person(views, session.person_id)
    caller = Caller(session.organisation_id, Role(session.role), session.organisation_name, session.person_id)
    if row is None:  # the views have not reached the invite yet
        try:
            person = runtime.marketplace.person(session.person_id)
        except NotFoundError:
            return SignedInPerson(caller, None, None, session.csrf_token)
        return SignedInPerson(caller, runtime.personal_data.open(person.name), person.language, session.csrf_token)
    return SignedInPerson(caller, runtime.personal_data.open(row["name"]), row["language"], session.csrf_token)


def same_site_path(wanted: str | None) -> str | None:
    """``wanted`` if it is a path on this site (for ``?next=``), else None: no other host, scheme or trick."""
    if not wanted or len(wanted) > 2000 or not wanted.startswith("/") or wanted.startswith("//"):
        return None
    if "\\" in wanted or any(ord(character) < 0x20 or ord(character) == 0x7F for character in wanted):
        return None
    parts = urlsplit(wanted)
    if parts.scheme or parts.netloc or not parts.path.startswith("/"):
        return None
    return wanted
