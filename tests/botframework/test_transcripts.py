"""``voicehook test --channel botframework``: transcripts as activities to the play's skill."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.dialog.engine import DeviceEvent, Reset, UserText
from voicehook.testing import arun_transcripts, shared_tokenizer
from voicehook.testing.botframework import (
    BotFrameworkClient,
    BotFrameworkTurn,
    arun_botframework_transcripts,
    botframework_test_app,
    check_botframework_turn,
)
from voicehook.testing.clova_transcripts import arun_clova_transcripts, seeded_session_ids
from voicehook.testing.transcripts import TranscriptError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
WEATHER = EXAMPLES / "weather"


def write(tmp_path: Path, body: str, play: Path = WEATHER) -> Path:
    path = tmp_path / "bf.yaml"
    path.write_text(f"play: {play}\nsettings: {{seed: 1}}\n{body}", encoding="utf-8")
    return path


async def run(path: Path) -> Any:
    return await arun_botframework_transcripts(path, tokenizer=shared_tokenizer())


SLOT_FILLING = """\
conversations:
  - name: 지역을 나중에 말하기
    turns:
      - user: 날씨 알려줘
        expect: {prompt: "어느 지역 날씨를 알려드릴까요?", type: wait, session_ended: false}
      - user: 부산
        expect:
          prompt_regex: "^부산 오늘 날씨는 "
          type: end
          session_ended: true
          end_code: completedSuccessfully
"""


async def test_korean_slot_filling_passes(tmp_path: Path) -> None:
    report = await run(write(tmp_path, SLOT_FILLING))
    assert report.passed, report.describe_failures()
    [conv] = report.conversations
    assert conv.turn_count == 2


async def test_a_wrong_expectation_names_the_turn_and_what_the_user_saw(tmp_path: Path) -> None:
    body = SLOT_FILLING.replace("end_code: completedSuccessfully", "end_code: userCancelled")
    report = await run(write(tmp_path, body))
    [conv] = report.conversations
    assert conv.failed_turn == 2 and conv.failed_input == "user: 부산"
    [miss] = conv.mismatches
    assert (miss.key, miss.expected, miss.got) == (
        "end_code",
        "userCancelled",
        "completedSuccessfully",
    )
    text = report.describe_failures()
    assert "FAIL '지역을 나중에 말하기', turn 2 (user: 부산)" in text


async def test_wait_or_end_is_the_input_hint(tmp_path: Path) -> None:
    body = SLOT_FILLING.replace("type: wait, session_ended: false", "type: end")
    report = await run(write(tmp_path, body))
    [conv] = report.conversations
    assert conv.failed_turn == 1
    [miss] = conv.mismatches
    assert miss.key == "type" and miss.got == "expectingInput"


async def test_stop_and_the_root_bot_cancelling(tmp_path: Path) -> None:
    body = """\
conversations:
  - name: 그만
    turns:
      - user: 날씨 알려줘
        expect: {type: wait}
      - user: 그만
        expect:
          prompt: 날씨 알리미를 종료할게요. 좋은 하루 보내세요.
          session_ended: true
          end_code: userCancelled
  - name: 루트 봇이 끝내기
    turns:
      - user: 날씨 알려줘
        expect: {type: wait}
      - event: endOfConversation
        expect: {prompt: "", type: end, session_ended: false}
      - user: 그만
        expect: {prompt_contains: 종료, end_code: userCancelled}
"""
    report = await run(write(tmp_path, body))
    assert report.passed, report.describe_failures()


async def test_a_device_event_cannot_be_sent(tmp_path: Path) -> None:
    body = """\
conversations:
  - name: 음악
    turns:
      - user: 날씨 알려줘
      - event: AudioPlayer.PlaybackFinished
