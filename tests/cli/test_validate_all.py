"""`voicehook validate` reports every problem at once, with line and column, and hints."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicehook.cli import main

PLAY = """\
name: vp
actions:
  answer.weather:
    trigger: {intent: ask.weather}
    backend: true
    parameters:
      location: {type: LOCATION, requried: true}
      day: {type: LOCATION, required: true, prompts: ["어느 지역이요?"]}
      p: {type: LOCATION}
    response:
      type: end
      prompts:
        - "{{pp}} 날씨는 맑아요."
        - "{{location}의} 날씨예요."
entities:
  LOCATION: {values: {서울: []}}
intents:
  ask.weather: {examples: ["[서울](LOCATION) 날씨"]}
"""

APP = """\
from voicehook import Play

play = Play.from_file("play.yaml")


@play.action("answer.weathr")
async def weather(req):
    return {}
"""


def run_validate(folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = main(["validate", str(folder)])
    return code, capsys.readouterr().err.splitlines()


def test_every_layer_at_once_with_places_and_hints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "play.yaml").write_text(PLAY, encoding="utf-8")
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    code, err = run_validate(tmp_path, capsys)
    assert code == 1
    text = "\n".join(err)
    # structure: the misspelt key, with its place and the nearest key
    assert "play.yaml:7:34" in text and "'requried' (did you mean 'required'?)" in text
    # prompts, in the same run: line AND column inside the prompt
    assert "play.yaml:13:12 (actions.answer.weather.response): prompt uses {{pp}}" in text
    assert "did you mean {{p}}?" in text
    assert "play.yaml:14:23" in text and "write {{location}}의" in text
    # the single prompt of a required parameter is a warning
    assert any(
        line.startswith("warning: ") and "play.yaml:8:56" in line and "single prompt" in line
        for line in err
    )
    assert "3 problems" in err


def test_handler_typo_is_reported_with_the_prompt_problems(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fixed = PLAY.replace("requried: true", 'required: true, prompts: ["그만", "어디요?"]')
    (tmp_path / "play.yaml").write_text(fixed, encoding="utf-8")
    (tmp_path / "app.py").write_text(APP, encoding="utf-8")
    code, err = run_validate(tmp_path, capsys)
    text = "\n".join(err)
    assert code == 1
    assert "app.py:6: ValueError" in text and "did you mean 'answer.weather'?" in text
    assert "prompt uses {{pp}}" in text and "write {{location}}의" in text
