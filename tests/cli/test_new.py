"""``voicehook new``: the template is a working play, with passing transcripts and tests."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from voicehook.cli import main
from voicehook.testing import assert_transcripts, shared_tokenizer


def test_the_template_validates_and_its_transcripts_and_tests_pass(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "greeter"
    assert main(["new", str(target), "--invocation", "인사 도우미"]) == 0
    out = capsys.readouterr().out
    assert "voicehook simulate" in out
    assert {p.name for p in target.rglob("*") if p.is_file()} == {
        "play.yaml",
        "app.py",
        "transcripts.yaml",
        "test_play.py",
        "pyproject.toml",
        ".gitignore",
    }
    for path in target.rglob("*.py"):  # only the public API
        assert "voicehook.cli" not in path.read_text(encoding="utf-8")
    project = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    assert any(d.startswith("pytest") for d in project["project"]["optional-dependencies"]["dev"])
    assert ".venv/" in (target / ".gitignore").read_text(encoding="utf-8")
    assert main(["validate", str(target)]) == 0
    assert_transcripts(target / "transcripts.yaml", tokenizer=shared_tokenizer())
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
        cwd=target,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout  # the contract test and one test per conversation


def test_refuses_a_folder_with_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "keep.txt").write_text("x", encoding="utf-8")
    assert main(["new", str(tmp_path)]) == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert (tmp_path / "keep.txt").read_text(encoding="utf-8") == "x"


def test_refuses_a_bad_play_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["new", str(tmp_path / "x"), "--name", "인사 도우미"]) == 2
    assert "letters, digits" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_a_korean_folder_name_works(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "날씨-알리미"
    assert main(["new", str(target)]) == 0
    out = capsys.readouterr().out
    assert "play name 'my-play'" in out and "--name" in out
    assert "name: my-play" in (target / "play.yaml").read_text(encoding="utf-8")
    assert main(["validate", str(target)]) == 0
    assert main(["test", str(target)]) == 0
