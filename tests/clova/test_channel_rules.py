"""The CLOVA channel's rules with their exact values (found by mutation testing): the deadline
bounds, the applicationId allow-list, each 4xx's message, the failure answers and the logs."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from voicehook.clova import ClovaChannel, ClovaRequest, Extension, SpeechLimits, tell
from voicehook.errors import HttpError
from voicehook.http import Answer, HttpRequest
from voicehook.play.context import AppContext
from voicehook.testing import ClovaSigner, cek_request

CONTENT_TYPE = b"application/json; charset=utf-8"


class Stop(BaseException):
    """Not an Exception: like KeyboardInterrupt, it must not become the failure speech."""


def extension(failure_speech: str | None = None) -> Extension:
    ext = Extension("rules") if failure_speech is None else Extension(failure_speech=failure_speech)

    @ext.launch
    async def launch(req: ClovaRequest) -> Any:
        return tell("안녕하세요.")

    @ext.intent("Boom")
    async def boom(req: ClovaRequest) -> Any:
        raise RuntimeError("database down")

    @ext.intent("Stop")
    async def stop(req: ClovaRequest) -> Any:
        raise Stop

    @ext.intent("Slow")
    async def slow(req: ClovaRequest) -> Any:
        await asyncio.sleep(5)

    @ext.intent("Long")
    async def long(req: ClovaRequest) -> Any:
        return tell("가" * 250)

    return ext


def call(ch: ClovaChannel, body: bytes) -> Answer:
    return asyncio.run(ch.handle(HttpRequest("POST", "", [], body, "rid-9")))


def refusal(ch: ClovaChannel, body: bytes) -> tuple[int, str, str]:
    with pytest.raises(HttpError) as err:
        call(ch, body)
    return err.value.status, err.value.code, err.value.message


@pytest.mark.parametrize("deadline", [0, -1, 8, 8.5])
def test_deadline_must_be_between_0_and_8_seconds(deadline: float) -> None:
    with pytest.raises(ValueError) as err:
        ClovaChannel(Extension(), verifier=None, deadline=deadline)
    assert str(err.value) == "the CLOVA deadline must be between 0 and 8 seconds"


def test_deadline_just_inside_the_bounds() -> None:
    for deadline in (0.01, 7.99):
        assert ClovaChannel(Extension(), verifier=None, deadline=deadline).deadline == deadline
    assert ClovaChannel(Extension(), verifier=None).deadline == 5.0


def test_app_ids_match_exactly() -> None:
    ch = ClovaChannel(extension(), verifier=None, app_ids=["com.example.a", ""])
    assert ch.app_ids == (b"com.example.a",)
    assert call(ch, cek_request("LaunchRequest", application_id="com.example.a")).status == 200
    for other in ("com.example.ab", "com.example.", "COM.EXAMPLE.A"):
        assert refusal(ch, cek_request("LaunchRequest", application_id=other)) == (
            403,
            "application_not_allowed",
            "the applicationId is not one this server serves",
        )
    assert refusal(ch, cek_request("LaunchRequest", application_id=None)) == (
        403,
        "application_not_allowed",
        "the request names no applicationId",
    )


def test_an_empty_allow_list_accepts_any_app_id() -> None:
    ch = ClovaChannel(extension(), verifier=None, app_ids=[""])
    assert call(ch, cek_request("LaunchRequest", application_id="anything")).status == 200
    assert call(ch, cek_request("LaunchRequest", application_id=None)).status == 200


def test_a_signature_refusal_keeps_the_verifiers_code_and_message(signer: ClovaSigner) -> None:
    ch = ClovaChannel(extension(), verifier=signer.verifier())
    assert refusal(ch, cek_request("LaunchRequest")) == (
        403,
        "missing_signature",
        "the SignatureCEK header is missing",
    )


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (b'{"a": "\xff"}', "invalid_utf8", "the request body is not valid UTF-8"),
        (b"[1]", "invalid_request", "invalid CEK request: Expected `object`, got `array`"),
        (b"{", "invalid_json", "the request body is not valid JSON: Input data was truncated"),
        (b'{"request": {}}', "missing_field", "missing field: request.type"),
        (b'{"request": {"type": ""}}', "missing_field", "missing field: request.type"),
        (
            b'{"request": {"type": "FooRequest"}}',
            "unknown_request_type",
            "unknown CEK request type 'FooRequest'; expected one of EventRequest, "
            "IntentRequest, LaunchRequest, SessionEndedRequest",
        ),
        (
            json.dumps({"request": {"type": "X" * 100}}).encode(),
            "unknown_request_type",
            f"unknown CEK request type {'X' * 60!r}; expected one of EventRequest, "
            "IntentRequest, LaunchRequest, SessionEndedRequest",
        ),
    ],
)
def test_bad_bodies(body: bytes, code: str, message: str) -> None:
    ch = ClovaChannel(extension(), verifier=None)
    assert refusal(ch, body) == (400, code, message)


def failure_speech(answer: Answer) -> str:
    data = json.loads(answer.body)
    assert data["response"]["shouldEndSession"] is True
    value: str = data["response"]["outputSpeech"]["values"]["value"]
    return value


def test_handler_error(caplog: pytest.LogCaptureFixture) -> None:
    ch = ClovaChannel(extension(), verifier=None)
    with caplog.at_level(logging.ERROR, "voicehook.clova"):
        answer = call(ch, cek_request("IntentRequest", intent="Boom", version="0.1.0"))
    assert json.loads(answer.body)["version"] == "0.1.0"  # the request's, also on failure
    assert (answer.status, answer.label, answer.result_code, answer.error) == (
        200,
        "IntentRequest",
        "HANDLER_ERROR",
        "RuntimeError: database down",
    )
    assert answer.content_type == CONTENT_TYPE
    assert failure_speech(answer) == Extension().failure_speech
    [record] = caplog.records
    assert record.getMessage() == "CLOVA IntentRequest failed; said the failure speech"
    assert record.exc_info is not None and record.request_id == "rid-9"  # type: ignore[attr-defined]


def test_timeout(caplog: pytest.LogCaptureFixture) -> None:
    ch = ClovaChannel(extension("늦었어요."), verifier=None, deadline=0.2)
    with caplog.at_level(logging.ERROR, "voicehook.clova"):
        answer = call(ch, cek_request("IntentRequest", intent="Slow"))
    assert (answer.status, answer.label, answer.result_code, answer.error) == (
        200,
        "IntentRequest",
        "TIMEOUT",
        "no answer within 0.2 s",
    )
    assert answer.content_type == CONTENT_TYPE
    assert failure_speech(answer) == "늦었어요."
    [record] = caplog.records
    assert (
        record.getMessage()
        == "CLOVA IntentRequest: no answer within 0.2 s; said the failure speech"
    )
    assert record.request_id == "rid-9"  # type: ignore[attr-defined]


def test_speech_over_the_limit_in_development(caplog: pytest.LogCaptureFixture) -> None:
    ch = ClovaChannel(extension(), verifier=None, limits=SpeechLimits(mode="error"))
    with caplog.at_level(logging.ERROR, "voicehook.clova"):
        answer = call(ch, cek_request("IntentRequest", intent="Long"))
    assert (answer.status, answer.label, answer.result_code) == (
        200,
        "IntentRequest",
        "SPEECH_LIMIT",
    )
    assert (answer.error or "").startswith("SpeechLimitError: ")
    assert answer.content_type == CONTENT_TYPE
    [record] = caplog.records
    assert record.getMessage().startswith("CLOVA IntentRequest: the answer breaks CLOVA's rules: ")
    detail = (answer.error or "").removeprefix("SpeechLimitError: ")
    assert record.getMessage() == (
        f"CLOVA IntentRequest: the answer breaks CLOVA's rules: {detail}; said the failure speech"
    )
    assert record.request_id == "rid-9"  # type: ignore[attr-defined]


def test_the_failure_speech_is_fixed_to_the_limits_even_in_development() -> None:
    """A failure speech over CLOVA's limit is cut, never a second error."""
    ch = ClovaChannel(extension("나" * 300), verifier=None, limits=SpeechLimits(mode="error"))
    answer = call(ch, cek_request("IntentRequest", intent="Boom"))
    assert answer.result_code == "HANDLER_ERROR"
    values = json.loads(answer.body)["response"]["outputSpeech"]["values"]
    assert "".join(v["value"] for v in values) == "나" * 300
    assert all(len(v["value"]) <= 250 for v in values)


