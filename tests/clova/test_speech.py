"""Speech, responses and directives: shapes (spec §6, §7, §11) and limits (spec §10)."""

from __future__ import annotations

import json
import uuid

import msgspec
import pytest

from voicehook.clova import (
    Brief,
    Response,
    SpeechLimitError,
    SpeechLimits,
    Text,
    Url,
    ask,
    tell,
    wire,
)
from voicehook.clova import directives as d
from voicehook.clova.response import envelope

ERROR = SpeechLimits(mode="error")
FIX = SpeechLimits(mode="fix")


def render(response: Response, limits: SpeechLimits = ERROR) -> tuple[dict, list[str]]:
    warnings: list[str] = []
    env = envelope(response, version="1.0", lang="ko", limits=limits, warnings=warnings)
    return json.loads(wire.encode_envelope(env)), warnings


def test_simple_speech_with_reprompt_and_attributes() -> None:
    out, warnings = render(
        ask("어느 지역 날씨가 궁금하세요?", reprompt="지역을 말씀해 주세요.", attributes={"n": 1})
    )
    assert warnings == []
    assert out == {
        "version": "1.0",
        "sessionAttributes": {"n": 1},
        "response": {
            "outputSpeech": {
                "type": "SimpleSpeech",
                "values": {
                    "type": "PlainText",
                    "lang": "ko",
                    "value": "어느 지역 날씨가 궁금하세요?",
                },
            },
            "card": {},
            "directives": [],
            "shouldEndSession": False,
            "reprompt": {
                "outputSpeech": {
                    "type": "SimpleSpeech",
                    "values": {"type": "PlainText", "lang": "ko", "value": "지역을 말씀해 주세요."},
                }
            },
        },
    }


def test_speech_list_with_url_and_languages() -> None:
    out, _ = render(
        tell(
            [
                "노래를 불러 볼게요.",
                Url("https://example.com/song.m3u8", content_type="application/vnd.apple.mpegurl"),
                Text("Good night.", lang="en", token="19d33bae-6cd5-4534-b0a3-e0036b4742bd"),
            ]
        )
    )
    speech = out["response"]["outputSpeech"]
    assert speech["type"] == "SpeechList"
    assert speech["values"] == [
        {"type": "PlainText", "lang": "ko", "value": "노래를 불러 볼게요."},
        {
            "type": "URL",
            "lang": "",
            "value": "https://example.com/song.m3u8",
            "contentType": "application/vnd.apple.mpegurl",
        },
        {
            "type": "PlainText",
            "lang": "en",
            "value": "Good night.",
            "token": "19d33bae-6cd5-4534-b0a3-e0036b4742bd",
        },
    ]
    assert out["response"]["shouldEndSession"] is True


def test_speech_set() -> None:
    out, _ = render(tell(Brief("날씨예요.", ["주말까지 비가 와요.", "내일은 많이 와요."])))
    speech = out["response"]["outputSpeech"]
    assert speech["type"] == "SpeechSet"
    assert speech["brief"] == {"type": "PlainText", "lang": "ko", "value": "날씨예요."}
    assert speech["verbose"]["type"] == "SpeechList"
    assert [v["value"] for v in speech["verbose"]["values"]] == [
        "주말까지 비가 와요.",
        "내일은 많이 와요.",
    ]
    out, _ = render(tell(Brief("날씨예요.", "비가 와요.")))
    assert out["response"]["outputSpeech"]["verbose"]["type"] == "SimpleSpeech"


def test_no_speech_is_an_empty_object() -> None:
    out, _ = render(Response())
    assert out["response"]["outputSpeech"] == {}


def test_reprompt_needs_an_open_session() -> None:
    with pytest.raises(ValueError, match="end=False"):
        Response("안녕", reprompt="여보세요?", end=True)


def test_bad_language() -> None:
    with pytest.raises(SpeechLimitError, match="lang"):
        render(tell(Text("Bonjour", lang="fr")))


LONG_SENTENCE = "가" * 150 + " " + "나" * 150 + "."


def test_long_sentence_is_an_error_in_development() -> None:
    with pytest.raises(SpeechLimitError, match="sentence of 302 characters"):
        render(tell(LONG_SENTENCE))


def test_long_sentence_is_cut_in_production() -> None:
    out, warnings = render(tell(LONG_SENTENCE), FIX)
    values = out["response"]["outputSpeech"]["values"]
    assert [len(v["value"]) for v in values] == [150, 151]
    assert all(len(v["value"]) <= 200 for v in values)
    assert warnings and "cut into 2 items" in warnings[0]


def test_sentences_are_packed_up_to_200() -> None:
    text = " ".join(["오늘은 맑아요."] * 40)  # 8 characters each, 359 in total
    out, _ = render(tell(text), FIX)
    values = [v["value"] for v in out["response"]["outputSpeech"]["values"]]
    assert "".join(values).replace(" ", "") == text.replace(" ", "")
    assert all(len(v) <= 200 for v in values)
    render(tell(text))  # short sentences are fine in development too


