"""Open311 GeoReport v2: fault reports on the pieces, without sign-in.

Shaped as GeoReport v2 defines it (https://wiki.open311.org/GeoReport_v2):
services and their definitions, a form-encoded POST of a service request
answering ``[{"service_request_id", "service_notice", "account_id"}]``, the
requests with ``status`` ``open`` or ``closed``, and errors as
``[{"code", "description"}]``. ``jurisdiction_id`` is accepted and ignored: the
marketplace is one jurisdiction. Answers carry no personal data: the
reporter's contact details are never stored, and the report's free text is
shown only to the area company, the buyer, the operator and auditors.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from vardekedja.api.deps import RuntimeDep
from vardekedja.api.fault_reports import REPORTABLE, ReportError, check, read_form, submit
from vardekedja.domain.maintenance import UNDONE, ServiceCode
from vardekedja.projections.care import CareView

router = APIRouter(prefix="/open311/v2", tags=["open311"])

SERVICES = {
    ServiceCode.SAFETY: ("Safety hazard", "Something on the piece can hurt someone: loose, broken, sharp or unstable"),
    ServiceCode.DAMAGE: ("Damage", "Broken or worn, but not dangerous"),
    ServiceCode.GRAFFITI: ("Graffiti", "Graffiti or stickers on the piece"),
    ServiceCode.CLEANING: ("Cleaning", "The piece needs cleaning"),
    ServiceCode.OTHER: ("Other", "Anything else about the piece"),
    ServiceCode.INSPECTION: ("Inspection", "A scheduled inspection (opened by the marketplace, not reported)"),
}
GROUP = "Meeting place furniture"
NOTICE = "The area company looking after the piece has been told."
DEFAULT_DAYS = 90
MAX_REQUESTS = 1000
ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": text, "content": {"application/json": {"example": [{"code": code, "description": text}]}}}
    for code, text in ((400, "invalid input"), (404, "not found"), (413, "too large"),
                       (415, "not a form"), (429, "too many requests"))  # fmt: skip
}


class Service(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: Literal["realtime", "batch", "blackbox"]
    keywords: str
    group: str


class Attribute(BaseModel):
    variable: bool
    code: str
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str


class ServiceDefinition(BaseModel):
    service_code: str
    attributes: list[Attribute]


class Created(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


class ServiceRequest(BaseModel):
    service_request_id: str
    status: Literal["open", "closed"]
    status_notes: str
    service_name: str
    service_code: str
    agency_responsible: str | None
    service_notice: str
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime
    address: str
    address_id: str
    zipcode: str
    lat: float | None
    long: float | None
    media_url: str | None


def error(report_error: ReportError) -> JSONResponse:
    return JSONResponse([{"code": report_error.status, "description": report_error.description}],
                        status_code=report_error.status, headers=report_error.headers)  # fmt: skip


def _service(code: ServiceCode) -> Service:
    name, description = SERVICES[code]
    return Service(service_code=code.value, service_name=name, description=description, metadata=True,
                   type="realtime", keywords="", group=GROUP)  # fmt: skip


@router.get("/services.json", response_model=list[Service])
async def services(request: Request) -> Any:
    """The kinds of fault that can be reported on a piece."""
    try:
        await request.app.state.client_limits.check(request, "reads")
    except ReportError as refused:
        return error(refused)
    return [_service(code) for code in REPORTABLE]


@router.get("/services/{service_code}.json", response_model=ServiceDefinition, responses=ERRORS)
async def service_definition(service_code: str) -> Any:
    """What a report of this kind needs besides a description: the code on the piece's label."""
    if service_code not in {code.value for code in REPORTABLE}:
        return error(ReportError(404, f"no service {service_code!r}"))
    return ServiceDefinition(service_code=service_code, attributes=[Attribute(
        variable=True, code="asset", datatype="string", required=True, order=1,
        datatype_description="8 letters and digits, as printed under the QR code",
        description="The code on the piece's label",
    )])  # fmt: skip