def test_speech_fixed_in_production_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    ch = ClovaChannel(extension(), verifier=None)  # the default limits fix long speech
    with caplog.at_level(logging.WARNING, "voicehook.clova"):
        answer = call(ch, cek_request("IntentRequest", intent="Long"))
    assert (answer.label, answer.result_code, answer.error) == ("IntentRequest", "OK", None)
    assert answer.content_type == CONTENT_TYPE
    assert caplog.records, "the fix is logged"
    for record in caplog.records:
        assert record.levelno == logging.WARNING
        assert record.getMessage().startswith("CLOVA IntentRequest: ")
        assert "250" in record.getMessage()  # the warning says what was fixed
        assert record.request_id == "rid-9"  # type: ignore[attr-defined]


def test_a_base_exception_is_not_the_failure_speech() -> None:
    ch = ClovaChannel(extension(), verifier=None)
    with pytest.raises(Stop):
        call(ch, cek_request("IntentRequest", intent="Stop"))


def test_a_cancel_from_outside_is_not_the_failure_speech() -> None:
    """The client went away (or the server shuts down): the call is cancelled, not answered."""
    ch = ClovaChannel(extension(), verifier=None)

    async def run() -> None:
        request = HttpRequest("POST", "", [], cek_request("IntentRequest", intent="Slow"), "r")
        task = asyncio.get_running_loop().create_task(ch.handle(request))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(run())


