"""CEK ``AudioPlayer.StreamRequested`` in play mode: the play's event handler answers it with a
NUGU-form ``AudioPlayer.Play``, and CLOVA gets ``AudioPlayer.StreamDeliver``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tests._support.server import running_server
from voicehook import ActionRequest, Play, Reply
from voicehook.cli.loading import load_play
from voicehook.clova import ClovaChannel, SpeechLimits
from voicehook.clova.playmode import PlayMode, StreamRequest, to_cek_directives
from voicehook.nugu import directives as nugu
from voicehook.play import parse_definition
from voicehook.server import Settings, create_app
from voicehook.server.routing import Route
from voicehook.store import MemoryStore
from voicehook.testing import ClovaClient, ClovaSigner

ROOT = Path(__file__).resolve().parents[2]
CDN = "https://cdn.example.com/radio"

#: The answer to events the play does not act on (spec §11.12).
NEUTRAL = {
    "version": "1.0",
    "sessionAttributes": {},
    "response": {"outputSpeech": {}, "card": {}, "directives": [], "shouldEndSession": True},
}

RADIO = """
name: radio
invocation: 라디오 상자
entities:
  CHANNEL:
    values:
      클래식 채널: [클래식 라디오]
      뉴스 채널: [뉴스 라디오]
intents:
  play.radio:
    examples: ["[클래식 채널](CHANNEL) 틀어줘", "라디오 틀어줘"]
actions:
  radio.play:
    trigger: {intent: play.radio}
    backend: true
    parameters:
      channel: {type: CHANNEL}
    response: {type: end, prompts: ["{{channel}}을 틀어 드릴게요."]}
  radio.started:
    trigger: {event: AudioPlayer.PlaybackStarted}
    backend: true
    response: {type: end, silent: true}
  radio.stream:
    trigger: {event: AudioPlayer.StreamRequested}
    backend: true
    response: {type: end, silent: true}
