"""Traps of the first hour in the play layer: relative play.yaml paths and misspelt actions."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicehook import ActionRequest, Play

ROOT = Path(__file__).resolve().parents[2]
WEATHER = ROOT / "examples" / "weather" / "play.yaml"


# mutmut wraps every function of play/app.py in a trampoline, so under mutation testing the
# frame that calls from_file's body is mutmut's, not the user's app.py (docs/testing.md).
@pytest.mark.skipif(
    "MUTANT_UNDER_TEST" in os.environ, reason="under mutmut the caller frame is its trampoline"
)
def test_from_file_resolves_against_the_calling_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "my_play"
    folder.mkdir()
    (folder / "play.yaml").write_text(WEATHER.read_text(encoding="utf-8"), encoding="utf-8")
    (folder / "app.py").write_text(
        'from voicehook import Play\nplay = Play.from_file("play.yaml")\n', encoding="utf-8"
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not the play's folder: the README's app.py must still work
    spec = importlib.util.spec_from_file_location("first_hour_app", folder / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.play.name == "weather"
    assert module.play.definition.source == str(folder / "play.yaml")


def test_from_file_without_a_calling_file_uses_the_working_directory(tmp_path: Path) -> None:
    (tmp_path / "play.yaml").write_text("name: here\n", encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            'from voicehook import Play; print(Play.from_file("play.yaml").name)',
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "here"


def test_a_misspelt_action_is_an_error_with_the_nearest_names() -> None:
    play = Play.from_file(WEATHER)
    with pytest.raises(
        ValueError, match=r"no action 'answer.weathr'; did you mean 'answer.weather'"
    ):

        @play.action("answer.weathr")
        async def weather(req: ActionRequest) -> None:
            return None

    assert "answer.weathr" not in play.definition.actions


def test_code_only_actions_need_an_explicit_opt_in() -> None:
    play = Play.from_file(WEATHER)

    @play.action("answer.extra", code_only=True)
    async def extra(req: ActionRequest) -> None:
        return None

    play.declare("answer.declared")

    @play.action("answer.declared")
    async def declared(req: ActionRequest) -> None:
        return None

    assert {"answer.extra", "answer.declared"} <= set(play.definition.actions)


def test_a_play_built_in_code_declares_actions_by_registering_them() -> None:
    play = Play("code")

    @play.action("answer.anything")
    async def anything(req: ActionRequest) -> None:
        return None

    assert "answer.anything" in play.definition.actions
