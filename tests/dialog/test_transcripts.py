"""Transcripts: loading, checking, running in process and over real HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from tests._support.server import plain_asgi
from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.server import create_app
from voicehook.testing import (
    TranscriptError,
    arun_transcripts,
    assert_passed,
    load_transcripts,
)

PLAY_DIR = Path(__file__).parents[1] / "fixtures" / "plays" / "engine"
TRANSCRIPTS = PLAY_DIR / "transcripts.yaml"
TOKENIZER = SimpleTokenizer()


async def test_fixture_transcripts_pass_in_process() -> None:
    report = await arun_transcripts(TRANSCRIPTS, tokenizer=TOKENIZER)
    assert_passed(report)
    assert [len(c.turns) for c in report.conversations] == [2, 2, 2, 4]


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "t.yaml"
    path.write_text(f"play: {PLAY_DIR}\n{body}", encoding="utf-8")
    return path


async def test_a_failing_expectation_gives_a_readable_diff(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """conversations:
  - name: 틀린 기대
    turns:
      - user: 기분 어때
        expect: {prompt: 좋아요.}
      - user: 서울 날씨 알려줘
        expect: {prompt_contains: 흐림, type: end, directives: [AudioPlayer.Play]}
      - user: 이 턴은 실행되지 않아요
""",
    )
    report = await arun_transcripts(path, tokenizer=TOKENIZER)
    assert not report.passed
    conv = report.conversations[0]
    assert conv.failed_turn == 2 and len(conv.turns) == 2
    assert {m.key for m in conv.mismatches} == {"prompt_contains", "type", "directives"}
    text = report.describe_failures()
    assert "FAIL '틀린 기대', turn 2 (user: 서울 날씨 알려줘)" in text
    assert "expected: \"a prompt containing ['흐림']\"" in text
    assert "got:      '서울 날씨는 맑음예요. 또 궁금한 곳이 있나요?'" in text
    with pytest.raises(AssertionError, match="0/1 conversations passed"):
        assert_passed(report)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("conversations: []\n", "non-empty list"),
        ("conversations:\n  - turns: [{user: a, event: b}]\n", "exactly one of"),
        ("conversations:\n  - turns: [{user: a, expect: {promt: x}}]\n", "unknown expectations"),
        ("conversations:\n  - name: x\n    turn: []\n", "unknown keys: turn"),
    ],
)
def test_malformed_transcripts_are_rejected(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TranscriptError, match=message):
        load_transcripts(_write(tmp_path, body))


# --------------------------------------------------------------------------- real HTTP


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server_url() -> Iterator[str]:
    """The fixture play served by uvicorn on 127.0.0.1 with a /nugu prefix, in a thread."""
    from voicehook.server import Settings

    port = _free_port()
    app = create_app(load_play(str(PLAY_DIR)), Settings(prefix="/nugu", port=port))
    config = uvicorn.Config(
        plain_asgi(app), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/nugu"
    server.should_exit = True
    thread.join(5)


async def test_transcripts_over_real_http(server_url: str) -> None:
    report = await arun_transcripts(TRANSCRIPTS, server_url, tokenizer=TOKENIZER)
    assert_passed(report)
    first = report.conversations[0].turns[0].calls[0]
    assert first.status == 200 and first.elapsed_ms > 0


async def test_http_failure_when_nothing_listens(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """conversations:
  - name: 서버 없음
    turns:
      - user: 서울 날씨 알려줘
        expect: {source: failure, session_ended: true, prompt: 서버에 연결할 수 없어요.}
""",
    )
    url = f"http://127.0.0.1:{_free_port()}"
    assert_passed(await arun_transcripts(path, url, tokenizer=TOKENIZER))


def test_cli_exit_codes(
    server_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["test", str(TRANSCRIPTS), "--backend", server_url]) == 0
    out = capsys.readouterr().out
    assert "PASS 서울 날씨" in out and "4/4 conversations passed" in out
    bad = _write(
        tmp_path,
        "conversations:\n  - name: 실패\n    turns:\n      - user: 기분 어때\n"
        "        expect: {prompt: 나빠요.}\n",
    )
    assert main(["test", str(bad)]) == 1
    out = capsys.readouterr().out
    assert "FAIL 실패" in out and "expected: '나빠요.'" in out
    assert main(["test", str(tmp_path / "missing.yaml")]) == 2