"""

CHANNELS = {"클래식 채널": "classic", "뉴스 채널": "news"}


def radio_play() -> tuple[Play, list[tuple[str, Any, Any]]]:
    """A radio play with short-lived stream URLs: the first Play sends an opaque URL
    (``urlPlayable: false``); CLOVA asks for the real one with StreamRequested. ``seen``
    records what each event handler got."""
    play = Play(parse_definition(RADIO))
    seen: list[tuple[str, Any, Any]] = []
    keys = iter(range(1000, 2000))

    @play.action("radio.play")
    async def start(req: ActionRequest) -> Reply:
        channel = CHANNELS.get(str(req.params["channel"] or "클래식 채널"), "classic")
        directive = nugu.play(
            f"{CDN}/{channel}",
            channel,
            template=nugu.template1("라디오 상자", f"{channel} 채널", subtitle1="24시간 방송"),
        )
        directive["audioItem"]["stream"]["urlPlayable"] = False  # CLOVA: ask me for the URL
        return Reply(directives=[directive])

    @play.action("radio.started")
    async def started(req: ActionRequest) -> Reply:
        assert req.event is not None
        seen.append(("started", req.event.token, req.event.offset_in_milliseconds))
        return Reply()

    @play.action("radio.stream")
    async def stream(req: ActionRequest) -> Reply:
        assert req.event is not None
        token = req.event.token
        seen.append(("stream", token, req.event.fields.get("audioItemId")))
        if token not in CHANNELS.values():
            return Reply()  # not ours: nothing to deliver
        url = f"{CDN}/{token}.m3u8?key={next(keys)}"  # a fresh short-lived URL
        return Reply(directives=[nugu.play(url, token)])

    return play, seen


def app_for(play: Play, signer: ClovaSigner) -> Any:
    channel = ClovaChannel(
        PlayMode(play), verifier=signer.verifier(), limits=SpeechLimits(mode="error")
    )
    return create_app(
        play, Settings(), store=MemoryStore(), routes=[Route("/clova", channel, exact=True)]
    )


def stream_requested(play_payload: dict[str, Any]) -> dict[str, Any]:
    """The StreamRequested payload CLOVA sends for the item of an ``AudioPlayer.Play``."""
    item = play_payload["audioItem"]
    return {"audioItemId": item["audioItemId"], "audioStream": copy.deepcopy(item["stream"])}


async def test_play_started_stream_requested_stream_deliver(signer: ClovaSigner) -> None:
    play, seen = radio_play()
    with running_server(app_for(play, signer)) as base:
        async with ClovaClient(base, signer, path="/clova") as c:
            t = await c.intent("play.radio", {"CHANNEL": "뉴스 채널"})
            assert t.status == 200
            assert t.speech == "뉴스 채널을 틀어 드릴게요."
            assert t.directives == ["AudioPlayer.Play"]
            payload = t.response["directives"][0]["payload"]
            assert payload["audioItem"]["stream"] == {
                "beginAtInMilliseconds": 0,
                "token": "news",
                "url": f"{CDN}/news",
                "urlPlayable": False,
            }
            assert payload["audioItem"]["audioItemId"] == "news"

            t = await c.event(
                "AudioPlayer.PlayStarted", {"token": "news", "offsetInMilliseconds": 0}
            )
            assert (t.status, t.data) == (200, NEUTRAL)
            assert seen[-1] == ("started", "news", 0)

            # The device's context names another stream: the requested token wins.
            c.audio_player = {"playerActivity": "PLAYING", "stream": {"token": "classic"}}
            request = stream_requested(payload)
            request["audioItemId"] = "9CPWU-c82302b2-news"
            request["audioStream"]["progressReport"] = {
                "progressReportDelayInMilliseconds": None,
                "progressReportIntervalInMilliseconds": None,
                "progressReportPositionInMilliseconds": 60000,
            }
            t = await c.event("AudioPlayer.StreamRequested", request)
            assert t.status == 200
            assert seen[-1] == ("stream", "news", "9CPWU-c82302b2-news")
            assert t.directives == ["AudioPlayer.StreamDeliver"]
            deliver = t.response["directives"][0]
            assert deliver["payload"] == {
                "audioItemId": "9CPWU-c82302b2-news",
                "audioStream": {"token": "news", "url": f"{CDN}/news.m3u8?key=1000"},
            }
            assert len(deliver["header"]["messageId"]) == 36
            assert t.response["outputSpeech"] == {}
            assert t.end is True

            # Asked again (the URL expired): a fresh URL for the same item.
            t = await c.event("AudioPlayer.StreamRequested", request)
            assert t.response["directives"][0]["payload"]["audioStream"] == {
                "token": "news",
                "url": f"{CDN}/news.m3u8?key=1001",
            }


async def test_unknown_token_gets_the_neutral_answer(signer: ClovaSigner) -> None:
    play, seen = radio_play()
    with running_server(app_for(play, signer)) as base:
        async with ClovaClient(base, signer, path="/clova") as c:
            t = await c.event(
                "AudioPlayer.StreamRequested",
                {
                    "audioItemId": "TR-NM-17413540",
                    "audioStream": {
                        "beginAtInMilliseconds": 0,
                        "token": "TR-NM-17413540",
                        "url": "clova:TR-NM-17413540",
                        "urlPlayable": False,
                    },
                },
            )
            assert (t.status, t.data) == (200, NEUTRAL)
            assert seen == [("stream", "TR-NM-17413540", "TR-NM-17413540")]


@pytest.mark.parametrize(
    "payload",
    [
        None,
        {},
        {"audioItemId": "x"},
        {"audioItemId": "x", "audioStream": None},
        {"audioItemId": "x", "audioStream": {"token": None, "url": "clova:x"}},
        {"audioItemId": None, "audioStream": {"token": 7, "beginAtInMilliseconds": "0"}},
        {"audioItemId": "x", "audioStream": {"token": ""}},
        {"audioItemId": "x", "audioStream": ["news"]},
    ],
)
async def test_odd_stream_requests_never_fail(
    signer: ClovaSigner, payload: dict[str, Any] | None
) -> None:
    """No token we know: nothing to deliver, a 200 neutral answer (or a precise 4xx)."""
    play, seen = radio_play()
    async with ClovaClient(app_for(play, signer), signer, path="/clova") as c:
        t = await c.event("AudioPlayer.StreamRequested", payload)
        assert t.status == 200 or 400 <= t.status < 500, t.data
        if t.status == 200:
            assert t.data == NEUTRAL
            assert seen and seen[-1][0] == "stream"


async def test_a_play_of_the_requested_token_without_audio_item_id(signer: ClovaSigner) -> None:
    """CEK sent no audioItemId: the token is the item id, as in ``AudioPlayer.Play``."""
    play, _ = radio_play()
    async with ClovaClient(app_for(play, signer), signer, path="/clova") as c:
        t = await c.event("AudioPlayer.StreamRequested", {"audioStream": {"token": "classic"}})
        assert t.response["directives"][0]["payload"] == {
            "audioItemId": "classic",
            "audioStream": {"token": "classic", "url": f"{CDN}/classic.m3u8?key=1000"},
        }


async def test_a_play_without_a_stream_requested_action(signer: ClovaSigner) -> None:
    """The music example does not listen to StreamRequested: the neutral answer."""
    music = load_play(str(ROOT / "examples" / "music"))
    async with ClovaClient(app_for(music, signer), signer, path="/clova") as c:
        t = await c.event(
            "AudioPlayer.StreamRequested",
            {"audioItemId": "classic:0", "audioStream": {"token": "classic:0"}},
        )
        assert (t.status, t.data) == (200, NEUTRAL)


async def test_a_failing_stream_handler_is_the_failure_prompt(signer: ClovaSigner) -> None:
    play = Play(
        parse_definition(
            RADIO.replace("name: radio", "name: radio\nfailure_prompt: 잠시 후 다시 들어 주세요.")
        )
    )

    @play.action("radio.stream")
    async def broken(req: ActionRequest) -> Reply:
        raise RuntimeError("the CDN is down")

    async with ClovaClient(app_for(play, signer), signer, path="/clova") as c:
        t = await c.event("AudioPlayer.StreamRequested", {"audioStream": {"token": "news"}})
        assert (t.status, t.speech, t.directives) == (200, "잠시 후 다시 들어 주세요.", [])


def _names(out: list[Any]) -> list[str]:
    return [f"{d.header.namespace}.{d.header.name}" for d in out]


def test_directive_mapping_for_a_stream_request() -> None:
    warnings: list[str] = []
    wanted = StreamRequest("item-1", "a:0")
    out = to_cek_directives(
        [nugu.play(f"{CDN}/a.mp3?k=1", "a:0"), nugu.play(f"{CDN}/b.mp3", "b:0")],
        source="라디오 상자",
        warnings=warnings,
        deliver=wanted,
    )
    # the requested token: delivered; another token: a Play that replaces the item
    assert _names(out) == ["AudioPlayer.StreamDeliver", "AudioPlayer.Play"]
    assert out[0].payload == {
        "audioItemId": "item-1",
        "audioStream": {"token": "a:0", "url": f"{CDN}/a.mp3?k=1"},
    }
    assert out[1].payload["audioItem"]["stream"]["token"] == "b:0"
    assert warnings == []

    # without a stream request a Play stays a Play; urlPlayable: false passes through
    deferred = nugu.play(f"{CDN}/a", "a:0")
    deferred["audioItem"]["stream"]["urlPlayable"] = False
    (plain,) = to_cek_directives([deferred], source="라디오 상자", warnings=warnings)
    assert _names([plain]) == ["AudioPlayer.Play"]
    assert plain.payload["audioItem"]["stream"]["urlPlayable"] is False
    (plain,) = to_cek_directives([nugu.play(f"{CDN}/a", "a:0")], source="s", warnings=warnings)
    assert plain.payload["audioItem"]["stream"]["urlPlayable"] is True

    # a CEK-form StreamDeliver without audioItemId or token: the requested ones
    (passed,) = to_cek_directives(
        [{"type": "AudioPlayer.StreamDeliver", "audioStream": {"url": f"{CDN}/a.mp3"}}],
        source="s",
        warnings=warnings,
        deliver=wanted,
    )
    assert passed.payload == {
        "audioItemId": "item-1",
        "audioStream": {"token": "a:0", "url": f"{CDN}/a.mp3"},
    }
    # ... and with no stream request it still needs them
    assert (
        to_cek_directives(
            [{"type": "AudioPlayer.StreamDeliver", "audioStream": {"url": f"{CDN}/a.mp3"}}],
            source="s",
            warnings=warnings,
        )
        == []
    )
    assert warnings == [
        "AudioPlayer.StreamDeliver dropped: audio_item_id must be a non-empty string"
    ]
