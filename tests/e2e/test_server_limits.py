"""``vardekedja serve`` bounds what one connection may hold: header size, a request head that never
completes, an idle connection; and what its HTTP parser refuses is answered as a problem document."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from tests.e2e.server import HOST, ServerProcess, clean_environment, free_port, vardekedja
from tests.e2e.test_server import OPERATOR_KEY, cli

HEAD_TIMEOUT, KEEP_ALIVE, MAX_HEADER_BYTES = 3, 2, 16 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    folder = tmp_path_factory.mktemp("limits")
    env = clean_environment(folder / "var", VARDEKEDJA_OPERATOR_KEY=OPERATOR_KEY,
                            VARDEKEDJA_REQUEST_HEAD_TIMEOUT=str(HEAD_TIMEOUT),
                            VARDEKEDJA_KEEP_ALIVE_TIMEOUT=str(KEEP_ALIVE),
                            VARDEKEDJA_MAX_HEADER_BYTES=str(MAX_HEADER_BYTES))  # fmt: skip
    cli("init", env=env)
    port = free_port()
    with ServerProcess([vardekedja(), "serve", "--port", str(port)], env=env, port=port,
                       log=folder / "server.log") as running:  # fmt: skip
        running.wait_until_ready()
        yield running


def connect(server: ServerProcess) -> socket.socket:
    sock = socket.create_connection((HOST, server.port), timeout=HEAD_TIMEOUT + 10)
    return sock


def read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def problem_of(response: bytes) -> tuple[int, dict[str, str], dict[str, object]]:
    head, _, body = response.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {name.lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])}
    return status, headers, json.loads(body)


def test_headers_over_the_limit_are_refused_with_431_as_a_problem(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        filler = b"X-Filler: " + b"a" * 1000 + b"\r\n"
        try:
            for _ in range(2 * MAX_HEADER_BYTES // len(filler)):
                sock.sendall(filler)
        except (BrokenPipeError, ConnectionResetError):
            pass
        status, headers, body = problem_of(read_all(sock))

    assert status == 431
    assert headers["content-type"] == "application/problem+json"
    assert body["status"] == 431


def test_a_request_the_parser_refuses_is_answered_as_a_problem(server: ServerProcess) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost x\r\n\r\n")
        status, headers, body = problem_of(read_all(sock))

    assert status == 400
    assert headers["content-type"] == "application/problem+json"
    assert body["title"] == "Bad Request"


def test_a_connection_that_never_completes_its_request_head_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        # A header every few seconds keeps a naive server waiting forever.
        try:
            for number in range(int(HEAD_TIMEOUT) + 5):
                sock.sendall(f"X-Slow-{number}: 1\r\n".encode())
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert read_all(sock) == b""
        waited = time.monotonic() - started

    assert HEAD_TIMEOUT - 1 <= waited <= HEAD_TIMEOUT + 4


def test_a_connection_that_sends_nothing_is_closed(server: ServerProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        assert read_all(sock) == b""
        waited = time.monotonic() - started

    assert waited <= HEAD_TIMEOUT + 4


def test_an_idle_keep_alive_connection_is_closed_after_its_timeout(server: ServerProcess) -> None:
    with connect(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answered = read_all(sock)  # the answer, then nothing until the server closes the connection
        waited = time.monotonic() - started

    assert answered.startswith(b"HTTP/1.1 200") and answered.endswith(b'{"status":"ok"}')

    assert waited <= KEEP_ALIVE + 3
