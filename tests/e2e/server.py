"""A server as a real process on a free loopback port, always stopped: for end-to-end tests and benchmarks.

    with ServerProcess([vardekedja(), "serve", "--port", str(port)], env=env, port=port, log=path) as server:
        server.wait_until_ready()
        httpx.get(server.url + "/healthz")

Stopping sends SIGTERM, waits, then SIGKILL. On Linux the child also gets
SIGTERM if this process dies first, so a killed test run leaves no server behind.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

HOST = "127.0.0.1"


def free_port() -> int:
    """A port that was free on the loopback interface a moment ago (bind to 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def vardekedja() -> str:
    """The console script installed beside this interpreter."""
    return str(Path(sys.executable).parent / "vardekedja")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class ServerProcess:
    def __init__(self, argv: list[str], *, env: dict[str, str], port: int, log: Path) -> None:
        self.argv = argv
        self.env = env
        self.port = port
        self.url = f"http://{HOST}:{port}"
        self.log_path = log
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )  # fmt: skip
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        self.stop()

    def wait_until_ready(self, path: str = "/readyz", timeout: float = 60.0) -> None:
        """Poll ``path`` until it answers 200; fail with the server's log if it exits or never does."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(self.url + path, timeout=1.0).status_code == 200:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"the server was not ready within {timeout:.0f}s:\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, then SIGKILL if it has not exited within ``timeout``; the exit code (None if killed)."""
        process = self.process
        if process is None or process.poll() is not None:
            return None if process is None else process.returncode
        process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=timeout)
            return None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""


def clean_environment(data_dir: Path, **settings: str) -> dict[str, str]:
    """This process's environment without any Värdekedja or Stripe settings, plus the given ones."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("VARDEKEDJA_", "STRIPE_"))}  # fmt: skip
    env["VARDEKEDJA_DATA_DIR"] = str(data_dir)
    env.update(settings)
    return env
