"""Start a throw-away ``redis-server`` on 127.0.0.1 for integration tests.

Usage::

    from tests._support.redis_server import RedisServer, require_redis_server

    with RedisServer() as server:          # free port, temp dir, no persistence
        url = server.url                   # "redis://127.0.0.1:PORT/0"
        server.stop()                      # simulate an outage ...
        server.start()                     # ... and come back on the same port

In pytest, call ``require_redis_server()`` first: it skips when the binary is missing on a
developer's machine, and fails under CI (``CI`` set to true), where scripts/test installs it.

The helper speaks RESP over a plain socket, so it needs no Redis client package.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

__all__ = [
    "RedisServer",
    "RedisServerError",
    "free_port",
    "redis_server_binary",
    "require_redis_server",
]


class RedisServerError(RuntimeError):
    """The server did not start or did not answer PING in time."""


def redis_server_binary() -> str | None:
    """Path of the ``redis-server`` binary, or ``None`` when it is not installed."""
    env = os.environ.get("REDIS_SERVER_BIN")
    if env:
        return env if os.access(env, os.X_OK) else None
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


def require_redis_server() -> str:
    """The ``redis-server`` path; else skip the test, or fail it when running under CI.

    A CI machine that lacks the binary would otherwise pass with every Redis test skipped.
    """
    import pytest

    binary = redis_server_binary()
    if binary is not None:
        return binary
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(
            "redis-server is not installed, and CI must run the Redis tests: scripts/test "
            "installs it with apt-get (as root); or set REDIS_SERVER_BIN",
            pytrace=False,
        )
    pytest.skip("redis-server binary not found (apt-get install redis-server)")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ping(port: int, timeout: float = 0.5) -> bool:
    """True if something on ``port`` answers ``PING`` with ``+PONG``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            return s.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """One ``redis-server`` process bound to 127.0.0.1, without persistence.

    ``port`` is picked once (a free port) and kept across :meth:`stop` / :meth:`start`, so
    clients can test reconnecting. Use as a context manager or call :meth:`start` and
    :meth:`close`.
    """

    def __init__(
        self, port: int | None = None, *, binary: str | None = None, timeout: float = 10.0
    ) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise RedisServerError("redis-server binary not found (apt-get install redis-server)")
        self.binary = found
        self._auto_port = port is None
        self.port = port if port is not None else free_port()
        self.timeout = timeout
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def running(self) -> bool:
        """True while the process is alive."""
        return self._proc is not None and self._proc.poll() is None

    def start(self) -> RedisServer:
        """Start the server (on the same port as before) and wait until it answers PING."""
        if self.running:
            return self
        if self._auto_port and self._dir is None:
            # First start on a port we picked: another process may have taken it meanwhile.
            for _ in range(3):
                try:
                    return self._start()
                except RedisServerError:
                    self.port = free_port()
        return self._start()

    def _start(self) -> RedisServer:
        if self._dir is None:
            self._dir = tempfile.TemporaryDirectory(prefix="voicehook-redis-")
        log = os.path.join(self._dir.name, "redis.log")
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        args += ["--dir", self._dir.name, "--logfile", log]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                break
            if ping(self.port):
                return self
            time.sleep(0.02)
        self.stop()
        detail = ""
        with contextlib.suppress(OSError), open(log, encoding="utf-8", errors="replace") as f:
            detail = f.read()[-2000:]
        raise RedisServerError(
            f"redis-server on 127.0.0.1:{self.port} did not answer PING within "
            f"{self.timeout} s. Log tail:\n{detail}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL). The port and temp dir are kept."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        # Wait until the port no longer answers, so a following test sees the outage.
        deadline = time.monotonic() + 5
        while ping(self.port, timeout=0.1) and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        """Stop the server and delete its temp dir."""
        self.stop()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
