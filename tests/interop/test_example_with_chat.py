"""The example end to end: `voicehook chat` → the example gateway → the weather play served
as a skill (voicehook) and the botbuilder-python echo skill → back to the user."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.interop.bbrun import free_port, run_bot, wait_port

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE = ROOT / "examples" / "gateway"


def _voicehook(*args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "WEATHER_TODAY": "2026-11-22"}
    return subprocess.Popen(
        [sys.executable, "-m", "voicehook", *args],
        stdout=subprocess.DEVNULL,
        stderr=sys.stderr,
        env=env,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def test_example_in_voicehook_chat(tmp_path: Path) -> None:
    weather_port, root_port = free_port(), free_port()
    with run_bot("bb_echo_skill.py") as echo_url:
        config = (EXAMPLE / "gateway.yaml").read_text(encoding="utf-8")
        config = config.replace(
            "http://127.0.0.1:3981/api/messages", f"http://127.0.0.1:{weather_port}/api/messages"
        )
        config = config.replace("http://127.0.0.1:3982/api/messages", echo_url)
        config = config.replace("play: ./root", f"play: {EXAMPLE / 'root'}")
        path = tmp_path / "gateway.yaml"
        path.write_text(config, encoding="utf-8")
        weather = _voicehook(
            "serve",
            str(ROOT / "examples" / "weather"),
            "--port",
            str(weather_port),
            "--botframework",
            "--store",
            "memory://",
        )
        root = _voicehook(
            "gateway",
            str(path),
            "--port",
            str(root_port),
            "--store",
            f"sqlite:///{tmp_path / 'state.db'}",
            "--log-level",
            "warning",
        )
        try:
            wait_port(weather_port, weather, timeout=90)
            wait_port(root_port, root, timeout=90)
            lines = "서울 날씨 알려줘\n에코봇에서 안녕\n끝\n도움말\n"
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "voicehook",
                    "chat",
                    f"http://127.0.0.1:{root_port}/api/messages",
                ],
                input=lines.encode(),
                capture_output=True,
                timeout=120,
                check=False,
            )
        finally:
            _stop(root)
            _stop(weather)
    text = out.stdout.decode()
    assert out.returncode == 0, out.stderr.decode()
    replies = [line for line in text.splitlines() if line.startswith("봇> ")]
    # chat starts with a conversationUpdate: the root's play greets.
    assert (
        replies.pop(0)
        == '봇> 안녕하세요, 도우미예요. 날씨를 물어보거나 "에코봇에서 안녕"이라고 말해 보세요.'
    )
    assert replies[0].startswith("봇> 서울") and "날씨" in replies[0]
    assert replies[1] == "봇> 날씨 알리미를 마쳤어요. 또 무엇을 도와드릴까요?"
    assert replies[2:4] == ["봇> 에코: 안녕", '봇> "끝"이라고 하면 에코 스킬을 마쳐요.']
    assert replies[4] == "봇> 에코 스킬을 마칠게요."
    assert replies[5].startswith("봇> 에코봇이 ") and replies[5].endswith("또 무엇을 도와드릴까요?")
    assert "에코봇에서 안녕" in replies[6]