"""
    with pytest.raises(TranscriptError, match=r"turn 2 .*no device events"):
        await run(write(tmp_path, body))


def test_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = write(tmp_path, SLOT_FILLING)
    assert main(["test", str(good), "--channel", "botframework"]) == 0
    assert "1/1 conversations passed" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        good.read_text(encoding="utf-8").replace("부산 오늘", "서울 오늘"), encoding="utf-8"
    )
    assert main(["test", str(bad), "--channel", "botframework"]) == 1
    out = capsys.readouterr().out
    assert "turn 2 (user: 부산)" in out and "prompt_regex" in out
    backend = ["test", str(good), "--channel", "botframework", "--backend", "http://127.0.0.1:9"]
    assert main(backend) == 2
    assert "in process" in capsys.readouterr().err


async def test_the_anonymous_warning_is_logged_once_per_run(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    body = SLOT_FILLING + SLOT_FILLING.removeprefix("conversations:\n")
    with caplog.at_level(logging.WARNING, logger="voicehook.botframework"):
        report = await run(write(tmp_path, body))
    assert report.passed and len(report.conversations) == 2
    assert sum("anonymous mode" in r.getMessage() for r in caplog.records) == 1


async def test_conversation_ids_are_seeded_and_change_after_the_end() -> None:
    ids = seeded_session_ids(1, "1:name")
    assert ids is not None
    app = botframework_test_app(load_play(str(WEATHER)))
    async with BotFrameworkClient(app, conversation_ids=ids) as client:
        assert client.conversation_id == ids(1)
        first = await client.turn(UserText("날씨 알려줘"))
        assert first is not None and first.waits
        assert first.activity["conversation"] == {"id": ids(1)}
        assert first.activity["deliveryMode"] == "expectReplies"
        done = await client.turn(UserText("부산"))
        assert done is not None and done.ended and done.end_code == "completedSuccessfully"
        assert client.conversation_id == ids(2)  # a root bot starts a new skill conversation
        assert await client.turn(Reset()) is None
        assert client.conversation_id == ids(3)
        cancel = await client.turn(DeviceEvent("endOfConversation"))
        assert cancel is not None and cancel.activities == [] and cancel.status == 200
        assert cancel.activity["code"] == "userCancelled"
        assert client.conversation_id == ids(4)
    assert not app.started


def test_a_turn_reads_text_speak_hint_and_directives() -> None:
    data = {
        "activities": [
            {
                "type": "message",
                "text": "신나는 음악을 틀게요.",
                "speak": "신나는 음악을 틀게요.",
                "inputHint": "acceptingInput",
                "attachments": [
                    {"contentType": "application/vnd.microsoft.card.audio", "content": {}}
                ],
                "channelData": {"directives": [{"type": "AudioPlayer.Stop"}]},
            },
            {"type": "endOfConversation", "code": "completedSuccessfully"},
        ]
    }
    turn = BotFrameworkTurn({"type": "message"}, 200, data)
    assert turn.directives == ["AudioPlayer.Play", "AudioPlayer.Stop"]
    assert not turn.waits and turn.ended
    assert (
        check_botframework_turn(turn, {"directives": ["AudioPlayer.Play"], "type": "end"})[0].key
        == "directives"
    )
    turn.data["activities"][0]["speak"] = "다른 말"
    [miss] = check_botframework_turn(turn, {})
    assert miss.key == "speak"
    assert check_botframework_turn(BotFrameworkTurn({}, 401, None), {})[0].key == "status"


@pytest.mark.parametrize("name", ["weather", "calc"])
async def test_the_examples_nugu_transcripts_pass_on_the_skill(name: str) -> None:
    report = await run(EXAMPLES / name / "transcripts.yaml")
    assert report.passed, report.describe_failures()


@pytest.mark.parametrize(("name", "conversations"), [("weather", 3), ("quiz", 2), ("music", 1)])
async def test_the_examples_bot_framework_transcripts_pass_on_all_channels(
    name: str, conversations: int
) -> None:
    path = EXAMPLES / name / "botframework.transcripts.yaml"
    tok = shared_tokenizer()
    for report in (
        await run(path),
        await arun_transcripts(path, tokenizer=tok),
        await arun_clova_transcripts(path, tokenizer=tok),
    ):
        assert report.passed, report.describe_failures()
        assert len(report.conversations) == conversations
