"""Signing in and out: the ``/login``, ``/invite/{token}`` and ``POST /logout`` pages.

Plain server-rendered HTML that works without JavaScript. Forms shown before
signing in carry a token that must match a cookie set with the form (double
submit), so another site cannot sign someone in behind their back; ``/logout``
takes the session's own CSRF token. Passwords are checked with Argon2id on a
worker thread. Failed sign-ins are counted per email and per client address
(``SignInThrottle``): after a few, each answer is slowed down, and past the
limit the answer is 429 until the window has passed.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from datetime import datetime, timezone
from html import escape
from typing import Annotated
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from limits import RateLimitItemPerMinute, storage, strategies

from vardekedja.api.sessions import (
    COOKIE,
    CSRF_FIELD,
    SessionStore,
    check_csrf,
    clear_session_cookie,
    secure_cookie,
    session_store,
    set_session_cookie,
)
from vardekedja.application.passwords import check_password, hash_password, verify_password
from vardekedja.application.people import hash_invite_token, normalise_email
from vardekedja.domain.errors import DomainError, NotFoundError, RuleViolationError
from vardekedja.domain.person import Person, PersonStatus
from vardekedja.projections.people import PeopleView
from vardekedja.runtime import Runtime

router = APIRouter(include_in_schema=False)

FORM_COOKIE = "vardekedja_form"
_INVITE = re.compile(r"/invite/[^/?\s]+")
HOME = "/login"  # where a signed-in person lands; the web UI's start page once it exists
WINDOW_MINUTES = 15
PER_EMAIL = 5  # failed sign-ins for one email within the window, then 429
PER_CLIENT = 20  # failed sign-ins from one address within the window, then 429
SLOW_AFTER = 2  # failures after which each answer waits, longer each time
MAX_DELAY = 2.0


class InviteTokensHidden(logging.Filter):
    """Keeps invite tokens out of the access log: a logged link would let anyone who reads the log join."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and "/invite/" in a for a in record.args):
            record.args = tuple(_INVITE.sub("/invite/…", a) if isinstance(a, str) else a for a in record.args)
        return True


