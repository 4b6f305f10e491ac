"""Who is looking at a page: the organisation and role of the signed-in person.

Page handlers that need someone signed in take ``PageCaller`` (any role) or
``PageBuyer`` and friends; without a session the reader gets a page that says
to sign in (401, with a link to ``/login`` that comes back here), never an
error in JSON. Tests put a caller in with FastAPI's ``dependency_overrides``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from vardekedja.api.deps import Caller
from vardekedja.domain.organisation import Role
from vardekedja.web.errors import PageError
from vardekedja.web.i18n import choose_language, translations
from vardekedja.web.signed_in import signed_in_person


class SignInNeededError(PageError):
    """The page is for signed-in people."""


async def page_caller(request: Request) -> Caller:
    """The organisation and role of the person signed in with the session cookie; without a live session,
    a page that says to sign in."""
    known = getattr(request.state, "caller", None)  # found already for this request (see ``get_page``)
    if known is not None:
        return known  # type: ignore[no-any-return]
    person = await signed_in_person(request)
    if person is not None:
        return person.caller
    gettext = translations(choose_language(request)[0]).gettext
    raise SignInNeededError(401, gettext("Sign in to see this page."))


def _role(*roles: Role):  # type: ignore[no-untyped-def]
    async def check(request: Request, caller: Annotated[Caller, Depends(page_caller)]) -> Caller:
        request.state.caller = caller  # the header shows the pages of the caller's role
        if caller.role not in roles:
            language, _ = choose_language(request)
            raise PageError(403, translations(language).gettext("This page is for another kind of organisation."))
        return caller

    return check


PageCaller = Annotated[Caller, Depends(page_caller)]
PageBuyer = Annotated[Caller, Depends(_role(Role.BUYER))]
PageDesigner = Annotated[Caller, Depends(_role(Role.DESIGNER))]
PageWorkshop = Annotated[Caller, Depends(_role(Role.WORKSHOP))]
PageAreaCompany = Annotated[Caller, Depends(_role(Role.AREA_COMPANY))]
PageOverseer = Annotated[Caller, Depends(_role(Role.OPERATOR, Role.AUDITOR))]
PageOperator = Annotated[Caller, Depends(_role(Role.OPERATOR))]
