"""A client that repeats a request the moment its answer arrives gets that answer again: the answer leaves the
server only once it is remembered (it used to leave first, so a quick repeat on a busy server found the key
"still being processed" and got 409)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from starlette.types import Message, Receive, Scope, Send

from tests.api.conftest import OPERATOR_KEY
from tests.api.support import org_number
from vardekedja.api import create_app
from vardekedja.api.idempotency import IdempotencyStore
from vardekedja.runtime import Runtime


def test_an_answer_leaves_only_once_it_is_remembered(runtime: Runtime, monkeypatch: Any) -> None:
    happened: list[str] = []
    remember = IdempotencyStore.complete

    def complete(self: IdempotencyStore, *args: Any, **kwargs: Any) -> None:
        remember(self, *args, **kwargs)
        happened.append("remembered")

    monkeypatch.setattr(IdempotencyStore, "complete", complete)
    app = create_app(runtime=runtime)

    async def watching(scope: Scope, receive: Receive, send: Send) -> None:
        async def watched(message: Message) -> None:
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                happened.append("answered")
            await send(message)

        await app(scope, receive, watched)

    body = {"name": "Fittja Snickeri", "role": "workshop", "org_number": org_number(), "municipality": "Botkyrka",
            "capabilities": ["carpentry"], "service_area": ["Botkyrka"]}  # fmt: skip
    headers = {"Authorization": f"Bearer {OPERATOR_KEY}", "Idempotency-Key": "register-fittja"}
    with TestClient(watching) as client:
        first = client.post("/v1/organisations", json=body, headers=headers)
        again = client.post("/v1/organisations", json=body, headers=headers)

    assert first.status_code == 201, first.text
    assert (again.status_code, again.json(), again.headers.get("idempotent-replayed")) == (201, first.json(), "true")
    assert happened == ["remembered", "answered", "answered"]
