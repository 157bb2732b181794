"""CLI traps of the first hour: folders for `voicehook test`, wording, --help text."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest

from voicehook.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_voicehook_test_accepts_a_play_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(ROOT / "examples" / "calc")]) == 0
    out = capsys.readouterr().out
    assert "conversations passed" in out and "transcripts.yaml" in out


def test_voicehook_test_explains_a_folder_without_transcripts(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", str(tmp_path)]) == 2
    assert "without transcripts.yaml" in capsys.readouterr().err


def test_counts_are_singular_for_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "play.yaml").write_text(
        "name: one\nactions:\n  answer.one:\n    trigger: {intent: say.one}\n"
        "    response: {prompts: [하나예요.]}\nintents:\n  say.one: {examples: [하나 말해줘]}\n",
        encoding="utf-8",
    )
    (tmp_path / "transcripts.yaml").write_text(
        "play: .\nconversations:\n  - name: 하나\n    turns:\n"
        "      - user: 하나 말해줘\n        expect: {prompt: 하나예요.}\n",
        encoding="utf-8",
    )
    assert main(["test", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "PASS 하나 (1 turn)" in out and "1 turns" not in out
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))
    assert main(["simulate", str(tmp_path)]) == 0  # no input: prints its head line and ends
    out = capsys.readouterr().out
    assert "play one (1 action)" in out and "1 actions" not in out


@pytest.mark.parametrize("command", ["new", "serve", "test", "simulate", "validate", "console"])
def test_help_has_no_rst_backticks(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert "``" not in capsys.readouterr().out


def test_store_help_names_the_sqlite_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "default: SQLite at ./voicehook-" in out
