"""Fault reports from the public, without sign-in: read a form, bound it, check it, and open a maintenance order.

Both ways in (Open311 GeoReport v2 and the piece's own page, ``/a/{code}``)
come through ``submit``: the same limits on rate (per client address, with the
``limits`` library), size and fields, the same honeypot field, the same checks.

Reporters' contact details (``email``, ``first_name``, ``last_name``,
``phone``) and the report's free text are personal data: the application
seals them under a data subject of the reporter's own (personal_data.py)
before they reach an event; public answers never carry them.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlsplit
from uuid import UUID

from fastapi import Request, Response
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter

from vardekedja.api.deps import command
from vardekedja.domain.asset import normalise_code
from vardekedja.domain.errors import DomainError
from vardekedja.domain.maintenance import ServiceCode
from vardekedja.projections.care import CareView
from vardekedja.runtime import Runtime

MAX_FORM_BYTES = 16 * 1024
MAX_DESCRIPTION = 4000
MAX_FIELD = 200
MAX_URL = 2000
HONEYPOT = "website"  # hidden from people; a bot that fills every field fills this one too
CONTACT_FIELDS = frozenset({"email", "first_name", "last_name", "phone"})
IGNORED_FIELDS = frozenset({"jurisdiction_id", "api_key", "device_id", "account_id", "address_string", "address_id",
                            "lang"})  # fmt: skip
KNOWN_FIELDS = frozenset({"service_code", "description", "attribute[asset]", "lat", "long", "media_url", HONEYPOT}) \
    | CONTACT_FIELDS | IGNORED_FIELDS
REPORTABLE = [code for code in ServiceCode if code is not ServiceCode.INSPECTION]


class ReportError(Exception):
    """A report refused before anything was written: the status and what to tell the reporter."""

    def __init__(self, status: int, description: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:  # fmt: skip
        super().__init__(description)
        self.status, self.description, self.field, self.headers = status, description, field, headers


@dataclass(frozen=True)
class Report:
    asset_code: str
    service_code: ServiceCode
    description: str
    lat: float | None
    long: float | None
    media_url: str | None
    contact: dict[str, str]


class ClientLimits:
    """Requests per client address in a moving window: reports, and reads of the public lists.

    The limiter's asyncio flavour: it expires old entries in a task on the server's event loop, where
    the threaded one started a timer thread every few milliseconds under load.
    """

    def __init__(self, reports: str = "10/minute", reads: str = "300/minute") -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())
        self.reports, self.reads = parse(reports), parse(reads)

    async def check(self, request: Request, kind: str) -> None:
        item = self.reports if kind == "reports" else self.reads
        client = request.client.host if request.client else "unknown"
        if not await self._limiter.hit(item, kind, client):
            reset = (await self._limiter.get_window_stats(item, kind, client)).reset_time
            wait = max(1, math.ceil(reset - time.time()))
            raise ReportError(429, f"too many requests from this address; try again in {wait} s",
                              headers={"Retry-After": str(wait)})  # fmt: skip


async def read_form(request: Request, also: frozenset[str] = frozenset()) -> dict[str, str]:
    """The form's fields, once each; refused when it is not a form, too large, or a field repeats or is unknown.

    ``also`` names fields a way in adds of its own (the web page's form token); they are read and left out.
    """
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise ReportError(415, "send the report as application/x-www-form-urlencoded")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise ReportError(413, f"the report is over {MAX_FORM_BYTES // 1024} KiB")
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=len(KNOWN_FIELDS | also))
    except (UnicodeDecodeError, ValueError):
        raise ReportError(400, "the form could not be read (UTF-8, at most one of each field)") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        if name in also:
            continue
        if name not in KNOWN_FIELDS:
            raise ReportError(400, f"unknown field {name!r}", name)
        if name in fields:
            raise ReportError(400, f"field {name!r} is given twice", name)
        if "\x00" in value:
            raise ReportError(400, f"field {name!r} holds a NUL character", name)
        fields[name] = value
    return fields


def _coordinate(fields: dict[str, str], name: str) -> float | None:
    text = fields.get(name, "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ReportError(400, f"{name} must be a number", name) from None
    if not math.isfinite(value):
        raise ReportError(400, f"{name} must be a number", name)
    return value


def check(fields: dict[str, str]) -> Report:
    """The report the form makes, or the first thing wrong with it."""
    if fields.get(HONEYPOT):
        raise ReportError(400, "the report was refused: leave the website field empty", HONEYPOT)
    for name in KNOWN_FIELDS - {"description", "media_url"}:
        if len(fields.get(name, "")) > MAX_FIELD:
            raise ReportError(400, f"{name} is longer than {MAX_FIELD} characters", name)
    try:
        service_code = ServiceCode(fields.get("service_code", "").strip())
    except ValueError:
        service_code = None
    if service_code is None or service_code is ServiceCode.INSPECTION:
        codes = ", ".join(code.value for code in REPORTABLE)
        raise ReportError(400, f"service_code must be one of {codes}", "service_code")
    code = normalise_code(fields.get("attribute[asset]", ""))
    if code is None:
        raise ReportError(400, "attribute[asset] must be the 8-character code on the piece's label",
                          "attribute[asset]")  # fmt: skip
    description = fields.get("description", "").strip()
    if not description:
        raise ReportError(400, "description: say what is wrong", "description")
    if len(description) > MAX_DESCRIPTION:
        raise ReportError(400, f"description is longer than {MAX_DESCRIPTION} characters", "description")
    media_url = fields.get("media_url", "").strip() or None
    if media_url is not None and (len(media_url) > MAX_URL or urlsplit(media_url).scheme not in ("http", "https")
                                  or not urlsplit(media_url).netloc):  # fmt: skip
        raise ReportError(400, "media_url must be an http(s) address", "media_url")
    lat, long = _coordinate(fields, "lat"), _coordinate(fields, "long")
    contact = {name: fields[name].strip() for name in CONTACT_FIELDS if fields.get(name, "").strip()}
    return Report(code, service_code, description, lat, long, media_url, contact)


class AssetCodes:
    """The asset each public code names, as found in the view: a code never changes its piece, so what was
    found once is kept (a code not found is looked up again, since its piece may be delivered since)."""

    def __init__(self, max_entries: int = 50_000) -> None:
        self._found: OrderedDict[str, UUID] = OrderedDict()
        self._max = max_entries

    def asset_id(self, runtime: Runtime, code: str) -> UUID | None:
        found = self._found.get(code)
        if found is None:
            with runtime.database.reader.connect() as connection:
                row = runtime.view(CareView).asset_by_code(connection, code)
            if row is None:
                return None
            found = self._found[code] = row["id"]
            if len(self._found) > self._max:
                self._found.popitem(last=False)
        return found


async def submit(runtime: Runtime, response: Response, report: Report, codes: AssetCodes) -> UUID:
    """Open the maintenance order; the id of the order (the GeoReport service request)."""
    asset_id = codes.asset_id(runtime, report.asset_code)
    if asset_id is None:
        raise ReportError(404, f"no piece has the code {report.asset_code}", "attribute[asset]")
    try:
        return await command(runtime, response, lambda app: app.report_fault(
            asset_id, report.service_code, report.description, lat=report.lat, long=report.long,
            media_url=report.media_url, contact=report.contact).id)  # fmt: skip
    except DomainError as error:
        raise ReportError(400, str(error), error.field) from None
