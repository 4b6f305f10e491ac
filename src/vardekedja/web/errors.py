"""Errors on pages are pages: a page handler raises ``PageError`` and the reader gets the error page.

Requests outside the API (``/v1``) that fail routing or validation get the
same HTML error page in their language; the API keeps its problem documents.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from vardekedja.web.rendering import Page


class PageError(Exception):
    """A page cannot be shown; ``message`` is already in the reader's language."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


NOT_PAGES = ("/v1/", "/pay/", "/static/", "/open311/")  # answered in their own formats


def _is_page(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith(NOT_PAGES) or path == "/v1")


def error_page(request: Request, status: int, message: str | None = None) -> HTMLResponse:
    page = Page(request)
    messages = {
        400: page.gettext("Something in the address is not valid."),
        404: page.gettext("There is no such page."),
        405: page.gettext("That cannot be done here."),
    }
    text = message or messages.get(status) or page.gettext("Something went wrong.")
    return page.render("error.html", status=status, code=status, message=text)


def install_page_errors(app: FastAPI) -> None:
    """HTML errors for pages, the API's problem documents for everything else."""
    api_http = app.exception_handlers[StarletteHTTPException]
    api_invalid = app.exception_handlers[RequestValidationError]

    @app.exception_handler(PageError)
    async def _page(request: Request, error: PageError) -> HTMLResponse:
        return error_page(request, error.status, error.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> Response:
        if _is_page(request):
            return error_page(request, error.status_code)
        response: Response = await api_http(request, error)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Any:
        if _is_page(request):
            return error_page(request, 400)
        return await api_invalid(request, error)
