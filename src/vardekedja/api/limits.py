"""Request bodies over 1 MiB are refused with 413, and JSON bodies not in UTF-8 with 422, as problems.

Starlette's own limiter (``max_body_size``) answers with a plain-text body,
which would break the API's promise that every error is a problem document,
so this limiter raises an ``HTTPException`` instead: FastAPI passes that on
unchanged while reading a body, and the problem handler formats it.
"""

from __future__ import annotations

import codecs
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vardekedja.api.problems import problem

TOO_LARGE = "the request body is over the 1 MiB limit"
NOT_UTF8 = "a JSON body must be UTF-8 without a byte order mark (RFC 8259)"


def _is_json(headers: list[tuple[bytes, bytes]]) -> bool:
    """A body FastAPI would read as JSON: no content type, or application/json or application/*+json."""
    for name, value in headers:
        if name == b"content-type":
            kind = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or (kind.startswith(b"application/") and kind.endswith(b"+json"))
    return True


# Uploads stream to disk under their own, larger limit (the largest file plus room for the form around it);
# the upload route enforces each kind's own limit as the bytes arrive (api/uploads.py).
UPLOAD_PATH = re.compile(r"^/v1/designs/[^/]+/media$")
UPLOAD_MAX_BODY = (50 << 20) + (64 << 10)
UPLOAD_TOO_LARGE = "the upload is over the 50 MiB limit"


def is_upload(scope: Scope) -> bool:
    return scope["method"] == "POST" and UPLOAD_PATH.match(scope["path"]) is not None


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, too_large = (UPLOAD_MAX_BODY, UPLOAD_TOO_LARGE) if is_upload(scope) else (self.max_body, TOO_LARGE)
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await problem(413, too_large)(scope, receive, send)
                return
        received = 0
        # Python's json module guesses UTF-16 and UTF-32 from the bytes and skips a UTF-8 byte order
        # mark; JSON exchanged between systems is UTF-8 (RFC 8259 §8.1), so anything else is refused.
        decoder = codecs.getincrementaldecoder("utf-8")("strict") if _is_json(scope["headers"]) else None

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            chunk = message.get("body", b"")
            if decoder is not None and chunk:
                if received == 0 and chunk.startswith(codecs.BOM_UTF8):
                    raise HTTPException(400, NOT_UTF8)
                try:
                    decoder.decode(chunk, final=not message.get("more_body", False))
                except UnicodeDecodeError:
                    raise HTTPException(400, NOT_UTF8) from None
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, too_large)
            return message

        await self.app(scope, limited, send)
