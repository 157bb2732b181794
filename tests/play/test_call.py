"""The action call: echo rule, result codes, deadline, thread pool, injection, events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from decimal import Decimal
from typing import Any

import pytest

from voicehook.play import (
    ActionRequest,
    Event,
    Play,
    PlayError,
    Reply,
    RuntimeSettings,
    parse_definition,
    to_output_value,
)

DEFINITION = """
name: test
exceptions:
  GLOBAL_DOWN: {prompts: [지금은 안 돼요.]}
actions:
  answer.weather:
    backend: true
    parameters:
      location: {type: LOCATION}
      day: {type: BID_DT_DAY}
      weather: backend
      unit: {value: celsius}
    exceptions:
      UNSUPPORTED_LOCATION: {prompts: ["{{location}은} 몰라요."]}
entities:
  LOCATION: {values: {서울: [], 부산: []}}
"""


def make_play(**settings: Any) -> Play:
    return Play(parse_definition(DEFINITION), settings=RuntimeSettings(**settings))


def request(play: Play, action: str = "answer.weather", **params: Any) -> ActionRequest:
    spec = play.spec(action)
    base = spec.new_params() if spec else {}
    base.update(params)
    return ActionRequest(action, base, request_id="rid-1")


async def test_every_declared_key_is_echoed_and_values_are_strings() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> dict[str, object]:
        return {"weather": 21}

    result = await play.call(request(play, location="서울"))
    assert result.result_code == "OK"
    assert result.output == {
        "location": "서울",
        "day": None,
        "weather": "21",
        "unit": "celsius",
    }


async def test_request_keys_outside_the_declaration_are_echoed_too() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        return None

    result = await play.call(request(play, location="부산", extra="값"))
    assert result.output["extra"] == "값"
    assert set(result.output) == {"location", "day", "weather", "unit", "extra"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (3.0, "3"),
        (2.5, "2.5"),
        (Decimal("1.10"), "1.10"),
        ([1, "가"], '[1,"가"]'),
        (None, None),
        ("문자", "문자"),
    ],
)
def test_to_output_value(value: object, text: str | None) -> None:
    assert to_output_value(value) == text


async def test_strict_output_policy_rejects_numbers() -> None:
    play = make_play(output_policy="strict")

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> dict[str, object]:
        return {"weather": 21}

    result = await play.call(request(play))
    assert result.result_code == "BACKEND_ERROR"
    assert result.error and "strings" in result.error


async def test_play_error_answers_its_code_and_keeps_echo() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        raise PlayError("UNSUPPORTED_LOCATION", output={"weather": "없음"})

    result = await play.call(request(play, location="뉴욕"))
    assert result.result_code == "UNSUPPORTED_LOCATION"
    assert result.output["location"] == "뉴욕"
    assert result.output["weather"] == "없음"


async def test_global_code_is_accepted_without_warning(caplog: pytest.LogCaptureFixture) -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        raise PlayError("GLOBAL_DOWN")

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        result = await play.call(request(play))
    assert result.result_code == "GLOBAL_DOWN"
    assert "declared neither" not in caplog.text


async def test_undeclared_code_is_sent_but_warned_once(caplog: pytest.LogCaptureFixture) -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        raise PlayError("NOT_DECLARED")

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        first = await play.call(request(play))
        await play.call(request(play))
    assert first.result_code == "NOT_DECLARED"
    assert caplog.text.count("declared neither") == 1


async def test_unexpected_exception_becomes_failure_code_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = make_play(failure_code="OOPS")

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        raise ZeroDivisionError("boom")

    with caplog.at_level(logging.ERROR, "voicehook.play"):
        result = await play.call(request(play, location="서울"))
    assert result.result_code == "OOPS"
    assert result.output["location"] == "서울"
    record = next(r for r in caplog.records if r.name == "voicehook.play")
    assert record.request_id == "rid-1"  # type: ignore[attr-defined]
    assert record.exc_info is not None


async def test_deadline_cancels_a_slow_async_handler() -> None:
    play = make_play(deadline=0.05, timeout_code="TOO_SLOW")
    cancelled = asyncio.Event()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    result = await play.call(request(play))
    assert result.result_code == "TOO_SLOW"
    assert cancelled.is_set()


async def test_deadline_answers_while_a_sync_handler_still_runs() -> None:
    play = make_play(deadline=0.05)
    release = threading.Event()

    @play.action("answer.weather")
    def handler(req: ActionRequest) -> None:
        release.wait(5)

    result = await play.call(request(play))
    release.set()
    assert result.result_code == "BACKEND_TIMEOUT"


async def test_sync_handlers_run_in_a_thread_and_do_not_block_the_loop() -> None:
    play = make_play()
    seen: dict[str, Any] = {}

    @play.action("answer.weather")
    def handler(req: ActionRequest) -> dict[str, str]:
        seen["thread"] = threading.current_thread()
        time.sleep(0.2)
        return {"weather": "맑음"}

    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    task = asyncio.create_task(ticker())
    result = await play.call(request(play))
    task.cancel()
    assert result.output["weather"] == "맑음"
    assert seen["thread"] is not threading.main_thread()
    # The loop kept running while the handler slept in its thread.
    assert ticks >= 5


async def test_parameters_are_injected_by_name() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest, location: str | None, day: str | None) -> dict[str, str]:
        return {"weather": f"{location}/{day}"}

    result = await play.call(request(play, location="서울"))
    assert result.output["weather"] == "서울/None"


def test_injecting_an_unknown_parameter_is_a_clear_error() -> None:
    play = make_play()
    with pytest.raises(TypeError, match="not a parameter of the action"):

        @play.action("answer.weather")
        async def handler(req: ActionRequest, city: str) -> None: ...


async def test_event_handlers_are_chosen_by_event_type() -> None:
    play = Play("music")

    @play.action("music.events", event="AudioPlayer.PlaybackFinished")
    async def finished(req: ActionRequest) -> Reply:
        return Reply(directives=[{"type": "AudioPlayer.Stop"}])

    @play.action("music.events")
    async def other(req: ActionRequest) -> None:
        return None

    req = ActionRequest(
        "music.events", {}, event=Event("AudioPlayer.PlaybackFinished", {"token": "t1"})
    )
    assert req.is_event("PlaybackFinished")
    assert req.event.token == "t1"
    done = await play.call(req)
    assert done.directives == [{"type": "AudioPlayer.Stop"}]
    plain = await play.call(ActionRequest("music.events", {}))
    assert plain.directives == []


def test_two_handlers_for_the_same_call_are_refused() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def one(req: ActionRequest) -> None: ...

    with pytest.raises(ValueError, match="already has a handler"):

        @play.action("answer.weather")
        async def two(req: ActionRequest) -> None: ...


async def test_invalid_directive_is_a_handler_error() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> Reply:
        return Reply(directives=[{"no": "type"}])

    result = await play.call(request(play))
    assert result.result_code == "BACKEND_ERROR"
    assert result.directives == []


async def test_returning_something_odd_is_a_handler_error() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> int:
        return 3

    result = await play.call(request(play))
    assert result.result_code == "BACKEND_ERROR"
    assert result.error and "Reply" in result.error


async def test_unknown_action_and_missing_handler_answer_the_unknown_code() -> None:
    play = make_play(unknown_action_code="NOPE")
    missing = await play.call(request(play))  # declared, but no handler
    assert missing.result_code == "NOPE"
    unknown = await play.call(ActionRequest("no.such", {"a": 1}))
    assert unknown.result_code == "NOPE"
    assert unknown.output == {"a": "1"}
    assert play.problems() == ["action 'answer.weather' calls the backend but has no handler"]


def test_code_declarations_add_to_the_definition() -> None:
    play = Play("calc")

    @play.action(
        "answer.calc",
        utterance={"first": "BID_QT:first", "second": "BID_QT:second"},
        backend=["result"],
        exceptions=["DIVIDE_BY_ZERO"],
    )
    async def calc(req: ActionRequest) -> None: ...

    spec = play.spec("answer.calc")
    assert spec is not None
    assert list(spec.parameters) == ["first", "second", "result"]
    assert spec.parameters["first"].mappings[0].role == "first"
    assert "DIVIDE_BY_ZERO" in spec.exception_codes


@pytest.mark.parametrize(
    "kwargs",
    [
        {"deadline": 0},
        {"failure_code": "OK"},
        {"timeout_code": ""},
        {"output_policy": "loose"},
        {"threads": 0},
    ],
)
def test_runtime_settings_are_validated(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        RuntimeSettings(**kwargs)


def test_play_error_rejects_ok_and_empty() -> None:
    with pytest.raises(ValueError):
        PlayError("OK")
    with pytest.raises(ValueError):
        PlayError("")


async def test_a_handlers_own_timeout_error_is_a_failure_not_the_deadline() -> None:
    play = make_play(deadline=5)

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        raise TimeoutError("the database timed out")

    result = await play.call(request(play))
    assert result.result_code == "BACKEND_ERROR"


async def test_a_handler_that_swallows_the_cancel_still_times_out() -> None:
    play = make_play(deadline=0.05)

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> dict[str, str]:
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(10)
        return {"weather": "늦음"}

    result = await play.call(request(play))
    assert result.result_code == "BACKEND_TIMEOUT"
    # The task is usable afterwards: our cancel() was withdrawn.
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0
    await asyncio.sleep(0)


async def test_an_outside_cancel_is_not_turned_into_a_timeout() -> None:
    play = make_play(deadline=5)
    started = asyncio.Event()

    @play.action("answer.weather")
    async def handler(req: ActionRequest) -> None:
        started.set()
        await asyncio.sleep(10)

    task = asyncio.create_task(play.call(request(play)))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_an_action_whose_only_handler_is_for_an_event() -> None:
    play = Play("music")

    @play.action("music.finished", event="AudioPlayer.PlaybackFinished")
    async def finished(req: ActionRequest) -> Reply:
        return Reply(directives=[{"type": "AudioPlayer.Stop"}])

    req = ActionRequest("music.finished", {}, event=Event("AudioPlayer.PlaybackFinished"))
    assert (await play.call(req)).directives == [{"type": "AudioPlayer.Stop"}]
    other = await play.call(ActionRequest("music.finished", {}, event=Event("Other.Event")))
    assert other.result_code == "UNKNOWN_ACTION"
