"""The console's CLOVA and Bot Framework adapters, and live reload that keeps the
conversation, without a browser (test_browser.py drives the page)."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.console.conftest import ROOT
from voicehook.cli import main
from voicehook.cli.console import forget_modules
from voicehook.cli.loading import load_play
from voicehook.console import ConsoleError, ConsoleSession, LoadedPlay, nugu_choices
from voicehook.console.adapters import state_problem
from voicehook.console.botframework import BotFrameworkAdapter, botframework_choice
from voicehook.console.clova import ClovaAdapter, clova_choice
from voicehook.dialog.session import (
    ConfirmWait,
    DialogState,
    ExceptionWait,
    ListenWait,
    SlotWait,
)
from voicehook.play.definition import parse_definition
from voicehook.server.inprocess import call_asgi
from voicehook.testing import shared_tokenizer
from voicehook.testing.botframework import arun_botframework_transcripts
from voicehook.testing.clova import ClovaClient, ClovaSigner, cek_request
from voicehook.testing.clova_transcripts import arun_clova_transcripts
from voicehook.testing.transcripts import arun_transcripts


def make_session(folder: Path, *, seed: int = 5) -> ConsoleSession:
    def loader() -> LoadedPlay:
        forget_modules(folder)
        return LoadedPlay(load_play(str(folder)), folder, folder)

    tok = shared_tokenizer()
    choices = [
        *nugu_choices(seed=seed, tokenizer=tok),
        clova_choice(seed=seed, tokenizer=tok),
        botframework_choice(seed=seed, tokenizer=tok),
    ]
    return ConsoleSession(loader, choices, seed=seed, watch=folder, poll_interval=3600)


@pytest.fixture
async def session(weather_copy: Path) -> AsyncIterator[ConsoleSession]:
    s = make_session(weather_copy)
    await s.start()
    try:
        yield s
    finally:
        await s.aclose()


@pytest.fixture
async def music(tmp_path: Path) -> AsyncIterator[ConsoleSession]:
    folder = tmp_path / "music"
    shutil.copytree(ROOT / "examples" / "music", folder)
    s = make_session(folder)
    await s.start()
    try:
        yield s
    finally:
        await s.aclose()


def exchanged(view: dict[str, Any]) -> tuple[Any, Any]:
    request, response = view["channel"]["exchanges"]
    return request["json"], response["json"]


# ------------------------------------------------------------------ CLOVA


async def test_clova_weather_one_shot_shows_the_cek_request_and_response(
    session: ConsoleSession,
) -> None:
    await session.select("clova")
    assert [c["name"] for c in session.info()["channels"]] == ["nugu", "clova", "botframework"]
    view = await session.turn({"user": "내일 부산 날씨 알려줘"})
    channel = view["channel"]
    assert channel["status"] == 200
    assert channel["recognised"] == {
        "type": "IntentRequest",
        "intent": "ask.weather",
        "slots": {"BID_DT_DAY": "TOMORROW", "LOCATION": "부산"},
    }
    request, response = exchanged(view)
    assert request["request"]["intent"]["slots"]["LOCATION"]["value"] == "부산"
    assert request["session"]["new"] is True
    speech = response["response"]["outputSpeech"]["values"]["value"]
    assert speech.startswith("부산 내일 날씨는 ") and view["prompt"] == speech
    assert response["response"]["shouldEndSession"] is True
    assert view["session_ended"] and view["prompt_type"] == "end"
    assert view["actions"] == ["answer.weather"]  # what the engine did inside play mode
    assert view["state"]["conversation"]["params"]["location"] == "부산"


async def test_clova_slot_filling_keeps_the_cek_session_and_saves_a_clova_transcript(
    session: ConsoleSession,
) -> None:
    await session.select("clova")
    first = await session.turn({"user": "날씨 알려줘"})
    assert first["prompt"] == "어느 지역 날씨를 알려드릴까요?"
    assert first["prompt_type"] == "wait" and not first["session_ended"]
    _, response = exchanged(first)
    assert response["response"]["shouldEndSession"] is False
    assert first["channel"]["reprompt"] == "어느 지역 날씨를 알려드릴까요?"
    waiting = session.info()["state"]["conversation"]["waiting"]
    assert waiting == {"type": "slot", "action": "answer.weather", "param": "location", "spoken": 1}

    second = await session.turn({"user": "부산"})
    request, _ = exchanged(second)
    first_request, _ = exchanged(first)
    assert request["session"]["sessionId"] == first_request["session"]["sessionId"]
    assert request["session"]["new"] is False
    assert second["prompt"].startswith("부산 오늘 날씨는 ")

    await session.turn({"reset": True})
    await session.turn({"user": ""})  # the invocation alone: a LaunchRequest
    path = session.save("clova-saved.yaml")
    text = path.read_text(encoding="utf-8")
    assert "--channel clova" in text and "intent:" not in text
    report = await arun_clova_transcripts(path, tokenizer=shared_tokenizer())
    assert report.passed, report.describe_failures()
    assert len(report.conversations) == 1


async def test_clova_requests_are_really_signed_and_checked(session: ConsoleSession) -> None:
    await session.select("clova")
    await session.turn({"user": "서울 날씨 알려줘"})
    adapter = session.adapter
    assert isinstance(adapter, ClovaAdapter)
    app = adapter._app
    body = cek_request("LaunchRequest", new=True)
    async with ClovaClient(app, ClovaSigner()) as stranger:  # another key: refused
        turn = await stranger.post(body)
    assert turn.status == 403
    status, _, _ = await call_asgi(
        app, "POST", "/clova", body, {"Content-Type": "application/json"}
    )
    assert status == 403  # no signature at all


async def test_clova_audioplayer_events_reach_the_play(music: ConsoleSession) -> None:
    await music.select("clova")
    labels = [e["label"] for e in music.info()["events"]]
    assert "PlayFinished" in labels and "PlaybackFinished" not in labels
    play = await music.turn({"user": "신나는 음악 틀어줘"})
    assert play["channel"]["directives"] == ["AudioPlayer.Play"]
    audio = music.info()["state"]["device"]["audio"]
    assert audio["playerActivity"] == "PLAYING" and audio["token"]

    finished = await music.turn({"event": "PlaybackFinished"})
    request, _ = exchanged(finished)
    assert request["request"]["type"] == "EventRequest"
    assert request["request"]["event"]["name"] == "PlayFinished"
    assert request["request"]["event"]["payload"]["token"] == audio["token"]
    assert finished["channel"]["directives"] == ["AudioPlayer.Play"]  # the next song
    assert finished["event"]["type"] == "AudioPlayer.PlaybackFinished"

    stop = await music.turn({"user": "그만"})
    assert stop["channel"]["directives"] == ["PlaybackController.Stop"]
    assert music.info()["state"]["device"]["audio"]["playerActivity"] == "STOPPED"
    path = music.save("clova-music.yaml")
    report = await arun_clova_transcripts(path, tokenizer=shared_tokenizer())
    assert report.passed, report.describe_failures()


# ------------------------------------------------------------------ Bot Framework


async def test_botframework_activities_in_and_out(session: ConsoleSession) -> None:
    await session.select("botframework")
    info = session.info()
    assert info["transcripts"] and "anonymous" in info["channel_note"]
    assert info["test_channel"] == "botframework"
    first = await session.turn({"user": "날씨 알려줘"})
    activity, out = exchanged(first)
    assert activity["type"] == "message" and activity["text"] == "날씨 알려줘"
    assert activity["deliveryMode"] == "expectReplies" and "Authorization" not in str(activity)
    assert first["channel"]["status"] == 200
    [message] = out["activities"]
    assert message["text"] == "어느 지역 날씨를 알려드릴까요?"
    assert message["inputHint"] == "expectingInput"
    assert first["prompt_type"] == "wait" and first["intent"] == "ask.weather"

    second = await session.turn({"user": "부산"})
    _, out = exchanged(second)
    kinds = [a["type"] for a in out["activities"]]
    assert kinds == ["message", "endOfConversation"]
    assert out["activities"][1]["code"] == "completedSuccessfully"
    assert out["activities"][1]["value"]["params"]["location"] == "부산"
    assert second["session_ended"] and second["prompt"].startswith("부산 오늘 날씨는 ")
    assert second["entities"][0]["value"] == "부산"

    with pytest.raises(ConsoleError, match="no device events"):
        await session.turn({"event": "PlaybackStarted"})


async def test_botframework_end_of_conversation_and_no_jwt_bypass(
    session: ConsoleSession,
) -> None:
    await session.select("botframework")
    await session.turn({"user": "날씨 알려줘"})
    assert session.info()["state"]["conversation"]["active"]
    ended = await session.turn({"event": "endOfConversation"})
    activity, out = exchanged(ended)
    assert activity["type"] == "endOfConversation" and out == {"activities": []}
    adapter = session.adapter
    assert isinstance(adapter, BotFrameworkAdapter)
    # Anonymous mode accepts no token at all: a forged one is refused, never ignored.
    headers = {"Content-Type": "application/json", "Authorization": "Bearer forged"}
    status, _, _ = await call_asgi(adapter._app, "POST", "/api/messages", b"{}", headers)
    assert status == 401


async def test_botframework_conversation_saves_a_transcript_that_voicehook_test_runs(
    session: ConsoleSession, capsys: pytest.CaptureFixture[str]
) -> None:
    await session.select("botframework")
    first = await session.turn({"user": "날씨 알려줘"})
    assert first["channel"]["input_hint"] == "expectingInput"
    await session.turn({"user": "부산"})
    await session.turn({"reset": True})
    await session.turn({"user": "날씨 알려줘"})
    cancelled = await session.turn({"event": "endOfConversation"})
    activity, _ = exchanged(cancelled)
    assert activity["type"] == "endOfConversation"
    await session.turn({"reset": True})
    await session.turn({"user": "날씨 알려줘"})
    stopped = await session.turn({"user": "그만"})
    assert stopped["channel"]["end"] == "userCancelled"
    path = session.save("bf-saved.yaml")
    text = path.read_text(encoding="utf-8")
    assert "# Run it: voicehook test bf-saved.yaml --channel botframework" in text
    assert "intent:" not in text and "end_code: completedSuccessfully" in text
    assert "end_code: userCancelled" in text and "event: endOfConversation" in text

    report = await arun_botframework_transcripts(path, tokenizer=shared_tokenizer())
    assert report.passed, report.describe_failures()
    assert [c.turn_count for c in report.conversations] == [8]  # resets inside it
    # The command line, as the file's header says (a thread: asyncio.run inside).
    code = await asyncio.to_thread(main, ["test", str(path), "--channel", "botframework"])
    assert code == 0, capsys.readouterr().out
    assert "1/1 conversations passed" in capsys.readouterr().out

    # The file pins what the user observed: another answer fails at that turn.
    path.write_text(text.replace("어느 지역 날씨를", "어느 도시 날씨를", 1), encoding="utf-8")
    failed = await arun_botframework_transcripts(path, tokenizer=shared_tokenizer())
    assert [c.failed_turn for c in failed.conversations] == [1]


# ------------------------------------------------------------------ reload keeps the conversation


def _definition(extra: str = "") -> Any:
    return parse_definition(
        f"""
