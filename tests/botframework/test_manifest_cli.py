"""The skill manifest, and ``voicehook serve --botframework`` / ``voicehook manifest`` as
real processes."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests._support.server import free_port, running_server
from voicehook import Settings, create_app
from voicehook.botframework.manifest import SCHEMA_URL, ManifestChannel, build_manifest
from voicehook.server.routing import Route
from voicehook.store import MemoryStore

from ._play import make_play
from .keys import SKILL_APP_ID

ROOT = Path(__file__).resolve().parents[2]
GUID = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")


def check_v22(manifest: dict[str, Any]) -> None:
    """The rules of skill-manifest v2.2 that a generator can get wrong."""
    for key in ("$id", "$schema", "name", "version", "publisherName", "endpoints"):
        assert isinstance(manifest[key], str | list), key
    allowed = {
        "$schema", "$id", "name", "version", "description", "publisherName", "privacyUrl",
        "copyright", "license", "iconUrl", "tags", "endpoints", "dispatchModels",
        "activities", "activitiesSent", "definitions",
    }  # fmt: skip
    assert set(manifest) <= allowed
    assert manifest["endpoints"]
    for ep in manifest["endpoints"]:
        assert set(ep) <= {"name", "protocol", "description", "endpointUrl", "msAppId"}
        assert {"name", "endpointUrl", "msAppId"} <= set(ep)
        assert GUID.match(ep["msAppId"])
    for act in manifest["activities"].values():
        if act["type"] in ("event", "invoke"):
            assert set(act) <= {"type", "name", "description", "value", "resultValue"}
            assert "name" in act
        elif act["type"] == "message":
            assert set(act) <= {"type", "description", "value", "resultValue"}
    if "dispatchModels" in manifest:
        assert set(manifest["dispatchModels"]) <= {"languages", "intents"}
    json.dumps(manifest)


def test_manifest_from_a_play() -> None:
    m = build_manifest(make_play().definition, endpoint_url="https://bot.example/api/messages")
    check_v22(m)
    assert m["$schema"] == SCHEMA_URL
    assert m["$id"] == "pizza" and m["name"] == "피자 가게"
    assert m["endpoints"][0]["msAppId"] == "00000000-0000-0000-0000-000000000000"
    event = m["activities"]["order.pizza"]
    assert event["type"] == "event" and event["name"] == "order.pizza"
    assert set(event["value"]["properties"]) == {"menu", "size"}
    assert event["value"]["required"] == ["menu", "size"]
    assert m["dispatchModels"]["intents"] == ["choose.size", "order.pizza"]


def test_manifest_refuses_bad_input() -> None:
    d = make_play().definition
    with pytest.raises(ValueError, match="GUID"):
        build_manifest(d, endpoint_url="http://x/api/messages", app_id="not-a-guid")
    with pytest.raises(ValueError, match="http"):
        build_manifest(d, endpoint_url="ftp://x")
    with pytest.raises(ValueError):
        ManifestChannel(d, path="/api/messages", app_id="nope")


async def test_manifest_served_from_the_host_header() -> None:
    play = make_play()
    manifest = ManifestChannel(play.definition, path="/api/messages", app_id=SKILL_APP_ID)
    app = create_app(
        play,
        Settings(),
        store=MemoryStore(),
        routes=[Route("/manifest.json", manifest, exact=True)],
    )
    with running_server(app) as base:
        async with aiohttp.ClientSession() as s:
            async with s.get(base + "/manifest.json") as r:
                assert r.status == 200
                m = await r.json()
            async with s.get(base + "/manifest.json", headers={"Host": "bad host/x"}) as r:
                assert r.status == 400
    assert m["endpoints"][0]["endpointUrl"] == base + "/api/messages"
    assert m["endpoints"][0]["msAppId"] == SKILL_APP_ID


def test_manifest_command(tmp_path: Path) -> None:
    out = tmp_path / "manifest.json"
    run = subprocess.run(
        [sys.executable, "-m", "voicehook", "manifest", str(ROOT / "examples" / "weather"),
         "--endpoint-url", "https://weather.example/api/messages", "-o", str(out)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    m = json.loads(out.read_text(encoding="utf-8"))
    check_v22(m)
    assert "ask.weather" in m["activities"]
    bad = subprocess.run(
        [sys.executable, "-m", "voicehook", "manifest", str(ROOT / "examples" / "weather"),
         "--app-id", "x"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert bad.returncode == 2 and "GUID" in bad.stderr


# -- voicehook serve --botframework -----------------------------------------------------


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text(errors='replace')[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"{url} did not answer within {timeout} s; serve said:\n{tail}")


@asynccontextmanager
async def serve(*flags: str, cwd: Path, env: dict[str, str]) -> AsyncIterator[str]:
    port = free_port()
    log = cwd / "serve.log"
    with log.open("wb") as err:  # a file, not a pipe: a full pipe would block the server
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicehook", "serve", str(ROOT / "examples" / "weather"),
             "--port", str(port), *flags],
            env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        await asyncio.to_thread(_wait, base + "/health", proc, log)
        yield base
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _activity(text: str, n: int) -> dict[str, Any]:
    return {
        "type": "message",
        "id": f"a{n}",
        "channelId": "emulator",
        "from": {"id": "user-1", "role": "user"},
        "recipient": {"id": "root", "role": "skill"},
        "conversation": {"id": "conv-cli"},
        "text": text,
        "deliveryMode": "expectReplies",
    }


async def _turn(url: str, text: str, n: int) -> list[dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as s,
        s.post(url, json=_activity(text, n), timeout=aiohttp.ClientTimeout(total=30)) as r,
    ):
        assert r.status == 200, await r.text()
        acts: list[dict[str, Any]] = (await r.json())["activities"]
        return acts


@pytest.mark.slow
async def test_serve_botframework_two_workers_share_the_store(tmp_path: Path) -> None:
    env = dict(os.environ, WEATHER_TODAY="2026-11-22")
    for key in ("WEATHER_UPSTREAM_URL", "VOICEHOOK_BOTFRAMEWORK_APP_ID", "VOICEHOOK_STORE"):
        env.pop(key, None)
    config = tmp_path / "voicehook.toml"
    config.write_text('[voicehook]\nbotframework = true\nbotframework_path = "/bot"\n')
    flags = ("--workers", "2", "--config", str(config), "--botframework-manifest",
             "--store", f"sqlite:///{tmp_path}/state.db")  # fmt: skip
    async with serve(*flags, cwd=tmp_path, env=env) as base:
        first = await _turn(base + "/bot", "날씨 알려줘", 1)
        assert first[0]["inputHint"] == "expectingInput", first
        # The next turns may reach the other worker: the state is in the SQLite store.
        for n, text in enumerate(["서울", "서울"], start=2):
            got = await _turn(base + "/bot", text, n)
            if got[-1]["type"] == "endOfConversation":
                break
        assert got[-1]["type"] == "endOfConversation", got
        assert got[-1]["code"] == "completedSuccessfully"
        assert "서울" in got[0]["text"]
        async with aiohttp.ClientSession() as s, s.get(base + "/manifest.json") as r:
            m = await r.json()
        assert m["endpoints"][0]["endpointUrl"] == base + "/bot"
        # NUGU still answers next to the skill.
        async with aiohttp.ClientSession() as s, s.post(base + "/answer.weather", json={}) as r:
            assert r.status in (200, 400)


def test_serve_refuses_an_app_id_without_password(tmp_path: Path) -> None:
    env = dict(os.environ)
    env.pop("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD", None)
    env.pop("MicrosoftAppPassword", None)
    run = subprocess.run(
        [sys.executable, "-m", "voicehook", "serve", str(ROOT / "examples" / "weather"),
         "--port", str(free_port()), "--botframework", "--botframework-app-id", SKILL_APP_ID],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path, check=False,
    )  # fmt: skip
    assert run.returncode == 2
    assert "VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD" in run.stderr
