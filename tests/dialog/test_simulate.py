"""The simulator command: line parsing, turn output, and a piped session in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from voicehook.cli.loading import load_play
from voicehook.cli.simulate import CommandError, Style, format_turn, parse_line
from voicehook.dialog.engine import DeviceEvent, DialogEngine, Reset, UserText
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.nugu.caller import NuguCaller
from voicehook.server.inprocess import InProcessBackend

PLAY_DIR = Path(__file__).parents[1] / "fixtures" / "plays" / "engine"


def test_parse_line() -> None:
    assert parse_line("  서울 날씨 알려줘 ") == UserText("서울 날씨 알려줘")
    assert parse_line("") is None
    assert parse_line("/event PlaybackFinished token=t1 offsetInMilliseconds=5000") == DeviceEvent(
        "PlaybackFinished", {"token": "t1", "offsetInMilliseconds": 5000}
    )
    assert parse_line("/reset") == Reset()
    assert parse_line("/state") == "state"
    assert parse_line("/q") == "quit"
    with pytest.raises(CommandError, match="unknown command"):
        parse_line("/dance")
    with pytest.raises(CommandError, match="key=value"):
        parse_line("/event PlaybackFinished token")


async def test_format_turn_shows_every_part() -> None:
    play = load_play(str(PLAY_DIR))
    engine = DialogEngine(
        play.definition, NuguCaller(InProcessBackend(play)), tokenizer=SimpleTokenizer()
    )
    try:
        r = await engine.turn(engine.new_state(), "음악 틀어줘")
    finally:
        await engine.aclose()
    text = format_turn(r, verbose=True, style=Style(False))
    assert "intent  play.music (1.00)" in text
    assert "call    music.play  HTTP 200  resultCode OK" in text
    assert '"actionName": "music.play"' in text  # the request JSON with -v
    assert "prompt  [end, response] 봄노래 틀어 드릴게요." in text
    assert "directives AudioPlayer.Play" in text
    assert "session ended; AudioPlayer PLAYING token=spring-1" in text
    assert "\033[" not in text
    assert "\033[" in format_turn(r, style=Style(True))


def test_piped_session_in_a_subprocess() -> None:
    script = Path(sys.executable).with_name("voicehook")
    cmd = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from voicehook.cli import entry; entry()"]
    )
    lines = "\n".join(
        [
            "2월 31일 서울 날씨",
            "2월 28일",
            "음악 틀어줘",
            "/event PlaybackFinished",
            "/state",
            "/bogus",
            "/quit",
            "never read",
        ]
    )
    env = {**os.environ, "NO_COLOR": "1"}
    proc = subprocess.run(
        [*cmd, "simulate", str(PLAY_DIR), "--seed", "3"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert out.startswith("play engine_fixture (19 actions) with in-process handlers")
    assert "> 2월 31일 서울 날씨" in out
    assert "resultCode INVALID_DATE" in out
    assert "prompt  [wait, exception] 없는 날짜예요. 다시 말씀해 주세요." in out
    assert "exception wait INVALID_DATE" in out
    assert "prompt  [wait, response] 서울 날씨는 맑음예요." in out
    assert "event   AudioPlayer.PlaybackFinished" in out
    assert "call    music.finished  HTTP 200  resultCode OK" in out
    assert "AudioPlayer STOPPED token=spring-1" in out
    assert '"playerActivity": "STOPPED"' in out  # /state prints the JSON state
    assert "unknown command /bogus" in out
    assert "never read" not in out
    assert "\033[" not in out
