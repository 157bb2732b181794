"""``voicehook validate`` and ``voicehook routes``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from voicehook.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["weather", "music", "calc", "quiz"])
def test_example_definitions_validate(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(ROOT / "examples" / name / "play.yaml")]) == 0
    assert "ok" in capsys.readouterr().out


def test_weather_app_validates_with_its_handlers() -> None:
    assert main(["validate", str(ROOT / "examples" / "weather")]) == 0


def test_prompt_problems_are_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    play = tmp_path / "play.yaml"
    play.write_text(
        "name: x\n"
        "welcome: ['{{nowhere}은} 안녕']\n"
        "exit: ['{{a']\n"
        "actions:\n"
        "  a:\n"
        "    backend: true\n"
        "    parameters: {a: backend}\n"
        "    response: {prompts: ['{{a>MISSING}}']}\n",
        encoding="utf-8",
    )
    assert main(["validate", str(play)]) == 1
    err = capsys.readouterr().err
    assert "{{nowhere}}" in err
    assert "not closed" in err
    assert "MISSING" in err
    assert "3 problems" in err


def test_structural_problems_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    play = tmp_path / "play.yaml"
    play.write_text("name: x\nactions:\n  a: {colour: red}\n", encoding="utf-8")
    assert main(["validate", str(play)]) == 1
    assert "play.yaml:3:" in capsys.readouterr().err


def test_missing_target_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", "/nonexistent/dir"]) == 2


def test_routes_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", str(ROOT / "examples" / "weather"), "--json", "--prefix", "nugu"]) == 0
    routes = {r["action"]: r for r in json.loads(capsys.readouterr().out)}
    weather = routes["answer.weather"]
    assert weather["path"] == "POST /nugu/answer.weather"
    assert weather["handlers"] == ["*"]
    assert {p["name"] for p in weather["parameters"]} >= {"location", "weather", "temperature"}
    assert "UNSUPPORTED_LOCATION" in weather["exceptions"]
    assert weather["global_exceptions"] == ["WEATHER_UNAVAILABLE"]


def test_routes_text(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", str(ROOT / "examples" / "weather")]) == 0
    out = capsys.readouterr().out
    assert "POST /answer.weather" in out
    assert "location         utterance LOCATION, required" in out
