"""Design media: a designer uploads pictures and production files; who may fetch each is decided here."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Depends, Query, Request, Response, status
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy.engine import Connection

from vardekedja.api.deps import SHUTTING_DOWN, Caller, DesignerDep, RuntimeDep, ViewsDep, authenticate, command
from vardekedja.api.problems import ApiError
from vardekedja.api.sessions import COOKIE as SESSION_COOKIE
from vardekedja.api.uploads import Upload, receive_upload
from vardekedja.domain.errors import NotFoundError
from vardekedja.domain.organisation import Role
from vardekedja.media import PRODUCTION_TYPES, MediaError, MediaStore, safe_filename, sniff_production_file
from vardekedja.projections.catalogue import CatalogueView
from vardekedja.projections.production import ProductionView
from vardekedja.runtime import Runtime

router = APIRouter(tags=["designs"])

UPLOAD_BODY = {
    "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["kind", "file"],
        "properties": {"kind": {"type": "string", "enum": ["picture", "production_file"]},
                       "file": {"type": "string", "format": "binary"}},
    }}},
}  # fmt: skip


class MediaOut(BaseModel):
    id: UUID
    kind: Literal["picture", "production_file"]
    filename: str
    sha256: str
    bytes: int


def media_store(runtime: Runtime) -> MediaStore:
    return MediaStore(runtime.settings.data_dir / "media")


async def optional_caller(request: Request) -> Caller | None:
    """The caller when a key or a session cookie is sent (401 if it is not valid); nobody (a public reader) otherwise."""
    authorization = request.headers.get("authorization")
    if authorization is None and SESSION_COOKIE in request.cookies:
        session = await request.app.state.sessions.signed_in(request)
        return Caller(session.organisation_id, session.role, session.organisation_name, session.person_id)
    return None if authorization is None else await authenticate(request.app.state.runtime, authorization)


@router.post("/designs/{design_id}/media", status_code=status.HTTP_201_CREATED, response_model=MediaOut,
             responses=SHUTTING_DOWN, openapi_extra={"requestBody": UPLOAD_BODY})  # fmt: skip
async def attach_media(design_id: UUID, request: Request, caller: DesignerDep, runtime: RuntimeDep,
                       response: Response) -> MediaOut:  # fmt: skip
    """Attach a picture (JPEG, PNG or WebP, ≤ 10 MiB; stored re-encoded, without metadata, in three sizes) or a
    production file (PDF, DXF, STEP, SVG or ZIP by content, ≤ 50 MiB) to the design's draft revision.
    Multipart fields: ``kind`` (send it first), then ``file``. The same file again answers with the same media."""

    def owned() -> bool:  # asked of the event store, so a design drafted a moment ago is found
        try:
            return runtime.marketplace.design(design_id).designer_id == caller.organisation_id
        except NotFoundError:
            return False

    if not await to_thread.run_sync(owned):
        raise ApiError(404, f"no design {design_id}")
    store = media_store(runtime)
    upload = await receive_upload(request, store)
    try:
        stored = await to_thread.run_sync(store_upload, store, upload)
    finally:
        upload.discard()
    done = await command(runtime, response, lambda app: app.attach_media(caller.organisation_id, design_id, **stored))
    return MediaOut(id=done.id, kind=stored["kind"], filename=stored["filename"], sha256=stored["sha256"],
                    bytes=stored["size"])  # fmt: skip


def store_upload(store: MediaStore, upload: Upload) -> dict[str, Any]:
    """Check the upload by its content and keep it: what ``attach_media`` records."""
    kind, filename = upload.fields.get("kind"), upload.filename or "file"
    assert upload.path is not None
    if kind == "picture":
        try:
            picture = store.picture(upload.path)
        except MediaError as error:
            raise ApiError(error.status, str(error)) from None
        return {"kind": kind, "filename": safe_filename(filename, extension="webp"), "sha256": picture.sha256,
                "size": picture.size, "content_type": "image/webp", "variants": picture.variants}  # fmt: skip
    if kind == "production_file":
        found = sniff_production_file(upload.head)
        if found is None:
            raise ApiError(422, "the file's content is not a PDF, DXF, STEP, SVG or ZIP file, whatever its name says")
        store.keep(upload.path, upload.sha256)
        return {"kind": kind, "filename": safe_filename(filename), "sha256": upload.sha256, "size": upload.size,
                "content_type": PRODUCTION_TYPES[found], "variants": {}}  # fmt: skip
    raise ApiError(422, "kind is picture or production_file")


Size = Annotated[Literal["large", "medium", "thumb"], Query(description="A picture's size")]


@router.get("/designs/{design_id}/media/{media_id}", response_class=FileResponse,
            responses={200: {"description": "The file", "content": {
                kind: {"schema": {"type": "string", "format": "binary"}}
                for kind in ("image/webp", *PRODUCTION_TYPES.values())}}},
            # The key is optional here: a published design's pictures are public; a key sent must be valid.
            openapi_extra={"security": [{"HTTPBearer": []}, {}]})  # fmt: skip
async def get_media(design_id: UUID, media_id: UUID, reads: ViewsDep, runtime: RuntimeDep,
                    caller: Annotated[Caller | None, Depends(optional_caller)], size: Size = "large",
                    ) -> FileResponse:  # fmt: skip
    """A file. Pictures of a published revision are public (no key needed); drafts' pictures only to their
    designer; production files only to the designer, a workshop holding a production order for that revision,
    the operator and the auditor."""

    def read(connection: Connection) -> dict[str, Any]:
        row = runtime.view(CatalogueView).media_item(connection, design_id, media_id)
        if row is None or not _may_have(runtime, connection, row, caller):
            raise ApiError(404, f"no media {media_id}")
        return row

    row = await reads.read(read)
    sha256 = row["variants"].get(size, row["sha256"]) if row["kind"] == "picture" else row["sha256"]
    path: Path = media_store(runtime).path(sha256)
    public = row["kind"] == "picture" and row["published_revision"] is not None and row["revision"] <= row["published_revision"]
    headers = {
        "Cache-Control": "public, max-age=31536000, immutable" if public else "private, no-cache",
        "ETag": f'"{sha256}"', "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
    }  # fmt: skip
    if row["kind"] == "picture":
        return FileResponse(path, media_type=row["content_type"], headers=headers)
    return FileResponse(path, media_type=row["content_type"], headers=headers, filename=row["filename"])


def _may_have(runtime: Runtime, connection: Connection, row: dict[str, Any], caller: Caller | None) -> bool:
    owner = caller is not None and caller.organisation_id == row["designer_id"]
    if row["kind"] == "picture":
        published = row["published_revision"] is not None and row["revision"] <= row["published_revision"]
        return published or owner
    if caller is None:
        return False
    if owner or caller.is_(Role.OPERATOR, Role.AUDITOR):
        return True
    return caller.is_(Role.WORKSHOP) and runtime.view(ProductionView).holds_revision(
        connection, caller.organisation_id, row["design_id"], row["revision"]
    )
