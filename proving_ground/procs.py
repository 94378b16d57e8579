"""Processes, ports and waits: the few primitives every component of the ground is built from.

Every process the ground starts is recorded by pid together with a marker from its command line,
so that stopping it later can never hit an unrelated process that reused the pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class GroundError(RuntimeError):
    """A component could not be brought up or checked; the message says what to do."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(argv: Sequence[str], log_path: Path, env: dict[str, str] | None = None) -> int:
    """Start a long-lived process detached from the caller, its output going to `log_path`."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, **(env or {})},
        )
    # Right after fork, /proc/<pid>/cmdline is briefly empty or still the parent's; return only
    # once the child has become the program, so a marker check made at once cannot miss it.
    expected = " ".join(argv)
    wait_until(
        lambda: proc.poll() is not None or cmdline(proc.pid).strip() == expected,
        10.0,
        f"{argv[0]} to start",
    )
    return proc.pid


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def is_running(pid: int | None, marker: str) -> bool:
    """True when `pid` is alive and is still the process that was started (its command line
    contains `marker`), not a zombie and not a stranger that inherited the number."""
    if not pid:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z" and marker in cmdline(pid)


def stop(pid: int | None, marker: str, timeout: float = 15.0) -> bool:
    """SIGTERM, then SIGKILL after `timeout`. Returns whether a process of ours was stopped."""
    if not is_running(pid, marker):
        return False
    assert pid is not None

    def gone() -> bool:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it if it is our own child
        return not is_running(pid, marker)

    os.kill(pid, signal.SIGTERM)
    try:
        wait_until(gone, timeout, f"pid {pid} to exit after SIGTERM")
    except GroundError:
        os.kill(pid, signal.SIGKILL)
        wait_until(gone, 5.0, f"pid {pid} to exit after SIGKILL")
    return True


def wait_until(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll `predicate` until it returns something truthy; fail with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    delay = 0.02
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() >= deadline:
            raise GroundError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 1.5, 0.5)


def http_get(url: str, timeout: float = 2.0) -> tuple[int, bytes]:
    """GET `url`; (0, b"") when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()
    except (urllib.error.URLError, OSError):
        return 0, b""


def tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


class Served:
    """An HTTP handler served on 127.0.0.1 from a thread of this process: the stand-ins tests
    start for one test (the OIDC token service, the CloudFormation double)."""

    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
