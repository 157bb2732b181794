"""Fixtures for the console tests: a real ``voicehook console`` process and headless Chromium.

The browser is Debian's ``chromium`` (scripts/test installs it), driven by Playwright's
Python package through ``executable_path``: Playwright never downloads a browser here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests._support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("VOICEHOOK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class Console:
    """A running ``voicehook console`` on 127.0.0.1."""

    def __init__(self, proc: subprocess.Popen[bytes], url: str, folder: Path, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.folder = folder
        self.log = log

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")


def start_console(folder: Path, tmp: Path, *extra: str) -> Console:
    port = free_port()
    log = tmp / f"console-{port}.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "voicehook",
                "console",
                str(folder),
                "--port",
                str(port),
                *extra,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"voicehook console exited: {log.read_text()}")
        try:
            with urllib.request.urlopen(url + "/api/status", timeout=2) as resp:
                if resp.status == 200:
                    break
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"voicehook console did not start: {log.read_text()}")
        time.sleep(0.1)
    return Console(proc, url, folder, log)


def stop_console(console: Console) -> None:
    console.proc.terminate()
    try:
        console.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        console.proc.kill()
        console.proc.wait(timeout=5)


@pytest.fixture
def weather_copy(tmp_path: Path) -> Path:
    """examples/weather copied, so that saving and editing never touch the repository."""
    folder = tmp_path / "weather"
    shutil.copytree(ROOT / "examples" / "weather", folder)
    return folder


@pytest.fixture
def console(weather_copy: Path, tmp_path: Path) -> Iterator[Console]:
    c = start_console(weather_copy, tmp_path, "--seed", "5")
    try:
        yield c
    finally:
        stop_console(c)


def _need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install -e '.[dev]')")
    if missing:
        message = "the browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)  # scripts/test installs both: in CI this is a real failure
        pytest.skip(message)


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    _need_browser()
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1360, "height": 900},
            locale="ko-KR",
        )
        context.set_default_timeout(20_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    page = browser_context.new_page()
    try:
        yield page
    finally:
        page.close()
