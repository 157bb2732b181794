"""Starting the botbuilder-python 4.17.1 bots of this folder in their own environment.

The environment is made (once, cached) by ``scripts/botbuilder-venv``; ``scripts/test``
runs it before the tests, and :func:`botbuilder_python` runs it when a test needs it first.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


@cache
def botbuilder_python() -> str:
    """The python of the botbuilder environment (created on first use, ~40 s)."""
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "botbuilder-venv")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.stdout.strip().splitlines()[-1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the bot exited with {proc.returncode} before listening")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@contextmanager
def run_bot(script: str, *args: str, port: int | None = None) -> Iterator[str]:
    """Run ``script`` (a file of this folder) with ``--port``; yields its messaging URL."""
    port = port or free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("VIRTUAL_ENV")}
    proc = subprocess.Popen(
        [botbuilder_python(), str(HERE / script), "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
        env=env,
    )
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}/api/messages"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
