"""A real ``voicehook serve`` process on 127.0.0.1 for the hardening tests."""

from __future__ import annotations

import http.client
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests._support.redis_server import free_port

ROOT = Path(__file__).resolve().parents[2]
QUIZ = ROOT / "examples" / "quiz"
WEATHER = ROOT / "examples" / "weather"

NUGU_BODY = json.dumps(
    {
        "version": "2.0",
        "action": {"actionName": "quiz.start", "parameters": {}},
        "context": {"session": {"id": "hardening-1", "isNew": True}, "device": {"type": "x"}},
    }
).encode()


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEHOOK_")}
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    return env


class Server:
    """One ``voicehook serve`` process; ``log`` holds its stderr."""

    def __init__(
        self,
        tmp: Path,
        *args: str,
        play: Path = QUIZ,
        nofile: int | None = None,
        cmd: list[str] | None = None,
        preexec: Callable[[], None] | None = None,
        env_extra: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.port = free_port()
        self.log = tmp / f"serve-{self.port}.log"
        base = [sys.executable, "-m", "voicehook", "serve", str(play)]
        command = (cmd or base) + ["--port", str(self.port), "--log-level", "info", *args]
        env = child_env()
        env.update(env_extra or {})

        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
            if preexec is not None:
                preexec()

        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                command,
                cwd=cwd or tmp,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=limit,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"voicehook serve exited:\n{self.log_text()}")
            if self.health() == 200:
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"voicehook serve did not start:\n{self.log_text()}")

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def health(self, timeout: float = 2.0) -> int | None:
        return self.get("/health", timeout)

    def get(self, path: str, timeout: float = 2.0) -> int | None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            return resp.status
        except (OSError, http.client.HTTPException):
            return None
        finally:
            conn.close()

    def post(
        self, path: str, body: bytes, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request(
                "POST", path, body, {"Content-Type": "application/json", **(headers or {})}
            )
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)

    def rss_mb(self) -> float:
        with open(f"/proc/{self.proc.pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
