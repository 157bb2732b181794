"""The CLOVA channel in process: verification before parsing, app ids, every request type,
deadline and failure speech, and fuzzing (never anything but a 200 or a precise 4xx)."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook.clova import (
    ClovaChannel,
    ClovaRequest,
    Extension,
    SignatureVerifier,
    SpeechLimits,
    Text,
    ask,
    tell,
)
from voicehook.clova import directives as d
from voicehook.errors import HttpError
from voicehook.http import Answer, HttpRequest
from voicehook.testing import ClovaSigner, cek_request

FIXTURE = json.loads((Path(__file__).parent / "data" / "clova-signed-request.json").read_text())


def make_extension() -> tuple[Extension, list[str]]:
    ext = Extension("test")
    seen: list[str] = []

    @ext.launch
    async def launch(req: ClovaRequest) -> Any:
        seen.append("launch")
        return ask("어느 지역 날씨가 궁금하세요?", reprompt="지역을 말씀해 주세요.")

    @ext.intent("Weather")
    def weather(req: ClovaRequest) -> Any:  # a plain def runs in a thread
        seen.append("weather")
        return tell(f"{req.slot('city', '서울')}은 맑아요.", attributes={"n": 1})

    @ext.intent("Clova.GuideIntent")
    async def guide(req: ClovaRequest) -> Any:
        seen.append("guide")
        return "날씨를 물어보세요."

    @ext.intent("Boom")
    async def boom(req: ClovaRequest) -> Any:
        raise RuntimeError("database down")

    @ext.intent("Slow")
    async def slow(req: ClovaRequest) -> Any:
        await asyncio.sleep(5)

    @ext.intent("Long")
    async def long(req: ClovaRequest) -> Any:
        return tell("가" * 250)

    @ext.intent("Play")
    async def play(req: ClovaRequest) -> Any:
        return tell(
            "재생할게요.",
            directives=[
                d.audio_play("https://x.example/1.mp3", "t1", title="a", subtitle="b", source="c")
            ],
        )

    @ext.event("AudioPlayer.PlayFinished")
    async def finished(req: ClovaRequest) -> Any:
        seen.append(f"finished {req.payload.get('token')}")
        return None

    @ext.session_ended
    async def ended(req: ClovaRequest) -> Any:
        seen.append("ended")
        return tell("안녕히 가세요.")  # CLOVA ignores it: the channel answers the empty one

    return ext, seen


def channel(signer: ClovaSigner | None, **kwargs: Any) -> tuple[ClovaChannel, list[str]]:
    ext, seen = make_extension()
    kwargs.setdefault("limits", SpeechLimits(mode="error"))
    return (
        ClovaChannel(ext, verifier=signer.verifier() if signer else None, **kwargs),
        seen,
    )


def call(
    ch: ClovaChannel,
    body: bytes,
    signature: str | None = None,
    header: bytes = b"signaturecek",
) -> Answer:
    headers = [(b"content-type", b"application/json")]
    if signature is not None:
        headers.append((header, signature.encode()))
    return asyncio.run(ch.handle(HttpRequest("POST", "", headers, body, "rid-1")))


def signed(ch: ClovaChannel, signer: ClovaSigner, body: bytes) -> dict[str, Any]:
    answer = call(ch, body, signer.sign(body))
    assert answer.status == 200
    assert answer.content_type == b"application/json; charset=utf-8"
    data: dict[str, Any] = json.loads(answer.body)
    assert set(data) == {"version", "sessionAttributes", "response"}
    assert {"outputSpeech", "card", "directives", "shouldEndSession"} <= set(data["response"])
    return data


def speech(data: dict[str, Any]) -> str:
    out = data["response"]["outputSpeech"]
    values = out.get("values")
    if isinstance(values, list):
        return " ".join(v["value"] for v in values)
    return values["value"] if values else ""


def test_launch_intent_event_and_session_end(signer: ClovaSigner) -> None:
    ch, seen = channel(signer)
    data = signed(ch, signer, cek_request("LaunchRequest", new=True, version="0.1.0"))
    assert data["version"] == "0.1.0"
    assert speech(data) == "어느 지역 날씨가 궁금하세요?"
    assert data["response"]["shouldEndSession"] is False
    assert (
        data["response"]["reprompt"]["outputSpeech"]["values"]["value"] == "지역을 말씀해 주세요."
    )

    data = signed(
        ch, signer, cek_request("IntentRequest", intent="Weather", slots={"city": "부산"})
    )
    assert data["version"] == "1.0"
    assert speech(data) == "부산은 맑아요."
    assert data["sessionAttributes"] == {"n": 1}
    assert data["response"]["shouldEndSession"] is True

    data = signed(
        ch,
        signer,
        cek_request("EventRequest", event="AudioPlayer.PlayFinished", payload={"token": "t1"}),
    )
    assert data["response"] == {
        "outputSpeech": {},
        "card": {},
        "directives": [],
        "shouldEndSession": True,
    }
    data = signed(ch, signer, cek_request("SessionEndedRequest"))
    assert data["response"]["outputSpeech"] == {}
    assert data["response"]["shouldEndSession"] is True
    assert seen == ["launch", "weather", "finished t1", "ended"]


def test_unhandled_event_and_unknown_intent(signer: ClovaSigner) -> None:
    ch, _ = channel(signer)
    data = signed(ch, signer, cek_request("EventRequest", event="ClovaSkill.SkillEnabled"))
    assert data["response"]["outputSpeech"] == {}
    data = signed(ch, signer, cek_request("IntentRequest", intent="Nope"))
    assert speech(data) == "죄송해요, 잘 이해하지 못했어요."


def test_default_handler(signer: ClovaSigner) -> None:
    ext = Extension()

    @ext.default
    async def anything(req: ClovaRequest) -> Any:
        return tell(f"{req.type} {req.intent or req.event}")

    ch = ClovaChannel(ext, verifier=signer.verifier())
    assert speech(signed(ch, signer, cek_request("IntentRequest", intent="X"))) == "IntentRequest X"
    body = cek_request("EventRequest", event="TemplateRuntime.RequestPlayerInfo")
    assert speech(signed(ch, signer, body)) == "EventRequest TemplateRuntime.RequestPlayerInfo"


def test_real_signed_request_through_the_channel() -> None:
    ext, seen = make_extension()
    ch = ClovaChannel(ext, verifier=SignatureVerifier.bundled())
    body = base64.b64decode(FIXTURE["body_base64"])
    answer = call(ch, body, FIXTURE["signature_cek"])
    assert answer.status == 200
    assert (
        json.loads(answer.body)["response"]["outputSpeech"]["values"]["value"]
        == "날씨를 물어보세요."
    )
    assert seen == ["guide"]
    # with an allow-list, the 2018 capture (no application object) is refused
    ch = ClovaChannel(ext, verifier=SignatureVerifier.bundled(), app_ids=["com.example.ext"])
    with pytest.raises(HttpError) as err:
        call(ch, body, FIXTURE["signature_cek"])
    assert (err.value.status, err.value.code) == (403, "application_not_allowed")


@pytest.mark.parametrize(
    ("signature", "code"),
    [
        (None, "missing_signature"),
        ("%%%", "malformed_signature"),
        ("c2lnbmF0dXJl", "invalid_signature"),
    ],
)
def test_bad_signatures_never_reach_the_handler(
    signer: ClovaSigner, signature: str | None, code: str
) -> None:
    ch, seen = channel(signer)
    with pytest.raises(HttpError) as err:
        call(ch, cek_request("LaunchRequest"), signature)
    assert (err.value.status, err.value.code) == (403, code)
    assert seen == []


def test_verification_comes_before_parsing(signer: ClovaSigner) -> None:
    ch, _ = channel(signer)
    with pytest.raises(HttpError) as err:
        call(ch, b"{not json", None)
    assert err.value.status == 403  # not 400: nothing unsigned is parsed


def test_tampered_body_and_wrong_key(signer: ClovaSigner) -> None:
    ch, seen = channel(signer)
    body = cek_request("IntentRequest", intent="Weather", slots={"city": "부산"})
    tampered = body.replace("부산".encode(), "대구".encode())
    with pytest.raises(HttpError) as err:
        call(ch, tampered, signer.sign(body))
    assert err.value.code == "invalid_signature"
    other = ClovaSigner()
    with pytest.raises(HttpError) as err:
        call(ch, body, other.sign(body))
    assert err.value.code == "invalid_signature"
    assert seen == []


def test_duplicate_signature_header(signer: ClovaSigner) -> None:
    ch, _ = channel(signer)
    body = cek_request("LaunchRequest")
    sig = signer.sign(body).encode()
    request = HttpRequest("POST", "", [(b"signaturecek", sig), (b"signaturecek", sig)], body, "rid")
    with pytest.raises(HttpError) as err:
        asyncio.run(ch.handle(request))
    assert (err.value.status, err.value.code) == (400, "duplicate_header")


def test_app_id_allow_list(signer: ClovaSigner) -> None:
    ch, seen = channel(signer, app_ids=["com.example.a", "com.example.b"])
    signed(ch, signer, cek_request("LaunchRequest", application_id="com.example.b"))
    for app_id in ("com.example.c", None):
        body = cek_request("LaunchRequest", application_id=app_id)
        with pytest.raises(HttpError) as err:
            call(ch, body, signer.sign(body))
        assert (err.value.status, err.value.code) == (403, "application_not_allowed")
    assert seen == ["launch"]


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"{not json", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_utf8"),
        (b"[]", 400, "invalid_request"),
        (b'{"request": {"type": "LaunchRequest"}, "session": 3}', 400, "invalid_request"),
        (b'{"version": "1.0"}', 400, "missing_field"),
        (b'{"request": {"type": "FooRequest"}}', 400, "unknown_request_type"),
    ],
)
def test_bad_bodies(signer: ClovaSigner, body: bytes, status: int, code: str) -> None:
    ch, _ = channel(signer)
    with pytest.raises(HttpError) as err:
        call(ch, body, signer.sign(body))
    assert (err.value.status, err.value.code) == (status, code)
    assert "부산" not in err.value.message


def test_handler_error_is_the_failure_speech(signer: ClovaSigner, caplog: Any) -> None:
    ch, _ = channel(signer)
    body = cek_request("IntentRequest", intent="Boom")
    with caplog.at_level(logging.ERROR, "voicehook.clova"):
        answer = call(ch, body, signer.sign(body))
    assert answer.status == 200
    assert answer.result_code == "HANDLER_ERROR"
    assert "database down" in (answer.error or "")
    data = json.loads(answer.body)
    assert data["response"]["shouldEndSession"] is True
    assert "잠시 후에" in data["response"]["outputSpeech"]["values"]["value"]
    assert "database down" not in answer.body.decode()
    assert any(getattr(r, "request_id", None) == "rid-1" for r in caplog.records)


def test_timeout_is_the_failure_speech(signer: ClovaSigner) -> None:
    ch, _ = channel(signer, deadline=0.2)
    body = cek_request("IntentRequest", intent="Slow")
    answer = call(ch, body, signer.sign(body))
    assert answer.status == 200
    assert answer.result_code == "TIMEOUT"
    assert json.loads(answer.body)["response"]["shouldEndSession"] is True


def test_speech_limits_development_and_production(signer: ClovaSigner) -> None:
    body = cek_request("IntentRequest", intent="Long")
    dev, _ = channel(signer)
    answer = call(dev, body, signer.sign(body))
    assert answer.result_code == "SPEECH_LIMIT"
    assert "250 characters" in (answer.error or "")
    prod, _ = channel(signer, limits=SpeechLimits(mode="fix"))
    data = signed(prod, signer, body)
    assert [len(v["value"]) for v in data["response"]["outputSpeech"]["values"]] == [200, 50]


def test_directives_and_speech_items(signer: ClovaSigner) -> None:
    ch, _ = channel(signer)
    data = signed(ch, signer, cek_request("IntentRequest", intent="Play"))
    [directive] = data["response"]["directives"]
    assert directive["header"]["name"] == "Play"
    assert Text("x").lang is None


def test_bad_deadline() -> None:
    with pytest.raises(ValueError, match="8 seconds"):
        ClovaChannel(Extension(), verifier=None, deadline=9)


def test_extension_registration_errors() -> None:
    ext = Extension()
    ext.intent("A")(lambda req: None)
    with pytest.raises(ValueError, match="already"):
        ext.intent("A")(lambda req: None)
    with pytest.raises(ValueError, match=r"Namespace\.Name"):
        ext.event("PlayStarted")
    with pytest.raises(ValueError, match="lang"):
        Extension(lang="fr")


def test_a_wrong_return_type_is_the_failure_speech(signer: ClovaSigner) -> None:
    ext = Extension()

    @ext.launch
    async def launch(req: ClovaRequest) -> Any:
        return 42

    ch = ClovaChannel(ext, verifier=signer.verifier())
    body = cek_request("LaunchRequest")
    answer = call(ch, body, signer.sign(body))
    assert answer.status == 200
    assert answer.result_code == "HANDLER_ERROR"
    assert "return a Response" in (answer.error or "")


# -- fuzzing: signed garbage never gives anything but a 200 or a precise 4xx -------------------

FUZZ_SIGNER = ClovaSigner()
FUZZ_CHANNEL, _ = channel(FUZZ_SIGNER)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
VALID = json.loads(cek_request("IntentRequest", intent="Weather", slots={"city": "부산"}))


def mutate(data: Any, path: list[str], value: Any) -> Any:
    if not path or not isinstance(data, dict):
        return value
    out = dict(data)
    out[path[0]] = mutate(data.get(path[0]), path[1:], value)
    return out


paths = st.sampled_from(
    [
        ["version"],
        ["session"],
        ["session", "sessionId"],
        ["session", "user"],
        ["session", "sessionAttributes"],
        ["context"],
        ["context", "System"],
        ["context", "System", "application"],
        ["context", "AudioPlayer"],
        ["request"],
        ["request", "type"],
        ["request", "intent"],
        ["request", "intent", "name"],
        ["request", "intent", "slots"],
        ["request", "intent", "slots", "city"],
        ["request", "intent", "slots", "city", "value"],
        ["request", "event"],
    ]
)
kinds = st.sampled_from(["LaunchRequest", "IntentRequest", "SessionEndedRequest", "EventRequest"])


def check(answer: Answer | HttpError) -> None:
    if isinstance(answer, HttpError):
        assert 400 <= answer.status < 500
        return
    assert answer.status == 200
    data = json.loads(answer.body)
    assert isinstance(data["response"]["shouldEndSession"], bool)


def fuzz_call(body: bytes) -> Answer | HttpError:
    try:
        return call(FUZZ_CHANNEL, body, FUZZ_SIGNER.sign(body))
    except HttpError as exc:
        return exc


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kinds, paths, json_values)
def test_fuzz_mutated_requests(kind: str, path: list[str], value: Any) -> None:
    data = mutate(dict(VALID, request=dict(VALID["request"], type=kind)), path, value)
    check(fuzz_call(json.dumps(data).encode()))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=64) | json_values.map(lambda v: json.dumps(v).encode()))
def test_fuzz_random_bodies(body: bytes) -> None:
    check(fuzz_call(body))