def test_the_deadline_timer_follows_the_event_loop() -> None:
    """One timer per loop: a channel used from a second event loop still keeps time."""
    ch = ClovaChannel(extension(), verifier=None, deadline=0.2)
    for _ in range(2):  # asyncio.run makes a new loop each time
        assert call(ch, cek_request("IntentRequest", intent="Slow")).result_code == "TIMEOUT"


async def test_startup_logs(signer: ClovaSigner, caplog: pytest.LogCaptureFixture) -> None:
    ctx = AppContext("rules")
    with caplog.at_level(logging.INFO, "voicehook.clova"):
        await ClovaChannel(extension(), verifier=None).startup(ctx)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (
            logging.WARNING,
            "CLOVA signature verification is OFF (--clova-insecure-skip-verify): anyone who "
            "can reach this server can call the extension; use it only in development",
        ),
        (
            logging.WARNING,
            "no CLOVA application id configured (--clova-app-id): requests signed by CLOVA "
            "for any extension are answered",
        ),
    ]
    caplog.clear()
    ch = ClovaChannel(extension(), verifier=signer.verifier(), app_ids=["com.example.a"])
    with caplog.at_level(logging.INFO, "voicehook.clova"):
        await ch.startup(ctx)
    assert [(r.levelno, r.getMessage()) for r in caplog.records] == [
        (logging.INFO, f"CLOVA signatures checked with the {signer.verifier().source}")
    ]
    assert ch.context is ctx


def test_any_listed_app_id_is_accepted() -> None:
    """Every allowed id is compared (not only the last one)."""
    ch = ClovaChannel(extension(), verifier=None, app_ids=["com.example.a", "com.example.b"])
    for app_id in ("com.example.a", "com.example.b"):
        assert call(ch, cek_request("LaunchRequest", application_id=app_id)).status == 200


async def test_handlers_get_the_request_id_and_the_app_context() -> None:
    ext = Extension("ctx")
    seen: list[ClovaRequest] = []
    stopped: list[Any] = []

    @ext.launch
    async def launch(req: ClovaRequest) -> Any:
        seen.append(req)
        return tell("네.")

    @ext.on_shutdown
    async def bye(app: Any) -> None:
        stopped.append(app)

    ch = ClovaChannel(ext, verifier=None)
    request = HttpRequest("POST", "", [], cek_request("LaunchRequest"), "rid-ctx")
    await ch.handle(request)  # before startup: no app context yet
    ctx = AppContext("ctx")
    await ch.startup(ctx)
    await ch.handle(request)
    await ch.shutdown(ctx)
    assert [(r.server_request_id, r.app) for r in seen] == [("rid-ctx", None), ("rid-ctx", ctx)]
    assert stopped == [ctx]


async def test_the_deadline_cancels_the_handler() -> None:
    ext = Extension("cut")
    finished: list[str] = []

    @ext.launch
    async def launch(req: ClovaRequest) -> Any:
        await asyncio.sleep(1)
        finished.append("launch")
        return tell("늦었어요.")

    ch = ClovaChannel(ext, verifier=None, deadline=0.2)
    request = HttpRequest("POST", "", [], cek_request("LaunchRequest"), "r")
    assert (await ch.handle(request)).result_code == "TIMEOUT"
    watch = ch._watch
    assert (await ch.handle(request)).result_code == "TIMEOUT"
    assert ch._watch is watch  # one timer per event loop, shared by the calls
    await asyncio.sleep(1.2)
    assert finished == []  # cancelled at the deadline, not left running


async def test_a_cancel_from_outside_after_the_deadline_is_not_answered() -> None:
    """The handler ignores the deadline's cancel; then the client goes away: the call is
    cancelled (re-raised), not answered with the failure speech."""
    ext = Extension("stubborn")

    @ext.launch
    async def launch(req: ClovaRequest) -> Any:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            await asyncio.sleep(5)  # ignores the deadline
        return tell("안 끝나요.")

    ch = ClovaChannel(ext, verifier=None, deadline=0.2)
    request = HttpRequest("POST", "", [], cek_request("LaunchRequest"), "r")
    task = asyncio.get_running_loop().create_task(ch.handle(request))
    await asyncio.sleep(0.5)  # past the deadline
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
