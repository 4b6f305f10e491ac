"""``/a/{code}``: the public page a piece's QR code opens: what it is, who looks after it, and a fault report form.

Plain, accessible HTML that works without JavaScript; the form posts back to
the same address and goes through the same checks and limits as Open311.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from vardekedja.api.deps import RuntimeDep
from vardekedja.api.fault_reports import HONEYPOT, REPORTABLE, ReportError, check, read_form, submit
from vardekedja.api.routes.open311 import SERVICES
from vardekedja.domain.asset import normalise_code
from vardekedja.projections.care import CareView

router = APIRouter(tags=["förvaltning"], include_in_schema=False)

PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:1rem auto;padding:0 1rem;line-height:1.5}}
label{{display:block;margin-top:1rem;font-weight:600}}input,select,textarea{{font:inherit;width:100%;padding:.4rem}}
button{{font:inherit;margin-top:1rem;padding:.5rem 1.2rem}}.hidden{{position:absolute;left:-10000px}}
[role=alert]{{border:2px solid #b00;padding:.5rem}}[role=status]{{border:2px solid #070;padding:.5rem}}</style>
</head>
<body><main>
{body}
</main></body></html>
"""


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(PAGE.format(title=escape(title), body=body), status_code=status)


def _asset(runtime: Any, code: str) -> dict[str, Any] | None:
    normal = normalise_code(code)
    if normal is None:
        return None
    with runtime.database.reader.connect() as connection:
        return runtime.view(CareView).asset_by_code(connection, normal)


def _not_found(code: str) -> HTMLResponse:
    return _page("Not found", f"<h1>No piece has the code {escape(code)}</h1>"
                              "<p>Check the code under the QR code on the piece.</p>", 404)  # fmt: skip


def _render(asset: dict[str, Any], message: str = "", status: int = 200, values: dict[str, str] | None = None) -> HTMLResponse:
    values = values or {}
    options = "".join(
        f'<option value="{code.value}"{" selected" if values.get("service_code") == code.value else ""}>'
        f"{escape(SERVICES[code][0])}</option>" for code in REPORTABLE
    )
    caretaker = escape(asset["caretaker_name"]) if asset["caretaker_name"] else "No area company yet"
    body = f"""<h1>{escape(asset["title"])}</h1>
<dl>
<dt>Where</dt><dd>{escape(asset["site_name"])}, {escape(asset["street"])}, {escape(asset["municipality"])}</dd>
<dt>Looked after by</dt><dd>{caretaker}</dd>
<dt>Code</dt><dd>{escape(asset["code"])}</dd>
</dl>
{message}
<h2>Report a fault</h2>
<form method="post" action="/a/{escape(asset["code"])}">
<label for="service_code">What kind of fault</label>
<select id="service_code" name="service_code" required>{options}</select>
<label for="description">What is wrong</label>
<textarea id="description" name="description" rows="5" maxlength="4000" required>{escape(values.get("description", ""))}</textarea>
<label for="email">Your email (optional, to hear back)</label>
<input id="email" name="email" type="email" maxlength="200" autocomplete="email" value="{escape(values.get("email", ""))}">
<div class="hidden" aria-hidden="true"><label for="{HONEYPOT}">Leave this empty</label>
<input id="{HONEYPOT}" name="{HONEYPOT}" tabindex="-1" autocomplete="off"></div>
<input type="hidden" name="attribute[asset]" value="{escape(asset["code"])}">
<button type="submit">Send report</button>
</form>
<p>An email given here is kept encrypted and shown only to the area company looking after the piece.</p>"""
    return _page(asset["title"], body, status)


@router.get("/a/{code}", response_class=HTMLResponse, name="asset_page")
async def asset_page(code: str, runtime: RuntimeDep) -> HTMLResponse:
    """The piece's public page."""
    asset = _asset(runtime, code)
    return _render(asset) if asset is not None else _not_found(code)


@router.post("/a/{code}", response_class=HTMLResponse)
async def report_on_page(code: str, request: Request, response: Response, runtime: RuntimeDep) -> HTMLResponse:
    """A fault report from the piece's page."""
    asset = _asset(runtime, code)
    if asset is None:
        return _not_found(code)
    values: dict[str, str] = {}
    try:
        request.app.state.client_limits.check(request, "reports")
        values = await read_form(request)
        values["attribute[asset]"] = asset["code"]
        request_id = await submit(runtime, response, check(values))
    except ReportError as refused:
        alert = f'<p role="alert">The report was not sent: {escape(refused.description)}</p>'
        return _render(asset, alert, refused.status, values)
    thanks = f'<p role="status">Thank you. The report is sent; its reference is {escape(str(request_id))}.</p>'
    return _render(asset, thanks, 201)
