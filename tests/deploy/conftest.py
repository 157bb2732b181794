"""Helpers for the multi-process tests: real ``voicehook serve`` processes on 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.redis_server import (
    RedisCluster,
    RedisSentinel,
    RedisServer,
    free_port,
    require_redis_server,
)

ROOT = Path(__file__).resolve().parents[2]
QUIZ = ROOT / "examples" / "quiz"


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEHOOK_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    return env


class Served:
    """One ``voicehook serve`` process."""

    def __init__(self, proc: subprocess.Popen[bytes], port: int, log: Path) -> None:
        self.proc = proc
        self.port = port
        self.log = log
        self.url = f"http://127.0.0.1:{port}"

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def health(port: int) -> int | None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def serve(tmp: Path, store: str, *extra: str, play: Path = QUIZ, name: str = "server") -> Served:
    """Start ``voicehook serve PLAY --store STORE`` on a free port; wait for /health 200."""
    if "MUTANT_UNDER_TEST" in os.environ:
        # Under mutmut every function is wrapped, and uvicorn in the child takes the wrapped
        # app for an app factory; the in-process tests cover the mutated code instead.
        pytest.skip("voicehook serve cannot run mutmut's wrapped code in a child process")
    port = free_port()
    log = tmp / f"{name}-{port}.log"
    cmd = [sys.executable, "-m", "voicehook", "serve", str(play), "--port", str(port)]
    cmd += ["--store", store, "--log-level", "warning", *extra]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=tmp, env=child_env(), stdout=out, stderr=subprocess.STDOUT)
    served = Served(proc, port, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"voicehook serve exited:\n{served.log_tail()}")
        if health(port) == 200:
            return served
        time.sleep(0.1)
    served.stop()
    raise RuntimeError(f"voicehook serve did not become healthy:\n{served.log_tail()}")


@contextlib.contextmanager
def two_servers(tmp: Path, store: str) -> Iterator[tuple[Served, Served]]:
    a = serve(tmp, store, name="A")
    try:
        b = serve(tmp, store, name="B")
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    require_redis_server()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="module")
def redis_cluster() -> Iterator[RedisCluster]:
    require_redis_server(cli=True)
    with RedisCluster(3) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def redis_sentinel() -> Iterator[RedisSentinel]:
    require_redis_server(cli=True)
    with RedisSentinel() as sentinel:
        yield sentinel


@pytest.fixture(params=["redis", "redis-cluster", "redis-sentinel", "sqlite"])
def shared_store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL that two processes can share: one Redis server, a 3-master Redis
    Cluster, the master named by a Sentinel, or one SQLite file."""
    prefix = f"?prefix=deploy-{os.getpid()}-{time.monotonic_ns()}:"
    if request.param == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return server.url + prefix
    if request.param == "redis-cluster":
        cluster: RedisCluster = request.getfixturevalue("redis_cluster")
        return cluster.url + prefix
    if request.param == "redis-sentinel":
        sentinel: RedisSentinel = request.getfixturevalue("redis_sentinel")
        return sentinel.url + prefix
    return f"sqlite:///{tmp_path / 'shared.db'}"