name: t
actions:
  a:
    backend: true
    parameters:
      p: {{type: X, required: true, prompts: [끝, "뭐예요?"]}}
    exceptions:
      E: {{prompts: [다시요]}}
    branches:
      - {{when: {{equals: {{p: a}}}}, action: b}}
      - {{default: b}}
  b: {{}}
{extra}
entities: {{X: {{values: {{a: []}}}}}}
intents: {{b.i: {{examples: [비]}}}}
"""
    )


def test_state_problem_names_what_vanished() -> None:
    defn = _definition()
    active = DialogState(active=True)
    assert state_problem(None, defn) is None
    assert state_problem(DialogState(waiting=SlotWait("gone", "p")), defn) is None  # not active
    assert state_problem(active, defn) is None
    cases = {
        SlotWait("a", "p"): None,
        SlotWait("gone", "p"): "'gone'",
        SlotWait("a", "q"): "parameter 'q'",
        ExceptionWait("a", "E"): None,
        ExceptionWait("a", "F"): "exception 'F'",
        ListenWait("a"): None,
        ListenWait("b"): "no longer listens",
        ConfirmWait("a", None, 1.0, resume=SlotWait("a", "q")): "parameter 'q'",
        ConfirmWait("zz", None, 1.0): "'zz'",
    }
    for wait, want in cases.items():
        got = state_problem(DialogState(active=True, waiting=wait), defn)
        if want is None:
            assert got is None, (wait, got)
        else:
            assert got is not None and want in got, (wait, got)


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


@pytest.mark.parametrize("channel", ["nugu", "clova", "botframework"])
async def test_reload_keeps_a_compatible_conversation(
    session: ConsoleSession, channel: str
) -> None:
    await session.select(channel)
    first = await session.turn({"user": "날씨 알려줘"})
    assert first["prompt_type"] == "wait"
    conv = session.conversations[-1]
    folder = session.watch
    assert folder is not None
    _edit(folder / "play.yaml", "기온은 {{temperature}}도예요.", "기온은 {{temperature}}도랍니다.")
    assert await session.check_files()
    assert session.reloads == 1 and session.problems == []
    assert session.conversations[-1] is conv  # the same conversation goes on
    assert "goes on" in session.reload_note
    assert conv.marks == [{"after": 1, "text": conv.marks[0]["text"]}]
    state = session.info()["state"]["conversation"]
    assert state["active"] and state["waiting"]["param"] == "location"
    second = await session.turn({"user": "부산"})
    assert second["prompt"].startswith("부산 오늘 날씨는 ")
    assert second["prompt"].endswith("도랍니다.")  # the new play answered
    assert len(conv.turns) == 2


@pytest.mark.parametrize("channel", ["nugu", "clova"])
async def test_reload_starts_fresh_when_the_wait_vanished(
    session: ConsoleSession, channel: str
) -> None:
    await session.select(channel)
    view = await session.turn({"user": "2월 31일 서울 날씨 알려줘"})
    assert view["prompt"] == "없는 날짜예요. 날짜를 다시 말씀해 주세요."
    state = session.info()["state"]["conversation"]
    assert state["waiting"]["type"] == "exception" and state["waiting"]["code"] == "INVALID_DATE"
    old = session.conversations[-1]
    folder = session.watch
    assert folder is not None
    _edit(
        folder / "play.yaml",
        "      INVALID_DATE:\n        prompts:\n          - 날짜를 이해하지 못했어요. "
        "다음에 다시 물어봐 주세요.\n          - 없는 날짜예요. 날짜를 다시 말씀해 주세요.\n",
        "",
    )
    assert await session.check_files()
    assert session.problems == [], session.problems
    assert session.conversations[-1] is not old and not session.conversations[-1].turns
    assert "exception 'INVALID_DATE'" in session.reload_note
    assert "new conversation" in session.reload_note
    assert "cannot go on" in old.marks[0]["text"]
    assert not session.info()["state"]["conversation"]["active"]


async def test_a_nugu_conversation_kept_across_a_reload_still_saves(
    session: ConsoleSession,
) -> None:
    await session.turn({"user": "날씨 알려줘"})
    folder = session.watch
    assert folder is not None
    _edit(folder / "app.py", "\n", "\n# edited\n")
    assert await session.check_files()
    assert "goes on" in session.reload_note
    await session.turn({"user": "부산"})
    path = session.save("kept.yaml")
    assert "reloaded during a conversation" in path.read_text(encoding="utf-8")
    report = await arun_transcripts(path, tokenizer=shared_tokenizer())
    assert report.passed, report.describe_failures()
