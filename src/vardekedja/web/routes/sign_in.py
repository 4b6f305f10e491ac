"""Signing in, joining with an invite and signing out: the pages for the rules in ``api/sign_in.py``.

After signing in or joining, a person lands on their role's main page, or on
the same-site path ``next`` that ``/login?next=`` was given (a page that asked
them to sign in first).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from vardekedja.api import sign_in
from vardekedja.api.sign_in import Refusal, SignInRefusedError
from vardekedja.web.domain_words import explain
from vardekedja.web.rendering import Page, PageDep
from vardekedja.web.signed_in import ROLE_HOMES, same_site_path

router = APIRouter(include_in_schema=False)

Email = Annotated[str, Form(max_length=254)]
Password = Annotated[str, Form(max_length=1024)]
Token = Annotated[str, Form(max_length=128)]
Next = Annotated[str, Form(max_length=2000)]


def _form(page: Page, template: str, status: int = 200, headers: dict[str, str] | None = None,
          **context: Any) -> HTMLResponse:  # fmt: skip
    """A form shown before signing in, with its token in the form and in a cookie (see ``api/sign_in.py``)."""
    token = sign_in.form_token(page.request)
    response = page.render(template, status=status, form_token=token, **context)
    response.headers.update(headers or {})
    sign_in.with_form_cookie(response, page.request, token)
    return response


def _why(page: Page, refused: SignInRefusedError) -> str:
    if refused.refusal is Refusal.TOO_MANY:
        minutes = (refused.retry_after or 60) // 60 + 1
        return page.gettext("Too many failed sign-ins. Try again in %(minutes)s minutes.") % {"minutes": minutes}
    if refused.refusal is Refusal.PASSWORD_REFUSED and refused.rule is not None:
        return explain(page.gettext, refused.rule)
    return {
        Refusal.FORM_EXPIRED: page.gettext("The form had expired. Please try again."),
        Refusal.WRONG: page.gettext("The email or the password is wrong."),
    }.get(refused.refusal, page.gettext(
        "This invite link is not valid: it was used already, replaced by a newer one, or has expired."))


@router.get("/login", response_class=HTMLResponse)
async def login_page(page: PageDep, next: Annotated[str, Query(max_length=2000)] = "") -> HTMLResponse:
    return _form(page, "login.html", email="", errors={}, notice=None, next=same_site_path(next))


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, page: PageDep, email: Email = "", password: Password = "", csrf_token: Token = "",
                next: Next = "") -> Response:  # fmt: skip
    """Sign in with email and password; on to ``next`` (a path on this site) or the role's main page."""
    try:
        token, session = await sign_in.sign_in(request, email, password, csrf_token)
    except SignInRefusedError as refused:
        wrong = refused.refusal is Refusal.WRONG
        return _form(page, "login.html", status=refused.status, headers=refused.headers, email=email,
                     errors={"password": _why(page, refused)} if wrong else {},
                     notice=None if wrong else _why(page, refused), next=same_site_path(next))  # fmt: skip
    return sign_in.signed_in(request, token, same_site_path(next) or ROLE_HOMES[session.role])


@router.post("/logout")
async def logout(request: Request) -> Response:
    return await sign_in.sign_out(request)


@router.get("/invite/{token}", response_class=HTMLResponse)
async def invite_page(page: PageDep, token: str) -> HTMLResponse:
    if not await sign_in.invite_is_open(page.request, token):
        return _invalid(page)
    return _form(page, "invite.html", token=token, errors={}, notice=None)


@router.post("/invite/{token}", response_class=HTMLResponse)
async def accept_invite(request: Request, page: PageDep, token: str, password: Password = "",
                        csrf_token: Token = "") -> Response:  # fmt: skip
    """Choose a password, join and sign in; on to the role's main page."""
    try:
        session_id, session = await sign_in.accept_invite(request, token, password, csrf_token)
    except SignInRefusedError as refused:
        if refused.refusal is Refusal.INVITE_NOT_VALID:
            return _invalid(page)
        beside = refused.refusal is Refusal.PASSWORD_REFUSED
        return _form(page, "invite.html", status=refused.status, token=token,
                     errors={"password": _why(page, refused)} if beside else {},
                     notice=None if beside else _why(page, refused))  # fmt: skip
    return sign_in.signed_in(request, session_id, ROLE_HOMES[session.role])


def _invalid(page: Page) -> HTMLResponse:
    message = _why(page, SignInRefusedError(Refusal.INVITE_NOT_VALID))
    response = page.render("invite.html", status=404, token=None, errors={}, notice=message)
    response.headers["Cache-Control"] = "no-store"
    return response
