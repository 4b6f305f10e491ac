"""Request bodies over 1 MiB are refused with 413 as ``application/problem+json``.

Starlette's own limiter (``max_body_size``) answers with a plain-text body,
which would break the API's promise that every error is a problem document,
so this limiter raises an ``HTTPException`` instead: FastAPI passes that on
unchanged while reading a body, and the problem handler formats it.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vardekedja.api.problems import problem

TOO_LARGE = "the request body is over the 1 MiB limit"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length" and value.isdigit() and int(value) > self.max_body:
                await problem(413, TOO_LARGE)(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:
                raise HTTPException(413, TOO_LARGE)
            return message

        await self.app(scope, limited, send)
