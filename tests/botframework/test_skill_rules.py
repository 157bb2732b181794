"""The skill channel's rules with their exact values, called in process (found by mutation
testing of botframework/skill.py): outcomes for the metrics, the failure replies, audio
cards, the skill's return value and the first turn's values."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest

from voicehook import ActionRequest, Play, Reply
from voicehook.botframework.auth import BotAuthConfig
from voicehook.botframework.skill import BotFrameworkChannel
from voicehook.dialog import DialogEngine
from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.http import Answer, HttpRequest
from voicehook.nugu import directives
from voicehook.play.app import RuntimeSettings
from voicehook.play.context import AppContext
from voicehook.play.definition import parse_definition
from voicehook.store import MemoryStore
from voicehook.upstream import HttpClient

from ._play import make_play
from .test_skill import activity, consumer


def engine_for(play: Play) -> Any:
    def engine(app: AppContext) -> DialogEngine:
        return DialogEngine(play.definition, PlayCaller(play, app), tokenizer=SimpleTokenizer())

    return engine


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    async with HttpClient(timeout=5) as client:
        yield client


async def started(
    http: HttpClient, play: Play | None = None, store: Any = None, **kw: Any
) -> BotFrameworkChannel:
    play = play or make_play()
    kw.setdefault("engine", engine_for(play))
    ch = BotFrameworkChannel(play, BotAuthConfig(), **kw)
    ctx = AppContext(play.name, store=store if store is not None else MemoryStore())
    ctx.http = http
    await ch.startup(ctx)
    return ch


async def send(ch: BotFrameworkChannel, body: dict[str, Any], rid: str = "rid-b") -> Answer:
    return await ch.handle(HttpRequest("POST", "", [], json.dumps(body).encode(), rid))


def acts(answer: Answer) -> list[dict[str, Any]]:
    assert answer.status == 200
    out: list[dict[str, Any]] = json.loads(answer.body)["activities"]
    return out


async def test_outcomes_and_labels_for_the_metrics(http: HttpClient) -> None:
    ch = await started(http)
    first = await send(ch, activity("피자 가게에서 불고기 피자 주문해 줘"))
    assert (first.label, first.result_code, first.error) == ("botframework.message", "WAIT", None)
    done = await send(ch, activity("라지", n=2))
    assert (done.result_code, done.error) == ("completedSuccessfully", None)
    [_message, eoc] = acts(done)
    assert eoc["inputHint"] == "acceptingInput"
    assert eoc["value"] == {
        "intent": "choose.size",
        "actions": ["pizza.order"],
        "params": {"menu": "불고기", "size": "라지", "order_no": "101"},
    }
    cancel = await send(ch, activity(None, n=3, type="endOfConversation"))
    assert (cancel.label, cancel.result_code, acts(cancel)) == (
        "botframework.endOfConversation",
        "CANCELLED",
        [],
    )
    typing = await send(ch, activity(None, n=4, type="typing"))
    assert (typing.label, typing.result_code) == ("botframework.typing", "IGNORED")
    other = await send(ch, activity(None, n=5, type="trace"))
    assert (other.label, other.result_code) == ("botframework.other", "IGNORED")


async def test_the_default_engine_runs_the_play_with_the_channels_settings(
    http: HttpClient,
) -> None:
    """No engine factory: the play's own engine, calling its handlers with the app context
    and the channel's ``settings`` (a 0.2 s deadline here)."""
    play = Play(parse_definition(AUDIO_PLAY, "radio.yaml"))
    apps: list[Any] = []

    @play.action("radio.play")
    async def radio(req: ActionRequest) -> None:
        apps.append(req.app)
        await asyncio.sleep(10)

    ch = BotFrameworkChannel(play, BotAuthConfig(), settings=RuntimeSettings(deadline=0.2))
    ctx = AppContext(play.name, store=MemoryStore())
    ctx.http = http
    await ch.startup(ctx)
    got = await send(ch, activity("라디오 틀어 줘"))
    assert (got.result_code, got.error) == ("botTimedOut", "handler exceeded the 0.2 s deadline")
    assert acts(got)[1]["code"] == "botTimedOut"
    assert apps == [ctx]
    # After shutdown the channel refuses calls again.
    await ch.shutdown(ctx)
    with pytest.raises(Exception) as err:
        await send(ch, activity("라디오 틀어 줘", conv="c2"))
    assert (err.value.status, err.value.code) == (503, "not_started")  # type: ignore[attr-defined]


async def test_a_failed_turn_apologises_and_ends(http: HttpClient) -> None:
    class BrokenStore(MemoryStore):
        async def get(self, key: str) -> Any:
            raise ConnectionError("store is down")

    ch = await started(http, store=BrokenStore())
    got = await send(ch, activity("피자 주문할래"))
    assert (got.result_code, got.error) == ("SkillError", "ConnectionError: store is down")
    [message, eoc] = acts(got)
    assert (message["type"], message["text"], message["speak"], message["inputHint"]) == (
        "message",
        "죄송해요, 주문을 받을 수 없어요.",
        "죄송해요, 주문을 받을 수 없어요.",
        "acceptingInput",
    )
    assert (eoc["type"], eoc["code"], eoc["inputHint"]) == (
        "endOfConversation",
        "SkillError",
        "acceptingInput",
    )
    # A play with an empty failure prompt: the channel's own apology.
    bare = Play(parse_definition('name: bare\nfailure_prompt: ""\n', "bare.yaml"))
    ch2 = await started(http, play=bare, store=BrokenStore())
    [message, _] = acts(await send(ch2, activity("안녕")))
    assert message["text"] == message["speak"] == "죄송해요, 지금은 답할 수 없어요."