def hide_invite_tokens() -> None:
    """Install the filter on uvicorn's access log (once)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, InviteTokensHidden) for f in access.filters):
        access.addFilter(InviteTokensHidden())


class SignInThrottle:
    """Failed sign-ins per email and per client in a moving window (the ``limits`` library), in this process."""

    def __init__(self, *, per_email: int = PER_EMAIL, per_client: int = PER_CLIENT,
                 window_minutes: int = WINDOW_MINUTES) -> None:  # fmt: skip
        self._limiter = strategies.MovingWindowRateLimiter(storage.MemoryStorage())
        self._email = RateLimitItemPerMinute(per_email, window_minutes)
        self._client = RateLimitItemPerMinute(per_client, window_minutes)

    @staticmethod
    def _email_key(email: str) -> str:
        return hashlib.sha256(normalise_email(email).encode()).hexdigest()  # no address kept, even in memory

    def retry_after(self, email: str, client: str) -> int | None:
        """Seconds until another try is allowed, if the email or the client has used up its tries."""
        waits = []
        for item, key in ((self._email, self._email_key(email)), (self._client, client)):
            if not self._limiter.test(item, "sign-in", key):
                reset, _ = self._limiter.get_window_stats(item, "sign-in", key)
                waits.append(max(1, int(reset - time.time()) + 1))
        return max(waits) if waits else None

    def delay(self, email: str, client: str) -> float:
        """How long to hold this attempt: nothing for the first few failures, then doubling."""
        failures = max(self._email.amount - self._limiter.get_window_stats(self._email, "sign-in",
                                                                             self._email_key(email)).remaining,
                       self._client.amount - self._limiter.get_window_stats(self._client, "sign-in", client).remaining)  # fmt: skip
        return 0.0 if failures < SLOW_AFTER else min(MAX_DELAY, 0.25 * 2 ** (failures - SLOW_AFTER))

    def failed(self, email: str, client: str) -> None:
        self._limiter.hit(self._email, "sign-in", self._email_key(email))
        self._limiter.hit(self._client, "sign-in", client)

    def succeeded(self, email: str) -> None:
        self._limiter.clear(self._email, "sign-in", self._email_key(email))


def throttle(request: Request) -> SignInThrottle:
    state = request.app.state
    if getattr(state, "sign_in_throttle", None) is None:
        state.sign_in_throttle = SignInThrottle()
    found: SignInThrottle = state.sign_in_throttle
    return found


# Pages.


def _page(title: str, body: str, *, status: int = 200, headers: dict[str, str] | None = None) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} – Värdekedja</title></head>\n"
        f"<body><main><h1>{escape(title)}</h1>\n{body}\n</main></body></html>\n"
    )
    response = HTMLResponse(html, status_code=status, headers=headers)
    response.headers["Cache-Control"] = "no-store"
    return response


def _alert(message: str | None) -> str:
    return f'<p role="alert">{escape(message)}</p>\n' if message else ""


def _form_token(request: Request) -> str:
    return request.cookies.get(FORM_COOKIE) or secrets.token_urlsafe(32)


def _with_form_cookie(response: Response, request: Request, token: str) -> Response:
    response.set_cookie(FORM_COOKIE, token, max_age=3600, httponly=True, samesite="lax",
                        secure=secure_cookie(request), path="/")  # fmt: skip
    return response


def _form_token_ok(request: Request, presented: str | None) -> bool:
    expected = request.cookies.get(FORM_COOKIE)
    return bool(expected and presented) and hmac.compare_digest(expected.encode(), (presented or "").encode())


def _login_form(request: Request, *, email: str = "", error: str | None = None, status: int = 200,
                headers: dict[str, str] | None = None, before: str = "") -> Response:  # fmt: skip
    token = _form_token(request)
    body = (
        before
        + _alert(error)
        + '<form method="post" action="/login">\n'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(token)}">\n'
        '<p><label for="email">Email</label><br>'
        f'<input id="email" name="email" type="email" autocomplete="username" required value="{escape(email)}"></p>\n'
        '<p><label for="password">Password</label><br>'
        '<input id="password" name="password" type="password" autocomplete="current-password" required></p>\n'
        '<p><button type="submit">Sign in</button></p>\n</form>'
    )
    return _with_form_cookie(_page("Sign in", body, status=status, headers=headers), request, token)


def _signed_in_part(organisation_name: str, csrf_token: str) -> str:
    return (
        f"<p>You are signed in for {escape(organisation_name)}.</p>\n"
        '<form method="post" action="/logout">\n'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(csrf_token)}">\n'
        '<button type="submit">Sign out</button>\n</form>\n'
        "<h2>Sign in as someone else</h2>\n"
    )


@router.get("/login")
async def login_page(request: Request) -> Response:
    session = await session_store(request).session_of(request)
    signed_in = _signed_in_part(session.organisation_name, session.csrf_token) if session is not None else ""
    return _login_form(request, before=signed_in)


@router.post("/login")
async def login(request: Request, email: Annotated[str, Form(max_length=254)] = "",
                password: Annotated[str, Form(max_length=1024)] = "",
                csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:  # fmt: skip
    if not _form_token_ok(request, csrf_token):
        return _login_form(request, email=email, status=403,
                           error="The form had expired. Please sign in again.")  # fmt: skip
    gate, client = throttle(request), request.client.host if request.client else "unknown"
    wait = gate.retry_after(email, client)
    if wait is not None:
        return _login_form(request, email=email, status=429, headers={"Retry-After": str(wait)},
                           error=f"Too many failed sign-ins. Try again in {wait // 60 + 1} minutes.")  # fmt: skip
    delay = gate.delay(email, client)
    if delay:
        await asyncio.sleep(delay)
    runtime: Runtime = request.app.state.runtime
    store, replacing = session_store(request), request.cookies.get(COOKIE)
    token = await to_thread.run_sync(lambda: _sign_in(runtime, store, email, password, replacing))
    if token is None:
        gate.failed(email, client)
        return _login_form(request, email=email, status=401, error="The email or the password is wrong.")
    gate.succeeded(email)
    return _signed_in(request, token, store)


def _active(runtime: Runtime, person_id: UUID) -> Person | None:
    """The person as the event store has it now (the views may lag behind a removal), if active."""
    try:
        person = runtime.marketplace.person(person_id)
    except NotFoundError:
        return None
    return person if person.status is PersonStatus.ACTIVE else None


def _sign_in(runtime: Runtime, store: SessionStore, email: str, password: str, replacing: str | None) -> str | None:
    """A new session for the active person with this email and password; slow by design (Argon2id).

    An unknown email is checked against a dummy hash, so that timing does not tell which emails exist.
    """
    person_id = runtime.marketplace.person_id_for(email)
    person = _active(runtime, person_id)
    stored = runtime.personal_data.open(person.password_hash) if person is not None else None
    if not verify_password(stored, password) or person is None:
        return None
    return _start_session(runtime, store, person, replacing)


def _start_session(runtime: Runtime, store: SessionStore, person: Person, replacing: str | None) -> str | None:
    """A new session id at every sign-in (whatever session the browser had ends).

    Checked once more after it is stored: a removal that happened meanwhile
    ended the person's sessions before this one existed.
    """
    organisation = runtime.marketplace.organisation(person.organisation_id)
    token, _ = store.start(person_id=person.id, organisation_id=organisation.id, role=organisation.role,
                           organisation_name=organisation.name, replacing=replacing)  # fmt: skip
    if _active(runtime, person.id) is None:
        store.end(token)
        return None
    return token


def _signed_in(request: Request, token: str, store: SessionStore) -> Response:
    response = RedirectResponse(HOME, status_code=303)
    set_session_cookie(response, request, token, store)
    response.delete_cookie(FORM_COOKIE, path="/")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    store = session_store(request)
    session = await store.session_of(request)
    if session is not None:
        await check_csrf(request, session)
        await to_thread.run_sync(store.end, request.cookies[COOKIE])
    response = RedirectResponse("/login", status_code=303)
    clear_session_cookie(response, request)
    return response


# Invites.

INVITE_NOT_VALID = "This invite link is not valid: it was used already, replaced by a newer one, or has expired."


def _invited(runtime: Runtime, token: str) -> Person | None:
    """The person whose open invite this is, as the event store has it now; None if used, replaced or expired.

    The views find the person by the invite's hash (waiting once for views that
    lag behind the store); the event store says whether the invite is still open.
    """
    invite_hash = hash_invite_token(token)
    for attempt in range(2):
        with runtime.database.reader.connect() as views:
            row = runtime.view(PeopleView).by_invite(views, invite_hash)
        if row is not None or attempt:
            break
        # Look again once the views hold the store's head, even when they already do by now: they may
        # have reached it between the look above and this line, with the invite in that last batch.
        runtime.wait_for(runtime.marketplace.position, 2.0)
    if row is None:
        return None
    try:
        person = runtime.marketplace.person(row["id"])
    except NotFoundError:
        return None
    still_open = person.invite_hash is not None and hmac.compare_digest(person.invite_hash, invite_hash)
    in_time = person.invite_expires_at is not None and person.invite_expires_at > datetime.now(timezone.utc)
    return person if still_open and in_time else None


def _invite_form(request: Request, token: str, *, error: str | None = None, status: int = 200) -> Response:
    form_token = _form_token(request)
    body = (
        "<p>Choose a password to finish joining. It needs at least 12 characters and must not be a common "
        "one: a few unrelated words make a good one.</p>\n"
        + _alert(error)
        + f'<form method="post" action="/invite/{escape(token)}">\n'
        f'<input type="hidden" name="{CSRF_FIELD}" value="{escape(form_token)}">\n'
        '<p><label for="password">Password</label><br>'
        '<input id="password" name="password" type="password" autocomplete="new-password" minlength="12" '
        'required></p>\n'
        '<p><button type="submit">Save password and sign in</button></p>\n</form>'
    )
    return _with_form_cookie(_page("Join Värdekedja", body, status=status), request, form_token)


@router.get("/invite/{token}")
async def invite_page(request: Request, token: str) -> Response:
    runtime: Runtime = request.app.state.runtime
    if len(token) > 128 or await to_thread.run_sync(_invited, runtime, token) is None:
        return _page("Invite", _alert(INVITE_NOT_VALID), status=404)
    return _invite_form(request, token)


@router.post("/invite/{token}")
async def accept_invite(request: Request, token: str, password: Annotated[str, Form(max_length=1024)] = "",
                        csrf_token: Annotated[str, Form(max_length=128)] = "") -> Response:  # fmt: skip
    runtime: Runtime = request.app.state.runtime
    if not _form_token_ok(request, csrf_token):
        return _invite_form(request, token, status=403, error="The form had expired. Please try again.")
    invited = None if len(token) > 128 else await to_thread.run_sync(_invited, runtime, token)
    if invited is None:
        return _page("Invite", _alert(INVITE_NOT_VALID), status=404)
    try:
        check_password(password)
    except RuleViolationError as error:
        return _invite_form(request, token, status=422, error=f"{str(error)[0].upper()}{str(error)[1:]}.")
    password_hash = await to_thread.run_sync(hash_password, password)
    person_id = invited.id
    try:
        await runtime.commands.run(lambda: runtime.marketplace.join_person(person_id, token=token,
                                                                           password_hash=password_hash))  # fmt: skip
    except DomainError:
        return _page("Invite", _alert(INVITE_NOT_VALID), status=404)
    store, replacing = session_store(request), request.cookies.get(COOKIE)

    def start() -> str | None:
        person = _active(runtime, person_id)
        return _start_session(runtime, store, person, replacing) if person is not None else None

    token = await to_thread.run_sync(start)
    if token is None:
        return _page("Invite", _alert(INVITE_NOT_VALID), status=404)
    return _signed_in(request, token, store)
