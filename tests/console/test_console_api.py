"""The console's session and API without a browser: guards, saving, reload, replay."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests._support.server import free_port, running_server
from tests.console.conftest import start_console, stop_console
from voicehook.cli.console import forget_modules, is_loopback
from voicehook.cli.loading import load_play
from voicehook.console import ConsoleError, ConsoleSession, LoadedPlay, nugu_choices
from voicehook.console.web import create_console_app
from voicehook.testing import shared_tokenizer
from voicehook.testing.transcripts import arun_transcripts


def make_session(folder: Path, *, seed: int = 5) -> ConsoleSession:
    def loader() -> LoadedPlay:
        forget_modules(folder)
        return LoadedPlay(load_play(str(folder)), folder, folder)

    choices = nugu_choices(seed=seed, tokenizer=shared_tokenizer())
    return ConsoleSession(loader, choices, seed=seed, watch=folder)


@pytest.fixture
async def session(weather_copy: Path) -> AsyncIterator[ConsoleSession]:
    s = make_session(weather_copy)
    await s.start()
    try:
        yield s
    finally:
        await s.aclose()


def test_loopback_addresses() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert is_loopback("127.0.0.2")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.0.10")


def test_a_non_loopback_host_needs_allow_remote(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "voicehook", "console", "examples/weather", "--host", "0.0.0.0"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert run.returncode == 2
    assert "--allow-remote" in run.stderr and "no login" in run.stderr


async def test_http_guards(weather_copy: Path) -> None:
    s = make_session(weather_copy)
    port = free_port()
    app = create_console_app(s, hosts=[f"127.0.0.1:{port}"])
    with running_server(app, port=port) as url:
        async with aiohttp.ClientSession() as http:
            async with http.get(url + "/api/info", headers={"Host": "evil.example:80"}) as r:
                assert r.status == 421
            async with http.post(url + "/api/turn", json={"user": "서울 날씨"}) as r:
                assert r.status == 403  # no X-Voicehook-Console header: a cross-site form
            headers = {"X-Voicehook-Console": "1", "Content-Type": "text/plain"}
            async with http.post(url + "/api/turn", data="{}", headers=headers) as r:
                assert r.status == 415
            ok = {"X-Voicehook-Console": "1"}
            async with http.post(url + "/api/turn", json={"user": "서울 날씨"}, headers=ok) as r:
                assert r.status == 200
                body = await r.json()
                assert body["view"]["intent"] == "ask.weather"
            async with http.get(url + "/") as r:
                assert r.status == 200 and "voicehook console" in await r.text()
            async with http.get(url + "/static/console.js") as r:
                assert r.status == 200 and "compositionstart" in await r.text()


async def test_save_stays_in_the_play_folder(session: ConsoleSession) -> None:
    await session.turn({"user": "서울 날씨 알려줘"})
    for bad in ("../outside.yaml", "/tmp/abs.yaml", "notes.txt", ""):
        with pytest.raises(ConsoleError):
            session.save(bad)
    path = session.save("sub/saved.yaml")
    assert path.is_file() and "play: .." in path.read_text(encoding="utf-8")
    with pytest.raises(ConsoleError, match="exists"):
        session.save("sub/saved.yaml")
    report = await arun_transcripts(path, tokenizer=shared_tokenizer())
    assert report.passed, report.describe_failures()


async def test_replay_then_save_passes_voicehook_test(session: ConsoleSession) -> None:
    text = (session.watch or Path()).joinpath("transcripts.yaml").read_text(encoding="utf-8")
    count = await session.replay(text)
    assert count > 5
    names = [c.name for c in session.conversations if c.turns]
    assert "서울 날씨" in names
    path = session.save("replayed.yaml")
    report = await arun_transcripts(path, tokenizer=shared_tokenizer())
    assert report.passed, report.describe_failures()
    assert len(report.conversations) == len(names)


async def test_reload_error_has_file_line_column_and_keeps_the_last_good_play(
    session: ConsoleSession,
) -> None:
    folder = session.watch
    assert folder is not None
    app_py = folder / "app.py"
    good = app_py.read_text(encoding="utf-8")
    app_py.write_text(good + "\ndef broken(:\n", encoding="utf-8")
    assert await session.check_files()
    assert session.problems
    problem = session.problems[0]
    assert problem["file"].endswith("app.py") and problem["line"] == len(good.splitlines()) + 2
    assert problem["column"] >= 1
    view = await session.turn({"user": "서울 날씨 알려줘"})
    assert view["prompt"].startswith("서울 오늘 날씨는")  # the last good play answered

    app_py.write_text(good, encoding="utf-8")
    assert await session.check_files()
    assert session.problems == [] and session.reloads == 1
    assert not await session.check_files()  # nothing changed since


async def test_nugu_over_http_with_backend_url(weather_copy: Path) -> None:
    """--backend URL: the simulated Dialog Manager calls a backend proxy over real HTTP."""
    from voicehook import create_app

    backend_app = create_app(load_play(str(weather_copy)))
    with running_server(backend_app) as backend_url:

        def loader() -> LoadedPlay:
            forget_modules(weather_copy)
            return LoadedPlay(load_play(str(weather_copy)), weather_copy, weather_copy)

        choices = nugu_choices(seed=5, backend_url=backend_url, tokenizer=shared_tokenizer())
        session = ConsoleSession(loader, choices, seed=5, watch=None)
        await session.start()
        try:
            assert session.channel == "nugu-http"  # the URL is the first choice
            view = await session.turn({"user": "서울 날씨 알려줘"})
            call = view["calls"][0]
            assert call["status"] == 200 and call["result_code"] == "OK"
            assert call["request"]["action"]["actionName"] == "answer.weather"
            path = session.save("over-http.yaml")
            assert f"backend: {backend_url}" in path.read_text(encoding="utf-8")
            report = await arun_transcripts(path, tokenizer=shared_tokenizer())
            assert report.passed, report.describe_failures()

            await session.select("nugu")  # in process: a new conversation
            assert [c.channel for c in session.conversations] == ["nugu-http", "nugu"]
        finally:
            await session.aclose()


def test_open_starts_the_browser_on_the_printed_address(
    weather_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = tmp_path / "opened.txt"
    script = tmp_path / "browser.sh"
    script.write_text(f'#!/bin/sh\necho "$1" > {opened}\n', encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setenv("BROWSER", str(script))  # webbrowser runs $BROWSER with the URL
    console = start_console(weather_copy, tmp_path, "--open")
    try:
        for _ in range(100):
            if opened.exists():
                break
            time.sleep(0.1)
        assert opened.read_text(encoding="utf-8").strip() == console.url
        assert f"voicehook console: {console.url}" in console.output()
    finally:
        stop_console(console)