async def test_a_failed_order_ends_with_its_error(http: HttpClient) -> None:
    ch = await started(http)
    got = await send(ch, activity("피자 주문할래", value={"menu": "폭탄", "size": "라지"}))
    assert got.result_code == "SkillError"
    assert got.error is not None and "the oven exploded" in got.error
    assert acts(got)[1]["code"] == "SkillError"


AUDIO_PLAY = """
name: radio
intents:
  play.radio:
    examples: ["라디오 틀어 줘"]
actions:
  radio.play:
    trigger: {intent: play.radio}
    backend: true
    response:
      type: end
      prompts: ["라디오를 틀게요."]
"""


async def test_audio_becomes_a_card_and_other_directives_channel_data(http: HttpClient) -> None:
    play = Play(parse_definition(AUDIO_PLAY, "radio.yaml"))
    other = {"type": "Display.Template", "token": "t"}
    no_url = directives.play("https://x.example/a.mp3", "t0")
    no_url["audioItem"]["stream"]["url"] = ""

    @play.action("radio.play")
    async def radio(req: ActionRequest) -> Reply:
        return Reply(directives=[directives.play("https://x.example/1.mp3", "t1"), other, no_url])

    ch = await started(http, play=play)
    got = await send(ch, activity("라디오 틀어 줘"))
    [message, eoc] = acts(got)
    assert message["text"] == "라디오를 틀게요."
    assert message["attachments"] == [
        {
            "contentType": "application/vnd.microsoft.card.audio",
            "content": {"media": [{"url": "https://x.example/1.mp3"}]},
        }
    ]
    assert message["channelData"] == {"directives": [other, no_url]}
    assert eoc["code"] == "completedSuccessfully"


async def test_values_with_text_that_names_no_intent(
    http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    ch = await started(http)
    with caplog.at_level(logging.INFO, "voicehook.botframework"):
        got = await send(ch, activity("음", value={"menu": "불고기"}))
    assert got.result_code != "SkillError"
    assert "Bot Framework: values came with text that matches no intent; ignored" in (
        caplog.messages
    )
    blank = await send(ch, activity("  ", conv="c2", value={"menu": "불고기"}))
    assert blank.result_code != "SkillError"


async def test_values_add_to_the_entities_of_the_text(http: HttpClient) -> None:
    """The text's entities (불고기) and the values (라지) fill the slots together."""
    ch = await started(http)
    got = await send(ch, activity("불고기 피자 주문해 줘", value={"size": "라지"}))
    assert got.result_code == "completedSuccessfully"
    assert acts(got)[0]["text"] == "불고기 피자 라지, 주문 번호 101번으로 주문했어요."


async def test_a_reply_that_cannot_be_delivered(
    http: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    async with consumer() as root:
        root.status = 404
        ch = await started(http)
        body = activity("피자 주문할래", serviceUrl=root.service_url, deliveryMode="normal")
        with caplog.at_level(logging.WARNING, "voicehook.botframework"):
            got = await send(ch, body, rid="rid-d")
    assert (got.status, got.body, got.result_code) == (201, b"", "DELIVERY_FAILED")
    assert got.error is not None and "404" in got.error
    [record] = [r for r in caplog.records if "could not be delivered" in r.getMessage()]
    assert record.getMessage() == (
        f"Bot Framework: a reply could not be delivered to the caller: {got.error}"
    )
    assert record.request_id == "rid-d"  # type: ignore[attr-defined]


async def test_not_started() -> None:
    ch = BotFrameworkChannel(make_play(), BotAuthConfig())
    with pytest.raises(Exception) as err:
        await send(ch, activity("x"))
    assert (err.value.status, err.value.code) == (503, "not_started")  # type: ignore[attr-defined]
    assert asyncio.iscoroutinefunction(ch.shutdown)


async def test_a_shutdown_during_a_turn_leaves_the_replies_undelivered(http: HttpClient) -> None:
    """The server stops while a turn runs: its replies are not sent (the connector is closed),
    and the call says why."""
    async with consumer() as root:
        play = make_play()

        def engine(app: AppContext) -> DialogEngine:
            caller = PlayCaller(play, app, settings=RuntimeSettings(deadline=0.5))
            return DialogEngine(play.definition, caller, tokenizer=SimpleTokenizer())

        ch = await started(http, play=play, engine=engine)
        body = activity(
            "피자 주문할래",
            value={"menu": "거북이", "size": "라지"},  # a 10 s order, cut at 0.5 s
            serviceUrl=root.service_url,
            deliveryMode="normal",
        )
        task = asyncio.get_running_loop().create_task(send(ch, body))
        await asyncio.sleep(0.1)
        await ch.shutdown(AppContext(play.name))
        got = await task
    assert (got.status, got.result_code, got.error) == (201, "DELIVERY_FAILED", "not started")
    assert root.calls == []
