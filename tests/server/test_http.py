"""Integration: the real server (uvicorn) on 127.0.0.1, spoken to over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests._support.server import free_port, running_server
from voicehook import ActionRequest, Play, Settings, create_app
from voicehook.cli.loading import load_play
from voicehook.nugu.wire import build_request

ROOT = Path(__file__).resolve().parents[2]


async def _post(url: str, body: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(
            url,
            data=json.dumps(body),
            headers={"content-type": "application/json", **(headers or {})},
        ) as r,
    ):
        return r.status, await r.json(content_type=None)


async def test_weather_over_http_with_prefix_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEATHER_TODAY", "2026-11-22")
    monkeypatch.delenv("WEATHER_UPSTREAM_URL", raising=False)
    app = create_app(
        load_play(str(ROOT / "examples" / "weather")), Settings(prefix="/nugu", api_keys=("k1",))
    )
    with running_server(app) as base:
        body = build_request("answer.weather", {"location": "제주"}, session_id="s1")
        status, data = await _post(
            f"{base}/nugu/answer.weather", body, {"authorization": "token k1"}
        )
        assert status == 200 and data["resultCode"] == "OK"
        assert data["output"]["location"] == "제주"
        status, data = await _post(f"{base}/nugu/answer.weather", body)
        assert status == 401
        async with aiohttp.ClientSession() as s:
            for path in ("/health", "/nugu/health"):
                async with s.get(base + path) as r:
                    assert (r.status, await r.text()) == (200, "OK")
            async with s.get(base + "/metrics") as r:
                text = await r.text()
                assert 'action="answer.weather",result_code="OK"' in text


async def test_deadline_over_http() -> None:
    play = Play("slow")

    @play.action("slow.action")
    async def slow(req: ActionRequest) -> None:
        await asyncio.sleep(5)

    with running_server(create_app(play, Settings(deadline=0.2))) as base:
        started = time.monotonic()
        status, data = await _post(f"{base}/slow.action", build_request("slow.action", {}))
        assert time.monotonic() - started < 2
    assert status == 200 and data["resultCode"] == "BACKEND_TIMEOUT"


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 20) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(
                f"server exited: {proc.stderr.read().decode() if proc.stderr else ''}"
            )
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout} s")


@contextlib.asynccontextmanager
async def _serve(
    play: str, *flags: str, cwd: Path, env: dict[str, str]
) -> AsyncIterator[tuple[str, str]]:
    """Run ``voicehook serve`` as a real process; yields (base URL, health path prefix)."""
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voicehook",
            "serve",
            str(ROOT / "examples" / play),
            "--port",
            str(port),
            *flags,
        ],
        env=env,
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    prefix = flags[flags.index("--prefix") + 1] if "--prefix" in flags else ""
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(_wait_http, f"{base}{prefix}/health", proc)
        yield base, prefix
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("workers", [1, 2])
async def test_voicehook_serve_cli(workers: int, tmp_path: Path) -> None:
    env = dict(os.environ, WEATHER_TODAY="2026-11-22", VOICEHOOK_API_KEYS="")
    env.pop("WEATHER_UPSTREAM_URL", None)
    flags = ("--workers", str(workers), "--prefix", "/nugu")
    async with _serve("weather", *flags, cwd=tmp_path, env=env) as (base, prefix):
        for _ in range(4):
            status, data = await _post(
                f"{base}{prefix}/answer.weather",
                build_request("answer.weather", {"location": "서울", "day": "TODAY"}),
            )
            assert status == 200 and data["resultCode"] == "OK"
        # The default store is opened at start-up (a path that cannot be created stops the
        # start; see tests/hardening/test_health.py).
        assert (tmp_path / "voicehook-state.db").exists()


async def test_serve_keeps_state_in_the_default_sqlite_file(tmp_path: Path) -> None:
    """Without --store, ``serve`` keeps session state in ./voicehook-state.db, created at
    start-up (checked in test_voicehook_serve_cli)."""
    env = dict(os.environ)
    for key in ("VOICEHOOK_STORE", "VOICEHOOK_DEFAULT_STORE"):
        env.pop(key, None)
    async with _serve("quiz", cwd=tmp_path, env=env) as (base, _):
        assert (tmp_path / "voicehook-state.db").exists()  # opened at start-up
        start = build_request("quiz.start", {}, session_id="s-default-store")
        status, data = await _post(f"{base}/quiz.start", start)
        assert status == 200 and data["resultCode"] == "OK", data
        assert data["output"]["number"] == "1"
        answer = build_request("quiz.answer", {"answer": "모름"}, session_id="s-default-store")
        status, data = await _post(f"{base}/quiz.answer", answer)
        assert status == 200 and data["resultCode"] == "OK", data
        assert data["output"]["number"] == "2"  # progress came from the store
        assert (tmp_path / "voicehook-state.db").exists()