def test_total_limit() -> None:
    many = ["문장입니다. " * 20] * 8  # 8 items of 139 characters: 1,112 in total
    with pytest.raises(SpeechLimitError, match="characters of speech"):
        render(tell(many))
    out, warnings = render(tell(many), FIX)
    total = sum(len(v["value"]) for v in out["response"]["outputSpeech"]["values"])
    assert 900 < total <= 1000
    assert any("cut at" in w for w in warnings)


def test_url_limit() -> None:
    long_url = "https://example.com/" + "a" * 2100
    with pytest.raises(SpeechLimitError, match="2048"):
        render(tell(["노래예요.", Url(long_url)]))
    out, warnings = render(tell(["노래예요.", Url(long_url)]), FIX)
    assert out["response"]["outputSpeech"]["type"] == "SimpleSpeech"
    assert "dropped" in warnings[0]
    with pytest.raises(SpeechLimitError):
        render(
            Response(directives=[d.audio_play(long_url, "t", title="a", subtitle="b", source="c")])
        )
    out, warnings = render(
        Response(directives=[d.audio_play(long_url, "t", title="a", subtitle="b", source="c")]),
        FIX,
    )
    assert out["response"]["directives"] == []
    assert warnings


def test_speech_of_a_wrong_type() -> None:
    with pytest.raises(TypeError, match="speech item"):
        render(tell([1]))  # type: ignore[list-item]


def test_korean_url_bytes_count() -> None:
    url = "https://example.com/" + "가" * 680  # 2,060 bytes in UTF-8, 700 characters
    with pytest.raises(SpeechLimitError):
        render(tell(Url(url)))


def uuid_ok(value: str) -> bool:
    return str(uuid.UUID(value)) == value


def test_audio_play_directive() -> None:
    play = d.audio_play(
        "https://streaming.example.com/2231122.mp3",
        "ep-22346122",
        title="12화",
        subtitle="팟빵",
        source="팟빵",
        art_image_url="https://example.com/art.png",
        duration_ms=300000,
        progress_interval_ms=60000,
    )
    out, _ = render(Response("재생할게요.", directives=[play]))
    [directive] = out["response"]["directives"]
    assert set(directive) == {"header", "payload"}
    assert directive["header"]["namespace"] == "AudioPlayer"
    assert directive["header"]["name"] == "Play"
    assert uuid_ok(directive["header"]["messageId"])
    assert directive["payload"] == {
        "audioItem": {
            "audioItemId": "ep-22346122",
            "stream": {
                "beginAtInMilliseconds": 0,
                "token": "ep-22346122",
                "url": "https://streaming.example.com/2231122.mp3",
                "urlPlayable": True,
                "durationInMilliseconds": 300000,
                "progressReport": {
                    "progressReportDelayInMilliseconds": None,
                    "progressReportIntervalInMilliseconds": 60000,
                    "progressReportPositionInMilliseconds": None,
                },
            },
            "titleText": "12화",
            "titleSubText1": "팟빵",
            "artImageUrl": "https://example.com/art.png",
        },
        "playBehavior": "REPLACE_ALL",
        "source": {"name": "팟빵"},
    }


def test_other_directives() -> None:
    deliver = d.stream_deliver("item-1", "TR-1", "https://music.example.com/1.mp3")
    assert msgspec.to_builtins(deliver)["payload"] == {
        "audioItemId": "item-1",
        "audioStream": {"token": "TR-1", "url": "https://music.example.com/1.mp3"},
    }
    for builder, name in ((d.pause, "Pause"), (d.resume, "Resume"), (d.stop, "Stop")):
        built = msgspec.to_builtins(builder())
        assert built["header"]["namespace"] == "PlaybackController"
        assert built["header"]["name"] == name
        assert built["payload"] == {}
    assert d.pause().header.message_id != d.pause().header.message_id
    info = msgspec.to_builtins(
        d.render_player_info(
            [{"token": "t1", "titleText": "노래", "titleSubText1": "가수"}], provider="뮤직"
        )
    )
    assert info["header"]["name"] == "RenderPlayerInfo"
    assert info["payload"]["playableItems"][0]["showAdultIcon"] is False
    assert [c["name"] for c in info["payload"]["controls"]] == ["PLAY_PAUSE", "NEXT", "PREVIOUS"]
    assert info["payload"]["provider"] == {"name": "뮤직"}


def test_directive_errors() -> None:
    with pytest.raises(d.DirectiveError, match="title"):
        d.audio_play("https://x", "t", title="", subtitle="b", source="c")
    with pytest.raises(d.DirectiveError, match="token"):
        d.audio_play("https://x", "", title="a", subtitle="b", source="c")
    with pytest.raises(d.DirectiveError, match="titleText"):
        d.render_player_info([{"token": "t"}])
