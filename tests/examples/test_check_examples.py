"""Every example passes the conformance checker (``voicehook check``) over real HTTP."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests._support.server import running_server
from voicehook.check import check_backend
from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.server.app import create_app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = [n for n in ("weather", "music", "calc", "quiz") if (EXAMPLES / n / "app.py").is_file()]


@pytest.fixture(autouse=True)
def pinned_weather(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed 'today' and the weather example's own fake upstream."""
    monkeypatch.setenv("WEATHER_TODAY", "2026-11-22")
    monkeypatch.delenv("WEATHER_UPSTREAM_URL", raising=False)


@pytest.mark.parametrize("name", NAMES)
def test_example_has_no_violations(name: str) -> None:
    play = load_play(str(EXAMPLES / name))
    with running_server(create_app(play)) as url:
        report = asyncio.run(check_backend(play, url))
    assert report.ok, report.render()
    assert report.violations == []
    backend_actions = {n for n, a in play.definition.actions.items() if a.backend}
    assert {a.action for a in report.actions if a.results} == backend_actions
    assert all(r.status == 200 for a in report.actions for r in a.results)


def test_check_cli_exits_0_for_weather(capsys: pytest.CaptureFixture[str]) -> None:
    weather = EXAMPLES / "weather"
    with running_server(create_app(load_play(str(weather)))) as url:
        code = main(["check", str(weather), "--backend", url, "--max-requests", "6"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "answer.weather" in out and "ask.weekday" in out
