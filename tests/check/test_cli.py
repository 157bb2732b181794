"""``voicehook check`` on the command line: output, JSON schema and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.check.conftest import API_KEY
from voicehook.check import KINDS, SCHEMA
from voicehook.cli import main

from .servers import closed_port_url

HERE = Path(__file__).parent
PLAY = str(HERE / "play.yaml")
APP = str(HERE / "fixture_app.py")


def test_correct_backend_exits_0(good_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", APP, "--backend", good_url, "--api-key", API_KEY, "--max-requests", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED" in out
    assert "WARNING play_builder_unauthorized" in out
    assert "not checked (backend off): hello" in out


def test_broken_backend_exits_1(broken_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            PLAY,
            "--backend",
            broken_url,
            "--max-requests",
            "3",
            "--action",
            "calc.sum",
            "--action",
            "answer.weather",
            "--action",
            "music.finished",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    for text in (
        "FAILED",
        "VIOLATION health_status",
        "VIOLATION http_status: HTTP 500",
        "VIOLATION output_key_missing: output lacks key 'weather'",
        "VIOLATION directives_not_list",
        "#1 device",
    ):
        assert text in out


def test_json_schema(broken_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        [
            "check",
            PLAY,
            "--backend",
            broken_url,
            "--json",
            "--bodies",
            "--api-key",
            "K",
            "--max-requests",
            "2",
            "--action",
            "play.music",
        ]
    )
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["schema"] == SCHEMA
    assert data["ok"] is False
    assert set(data) == {
        "schema",
        "play",
        "backend",
        "ok",
        "settings",
        "summary",
        "health",
        "actions",
        "skipped",
    }
    assert data["summary"]["requests"] == 2
    assert data["summary"]["kinds"] == ["health_status", "result_code_unknown"]
    (action,) = data["actions"]
    assert action["action"] == "play.music"
    assert action["url"] == f"{broken_url}/play.music"
    (group,) = action["groups"]
    assert group["kind"] == "result_code_unknown" and group["requests"] == [1, 2]
    result = action["results"][0]
    assert set(result) >= {"number", "shape", "description", "status", "ms", "findings"}
    assert result["request"]["headers"]["Authorization"] == "token ***"  # never the key
    assert result["request"]["body"]["action"]["actionName"] == "play.music"
    for finding in result["findings"]:
        assert finding["kind"] in KINDS


def test_dry_run_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["check", PLAY, "--dry-run", "--max-requests", "3", "--api-key", "secret"])
    out = capsys.readouterr().out
    assert code == 0
    plan = json.loads(out)
    assert list(plan) == [
        "answer.weather",
        "play.music",
        "music.finished",
        "calc.sum",
        "quiz.ask",
        "slow.lookup",
    ]
    assert all(len(cases) <= 3 for cases in plan.values())
    assert "secret" not in out


@pytest.mark.parametrize(
    "argv",
    [
        ["check", PLAY],  # no --backend and no backend_url
        ["check", str(HERE / "missing.yaml"), "--backend", "http://127.0.0.1:9"],
        ["check", PLAY, "--backend", "http://127.0.0.1:9", "--action", "nope"],
        ["check", PLAY, "--backend", "http://127.0.0.1:9", "--action", "hello"],
        ["check", PLAY, "--backend", "ftp://127.0.0.1:9"],
        ["check", PLAY, "--backend", "http://127.0.0.1:9", "--max-requests", "0"],
    ],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "voicehook check:" in capsys.readouterr().err


def test_unreachable_backend_exits_2_in_a_subprocess() -> None:
    command = [sys.executable, "-c", "from voicehook.cli import entry; entry()"]
    proc = subprocess.run(
        [*command, "check", PLAY, "--backend", closed_port_url(), "--max-requests", "1"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "cannot connect" in proc.stderr
