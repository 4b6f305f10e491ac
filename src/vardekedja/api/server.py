"""How ``vardekedja serve`` runs uvicorn: limits on what a connection may hold, and parser errors as problems.

uvicorn's httptools protocol accepts headers of any size (64 MiB were taken
whole), keeps a connection that never completes its request head open
forever (only the idle time after a response is bounded), and answers a
request it cannot parse with plain text. ``GuardedHttpToolsProtocol`` adds:

- a bound on the request line and headers together
  (``VARDEKEDJA_MAX_HEADER_BYTES``), answered 431 as ``application/problem+json``;
- a time within which a request head must arrive completely, from the moment
  the connection opens or the previous response was sent
  (``VARDEKEDJA_REQUEST_HEAD_TIMEOUT``); a slow or silent client is disconnected;
- problem+json instead of plain text for requests the parser refuses (400).

A reverse proxy in front should still bound what these do not: the time to
send a body, the number of connections per client, and request rates.
"""

from __future__ import annotations

import functools
import json
from asyncio import TimerHandle, Transport
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from vardekedja.settings import Settings

GRACEFUL_SHUTDOWN_SECONDS = 30
# With --workers, uvicorn pings each worker and kills one that does not answer within this time. Its
# default (5 s) killed workers still starting (imports, the runtime, the views' catch-up) on a busy
# 2-core machine, again and again; a worker that is really hung is still replaced, a minute later.
WORKER_HEALTHCHECK_SECONDS = 60


@functools.cache
def _settings() -> Settings:
    """Read once per server process, at its first connection (uvicorn makes the protocol, not us)."""
    return Settings()


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into a parser error, answered 431 (see below)."""


def problem_bytes(status: int, title: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response carrying a problem document, closing the connection."""
    kind = title.lower().replace(" ", "-")
    body = json.dumps({"type": f"urn:vardekedja:problem:{kind}", "title": title, "status": status,
                       "detail": detail}).encode()  # fmt: skip
    return b"".join([
        f"HTTP/1.1 {status} {title}\r\n".encode(),
        b"content-type: application/problem+json\r\n",
        b"content-length: " + str(len(body)).encode() + b"\r\n",
        b"connection: close\r\n\r\n",
        body,
    ])  # fmt: skip


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        settings = _settings()
        self.max_head_bytes, self.head_timeout = settings.max_header_bytes, settings.request_head_timeout
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer: TimerHandle | None = None

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.logger.info("closing a connection whose request head did not arrive within %.0fs", self.head_timeout)
            self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._head_bytes = 0
        if self._head_timer is None:  # a pipelined request: its head is bounded too
            self._arm_head_timer()

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.max_head_bytes:
            self._head_too_large = True
            raise _HeadTooLarge

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and not self.pipeline:
            self._arm_head_timer()  # the next request's head, bounded like the first (after keep-alive's own)

    def send_400_response(self, msg: str) -> None:
        self._disarm_head_timer()
        if self._head_too_large:
            response = problem_bytes(431, "Request Header Fields Too Large",
                                     f"the request line and headers are over the {self.max_head_bytes // 1024} KiB "
                                     "limit")  # fmt: skip
        else:
            response = problem_bytes(400, "Bad Request", "the HTTP request could not be parsed")
        self.transport.write(response)
        self.transport.close()


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """What ``vardekedja serve`` passes to uvicorn besides the app, host, port and workers."""
    return {
        "loop": "uvloop", "http": GuardedHttpToolsProtocol, "proxy_headers": False, "server_header": False,
        "log_level": "info", "timeout_keep_alive": settings.keep_alive_timeout,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "timeout_worker_healthcheck": WORKER_HEALTHCHECK_SECONDS,
    }  # fmt: skip
