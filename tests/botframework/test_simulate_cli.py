"""``voicehook simulate --channel botframework``: the REPL over the play's skill."""

from __future__ import annotations

import subprocess
import sys

from tests.deploy.conftest import ROOT, child_env


def simulate(*args: str, lines: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "voicehook", "simulate", *args],
        input=lines.encode(),
        capture_output=True,
        timeout=120,
        env=child_env(),
        check=False,
    )


def test_korean_slot_filling_and_the_end_of_the_conversation() -> None:
    proc = simulate(
        str(ROOT / "examples" / "weather"),
        "--channel",
        "botframework",
        "--seed",
        "1",
        "-v",
        lines="날씨 알려줘\n부산\n날씨 알려줘\n/end\n그만\n",
    )
    assert proc.returncode == 0, proc.stderr.decode()
    out = proc.stdout.decode()
    assert "bot> 어느 지역 날씨를 알려드릴까요?" in out
    assert "[inputHint expectingInput: the skill waits for the answer]" in out
    assert "bot> 부산 오늘 날씨는 " in out
    assert "[endOfConversation completedSuccessfully; a new conversation]" in out
    assert "[the root bot cancelled the skill; a new conversation]" in out
    assert "[endOfConversation userCancelled; a new conversation]" in out
    assert '"deliveryMode": "expectReplies"' in out  # -v: the activity as sent


def test_backend_is_refused() -> None:
    proc = simulate(
        str(ROOT / "examples" / "weather"),
        "--channel",
        "botframework",
        "--backend",
        "http://127.0.0.1:9",
        lines="",
    )
    assert proc.returncode == 2
    assert "in process" in proc.stderr.decode()