@router.post("/requests.json", status_code=201, response_model=list[Created], responses=ERRORS, openapi_extra={
    "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
        "type": "object", "required": ["service_code", "description", "attribute[asset]"],
        "properties": {name: {"type": "string"} for name in (
            "service_code", "description", "attribute[asset]", "lat", "long", "email", "first_name",
            "last_name", "phone", "media_url", "jurisdiction_id")},
    }}}},
})  # fmt: skip
async def create_request(request: Request, response: Response, runtime: RuntimeDep) -> Any:
    """Report a fault on a piece (form-encoded). Contact details are accepted but not kept."""
    try:
        await request.app.state.client_limits.check(request, "reports")
        report = check(await read_form(request))
        request_id = await submit(runtime, response, report, request.app.state.asset_codes)
    except ReportError as refused:
        return error(refused)
    return [Created(service_request_id=str(request_id), service_notice=NOTICE, account_id=None)]


def _request(row: dict[str, Any]) -> ServiceRequest:
    code = ServiceCode(row["service_code"])
    return ServiceRequest(
        service_request_id=str(row["id"]), status="open" if row["status"] in UNDONE else "closed",
        status_notes=row["status"].replace("_", " "), service_name=SERVICES[code][0], service_code=code.value,
        agency_responsible=row["area_company_name"], service_notice=NOTICE, requested_datetime=row["opened_at"],
        updated_datetime=row["updated_at"], expected_datetime=row["expected_by"],
        address=f"{row['street']}, {row['municipality']}", address_id=row["asset_code"], zipcode=row["postal_code"],
        lat=row["lat"], long=row["long"], media_url=row["media_url"],
    )  # fmt: skip


@router.get("/requests.json", response_model=list[ServiceRequest], responses=ERRORS)
async def list_requests(
    request: Request, runtime: RuntimeDep,
    service_request_id: Annotated[str | None, Query(max_length=2000, description="Comma-separated ids")] = None,
    service_code: Annotated[str | None, Query(max_length=50)] = None,
    start_date: Annotated[datetime | None, Query()] = None,
    end_date: Annotated[datetime | None, Query()] = None,
    status: Annotated[Literal["open", "closed"] | None, Query()] = None,
    jurisdiction_id: Annotated[str | None, Query(max_length=200)] = None,
) -> Any:  # fmt: skip
    """Reports and inspections, newest first: by default those of the last 90 days, at most 1000."""
    try:
        await request.app.state.client_limits.check(request, "reads")
        ids = _ids(service_request_id)
    except ReportError as refused:
        return error(refused)
    if ids is None and start_date is None:
        start_date = (end_date or runtime.clock()) - timedelta(days=DEFAULT_DAYS)
    with runtime.database.reader.connect() as connection:
        rows = runtime.view(CareView).reports(connection, ids=ids, service_code=service_code, since=start_date,
                                            until=end_date, open_=None if status is None else status == "open",
                                            limit=MAX_REQUESTS)  # fmt: skip
    return [_request(row) for row in rows]


def _ids(text: str | None) -> list[UUID] | None:
    if text is None:
        return None
    try:
        return [UUID(part.strip()) for part in text.split(",") if part.strip()][:MAX_REQUESTS]
    except ValueError:
        raise ReportError(400, "service_request_id must be request ids separated by commas") from None


@router.get("/requests/{service_request_id}.json", response_model=list[ServiceRequest], responses=ERRORS)
async def get_request(service_request_id: str, request: Request, runtime: RuntimeDep) -> Any:
    """One report, as a list of one (as GeoReport v2 answers it)."""
    try:
        await request.app.state.client_limits.check(request, "reads")
        ids = _ids(service_request_id)
    except ReportError as refused:
        return error(refused)
    with runtime.database.reader.connect() as connection:
        rows = runtime.view(CareView).reports(connection, ids=ids, limit=1)
    if not rows:
        return error(ReportError(404, f"no service request {service_request_id}"))
    return [_request(rows[0])]
