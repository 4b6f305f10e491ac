"""A local Stripe stand-in (localstripe, plus Connect from local_connect.py) for demos and tests, on loopback only.

``python -m vardekedja.local_stripe --port N`` serves localstripe's app on
127.0.0.1 (its own launcher listens on every interface), starting from an
empty store, or with ``--state FILE`` from what it kept there last time (the
demo keeps its payments and payout accounts in the data folder this way, so
``vardekedja demo --local-stripe`` and each ``serve --local-stripe`` see the
same charges and accounts). ``LocalStripe`` starts that as a child process on
a free port, registers a webhook with it and stops it again.
"""

from __future__ import annotations

import argparse
import os
import pickle
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

PUBLISHABLE_KEY = "pk_test_localstripe"
SECRET_KEY = "sk_test_localstripe"


def _die_with_parent() -> None:
    """Linux: the stand-in gets SIGTERM when the process that started it dies, however it dies."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalStripe:
    """A localstripe process on 127.0.0.1, from scratch (or from ``state``, kept there), stopped on exit."""

    def __init__(self, port: int | None = None, *, state: Path | None = None) -> None:
        self.port = port or free_port()
        self.state = state
        self.base = f"http://127.0.0.1:{self.port}"
        self.webhook_secret = "whsec_" + secrets.token_hex(16)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> LocalStripe:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "vardekedja.local_stripe", "--port", str(self.port),
             *(["--state", str(self.state)] if self.state is not None else [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"localstripe exited with {self.process.returncode}")
            try:
                httpx.get(f"{self.base}/js.stripe.com/v3/", timeout=1.0)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"localstripe did not answer on {self.base} within {timeout:.0f}s")

    def register_webhook(self, url: str, events: list[str] | None = None) -> None:
        """Have localstripe sign and send its events to ``url``."""
        data: dict[str, str | list[str]] = {"url": url, "secret": self.webhook_secret}
        if events:
            data["events[]"] = events
        response = httpx.post(f"{self.base}/_config/webhooks/vardekedja", data=data, timeout=5.0)
        response.raise_for_status()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def __enter__(self) -> LocalStripe:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.stop()


# What the Connect stand-in keeps between runs (an idempotency key still running, or failures asked for by a
# test, are not kept).
KEPT_CONNECT = ("accounts", "transfers", "intent_groups", "replies")


def keep_state(path: Path, store: Any, connect: Any) -> None:
    """Load localstripe's store and Connect's state from ``path``, and save both there after every change.

    localstripe saves its store after each write request by calling ``store.dump_to_disk()`` (to a fixed
    file in /tmp); pointed here, the same call writes both to ``path``, whole or not at all.
    """
    if path.exists():
        kept = pickle.loads(path.read_bytes())  # written by this function, in the data folder
        dict.update(store, kept["store"])
        for name in KEPT_CONNECT:
            getattr(connect, name).update(kept["connect"][name])

    def save() -> None:
        draft = path.with_name(path.name + ".new")
        draft.write_bytes(pickle.dumps({"store": dict(store), "connect": {name: getattr(connect, name)
                                                                          for name in KEPT_CONNECT}}))  # fmt: skip
        os.replace(draft, path)

    store.dump_to_disk = save


def main() -> None:
    parser = argparse.ArgumentParser(description="localstripe on 127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, help="keep the stand-in's data in this file across runs")
    args = parser.parse_args()
    from aiohttp import web
    from localstripe.resources import store
    from localstripe.server import app

    from vardekedja.local_connect import install

    connect = install(app, f"http://127.0.0.1:{args.port}")  # Connect, which localstripe lacks (see local_connect.py)
    if args.state is not None:
        keep_state(args.state, store, connect)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
