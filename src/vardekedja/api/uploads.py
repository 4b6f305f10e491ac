"""A multipart upload of one file, read as it streams: hashed and written to disk chunk by chunk.

Nothing holds the whole file in memory, and the size limit is enforced as the
bytes arrive (the ``kind`` field, sent before the file as browsers send form
fields in order, sets the limit; before it is known the larger one applies,
and the right one is checked again at the end). The app's 1 MiB body limit
does not apply to these routes (see ``limits.py``); the largest upload does.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from vardekedja.api.problems import ApiError
from vardekedja.media import SNIFF_BYTES, MediaError, MediaStore, limit_for

MAX_FIELD_BYTES = 1000


@dataclass
class Upload:
    fields: dict[str, str] = field(default_factory=dict)
    filename: str | None = None
    path: Path | None = None
    size: int = 0
    sha256: str = ""
    head: bytes = b""

    def discard(self) -> None:
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_upload(request: Request, store: MediaStore) -> Upload:
    """The form's fields and its one file (written under the store's incoming folder); 413/422 as it streams."""
    content_type, options = parse_options_header(request.headers.get("content-type", ""))
    boundary = options.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise ApiError(422, "send the file as multipart/form-data with the fields kind and file")
    upload, hasher = Upload(), hashlib.sha256()
    part: dict[str, object] = {}
    headers: dict[bytes, bytes] = {}
    name: list[bytes] = []
    value: list[bytes] = []
    out = None

    def on_part_begin() -> None:
        headers.clear()
        part.clear()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        name.append(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        value.append(data[start:end])

    def on_header_end() -> None:
        headers[b"".join(name).lower()] = b"".join(value).strip()
        name.clear()
        value.clear()

    def on_headers_finished() -> None:
        nonlocal out
        _, disposition = parse_options_header(headers.get(b"content-disposition", b""))
        part["name"] = disposition.get(b"name", b"").decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if filename is None:
            part["value"] = bytearray()
            return
        if upload.path is not None:
            raise MediaError(422, "send one file at a time")
        upload.filename = filename.decode("utf-8", "replace")
        out = store.temporary()
        upload.path = Path(out.name)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if "value" in part:
            buffer = part["value"]
            assert isinstance(buffer, bytearray)
            buffer.extend(chunk)
            if len(buffer) > MAX_FIELD_BYTES:
                raise MediaError(422, f"the field {part['name']} is too long")
            return
        assert out is not None
        upload.size += len(chunk)
        if upload.size > limit_for(upload.fields.get("kind")):
            raise MediaError(413, _too_large(upload.fields.get("kind")))
        if len(upload.head) < SNIFF_BYTES:
            upload.head += chunk[: SNIFF_BYTES - len(upload.head)]
        hasher.update(chunk)
        out.write(chunk)

    def on_part_end() -> None:
        if "value" in part:
            buffer = part["value"]
            assert isinstance(buffer, bytearray)
            upload.fields[str(part["name"])] = buffer.decode("utf-8", "replace")

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field, "on_header_value": on_header_value,
        "on_header_end": on_header_end, "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })  # fmt: skip
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except MediaError as error:
        upload.discard()
        raise ApiError(error.status, str(error)) from None
    except (ClientDisconnect, HTTPException):  # gone, or over the route's body limit (limits.py)
        upload.discard()
        raise
    except Exception:  # noqa: BLE001 - python-multipart raises several kinds for a malformed body
        upload.discard()
        raise ApiError(422, "the multipart body could not be read") from None
    finally:
        if out is not None:
            out.flush()
            os.fsync(out.fileno())
            out.close()
    if upload.path is None:
        raise ApiError(422, "send the file in the field file")
    if upload.size > limit_for(upload.fields.get("kind")):
        upload.discard()
        raise ApiError(413, _too_large(upload.fields.get("kind")))
    upload.sha256 = hasher.hexdigest()
    return upload


def _too_large(kind: str | None) -> str:
    return "a picture is at most 10 MiB" if kind == "picture" else "a production file is at most 50 MiB"
