"""Start a throw-away ``redis-server`` on 127.0.0.1 for integration tests.

Usage::

    from tests._support.redis_server import RedisServer, require_redis_server

    with RedisServer() as server:          # free port, temp dir, no persistence
        url = server.url                   # "redis://127.0.0.1:PORT/0"
        server.stop()                      # simulate an outage ...
        server.start()                     # ... and come back on the same port

A 3-master Redis Cluster (``redis-cli --cluster create``) and a Sentinel setup (a master,
a replica and ``redis-server CONF --sentinel``)::

    with RedisCluster(3) as cluster:       # cluster.url: "redis+cluster://127.0.0.1:P1,..."
        ...
    with RedisSentinel() as setup:         # setup.url: "redis+sentinel://127.0.0.1:P/voicehook"
        setup.master.stop()                # the Sentinel promotes the replica

In pytest, call ``require_redis_server()`` first (``cli=True`` when the test also needs
``redis-cli``): it skips when a binary is missing on a developer's machine, and fails under
CI (``CI`` set to true), where scripts/test installs it.

The helper speaks RESP over a plain socket, so it needs no Redis client package.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

__all__ = [
    "RedisCluster",
    "RedisSentinel",
    "RedisServer",
    "RedisServerError",
    "free_port",
    "redis_cli_binary",
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


def redis_cli_binary() -> str | None:
    """Path of ``redis-cli`` (Debian: package redis-tools, pulled in by redis-server)."""
    return shutil.which("redis-cli")


def command(port: int, *args: str, timeout: float = 2.0) -> bytes:
    """Send one command (RESP) and return the raw reply bytes (one read)."""
    parts = [f"*{len(args)}\r\n".encode()]
    for a in args:
        b = a.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(b), b))
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(b"".join(parts))
        return s.recv(65536)


def require_redis_server(*, cli: bool = False) -> str:
    """The ``redis-server`` path; else skip the test, or fail it when running under CI.

    ``cli=True``: ``redis-cli`` is needed too (the Cluster is made with it).

    A CI machine that lacks the binary would otherwise pass with every Redis test skipped.
    """
    import pytest

    binary = redis_server_binary()
    if binary is not None and (not cli or redis_cli_binary() is not None):
        return binary
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(
            "redis-server or redis-cli is not installed, and CI must run the Redis tests: "
            "scripts/test installs them with apt-get (as root); or set REDIS_SERVER_BIN",
            pytrace=False,
        )
    pytest.skip("redis-server / redis-cli not found (apt-get install redis-server redis-tools)")


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
        self,
        port: int | None = None,
        *,
        binary: str | None = None,
        timeout: float = 10.0,
        args: list[str] | None = None,
        config: str | None = None,
    ) -> None:
        found = binary or redis_server_binary()
        if found is None:
            raise RedisServerError("redis-server binary not found (apt-get install redis-server)")
        self.binary = found
        self._auto_port = port is None
        self.port = port if port is not None else free_port()
        self.timeout = timeout
        self.args = list(args or [])
        self.config = config  # a config file, given first (Sentinel needs a writable one)
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The process id (for SIGSTOP / SIGCONT in outage tests)."""
        if self._proc is None:
            raise RedisServerError("the server is not running")
        return self._proc.pid

    @property
    def dir(self) -> str:
        """The server's temp dir (its log and config files)."""
        if self._dir is None:
            raise RedisServerError("the server was never started")
        return self._dir.name

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
        args = [self.binary, *([self.config] if self.config else [])]
        args += ["--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
        args += ["--dir", self._dir.name, "--logfile", log, *self.args]
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


def _cluster_port() -> int:
    """A free port P whose cluster bus port P + 10000 is free too."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        ok = True
        for p in (port, port + 10000):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return port
    raise RedisServerError("no free port pair for a cluster node")


class RedisCluster:
    """A Redis Cluster of ``masters`` nodes on 127.0.0.1 (no replicas), made with
    ``redis-cli --cluster create``. ``url`` is ``redis+cluster://127.0.0.1:P1,...``."""

    def __init__(self, masters: int = 3, *, timeout: float = 30.0) -> None:
        self.masters = masters
        self.timeout = timeout
        self.nodes: list[RedisServer] = []

    @property
    def url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{n.port}" for n in self.nodes)

    def start(self) -> RedisCluster:
        cli = redis_cli_binary()
        if cli is None:
            raise RedisServerError("redis-cli not found (apt-get install redis-tools)")
        try:
            for _ in range(self.masters):
                node = RedisServer(
                    _cluster_port(),
                    args=["--cluster-enabled", "yes", "--cluster-node-timeout", "5000"],
                )
                node.start()
                self.nodes.append(node)
            hosts = [f"127.0.0.1:{n.port}" for n in self.nodes]
            subprocess.run(
                [cli, "--cluster", "create", *hosts, "--cluster-replicas", "0", "--cluster-yes"],
                check=True,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
            )
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                if all(
                    b"cluster_state:ok" in command(n.port, "CLUSTER", "INFO") for n in self.nodes
                ):
                    return self
                time.sleep(0.1)
            raise RedisServerError(f"the cluster did not reach state ok in {self.timeout} s")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for node in self.nodes:
            node.close()
        self.nodes = []

    def __enter__(self) -> RedisCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()


class RedisSentinel:
    """A master, one replica and one Sentinel watching them (quorum 1), on 127.0.0.1.

    ``url`` is ``redis+sentinel://127.0.0.1:SENTINEL_PORT/SERVICE``. Stop the master to see
    a failover (``down_after`` ms later the Sentinel promotes the replica).
    """

    def __init__(
        self, service: str = "voicehook", *, down_after: int = 1000, timeout: float = 30.0
    ) -> None:
        self.service = service
        self.down_after = down_after
        self.timeout = timeout
        self.master: RedisServer | None = None
        self.replica: RedisServer | None = None
        self.sentinel: RedisServer | None = None

    @property
    def url(self) -> str:
        assert self.sentinel is not None
        return f"redis+sentinel://127.0.0.1:{self.sentinel.port}/{self.service}"

    def master_port(self) -> int:
        """The master's port as the Sentinel reports it now."""
        assert self.sentinel is not None
        reply = command(
            self.sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.service
        ).split(b"\r\n")
        return int(reply[4])

    def start(self) -> RedisSentinel:
        try:
            self.master = RedisServer().start()
            self.replica = RedisServer(
                args=["--replicaof", "127.0.0.1", str(self.master.port)]
            ).start()
            port = free_port()
            conf_dir = tempfile.mkdtemp(prefix="voicehook-sentinel-")
            conf = os.path.join(conf_dir, "sentinel.conf")
            with open(conf, "w", encoding="utf-8") as f:
                f.write(
                    f"sentinel monitor {self.service} 127.0.0.1 {self.master.port} 1\n"
                    f"sentinel down-after-milliseconds {self.service} {self.down_after}\n"
                    f"sentinel failover-timeout {self.service} 5000\n"
                    f"sentinel parallel-syncs {self.service} 1\n"
                )
            self._conf_dir = conf_dir
            # redis-server CONF --sentinel: Debian's redis-server binary runs Sentinel too.
            self.sentinel = RedisServer(port, args=["--sentinel"], config=conf).start()
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                info = command(self.master.port, "INFO", "replication")
                if b"connected_slaves:1" in info:
                    return self
                time.sleep(0.1)
            raise RedisServerError("the replica did not connect to the master in time")
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        for s in (self.sentinel, self.replica, self.master):
            if s is not None:
                s.close()
        self.sentinel = self.replica = self.master = None
        if getattr(self, "_conf_dir", None):
            shutil.rmtree(self._conf_dir, ignore_errors=True)

    def __enter__(self) -> RedisSentinel:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
