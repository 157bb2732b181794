"""What a play's author sees when something is wrong: the exact errors of the settings, of
registration and of handlers, and the handler calling rules (thread pool, injection).

Each test pins a message or a rule that a mutant of ``play/app.py`` broke without a test
failing (docs/mutation-report.md). Messages are matched whole: they are the user interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import enum
import functools
import gc
import logging
import re
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from voicehook.play import (
    ActionRequest,
    Play,
    PlayError,
    Reply,
    RuntimeSettings,
    parse_definition,
    to_output_value,
)
from voicehook.play.app import OutputTypeError

DEFINITION = """
name: contract
actions:
  answer.weather:
    backend: true
    parameters:
      location: {type: LOCATION}
      weather: backend
    exceptions:
      UNSUPPORTED_LOCATION: {prompts: [몰라요.]}
  answer.time:
    parameters:
      time: backend
entities:
  LOCATION: {values: {서울: [], 부산: []}}
"""


def whole(message: str) -> str:
    return f"^{re.escape(message)}$"


def make_play(**settings: Any) -> Play:
    return Play(parse_definition(DEFINITION), settings=RuntimeSettings(**settings))


def call_of(play: Play, action: str = "answer.weather", **params: Any) -> ActionRequest:
    spec = play.spec(action)
    base = spec.new_params() if spec else {}
    base.update(params)
    return ActionRequest(action, base, request_id="rid-7")


# -- settings ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"deadline": 0}, "deadline must be a positive number of seconds"),
        ({"deadline": float("nan")}, "deadline must be a positive number of seconds"),
        ({"failure_code": "OK"}, "failure_code must be a non-empty code other than 'OK'"),
        ({"timeout_code": ""}, "timeout_code must be a non-empty code other than 'OK'"),
        (
            {"unknown_action_code": "OK"},
            "unknown_action_code must be a non-empty code other than 'OK'",
        ),
        ({"output_policy": "loose"}, "output_policy must be 'stringify' or 'strict'"),
        ({"threads": 0}, "threads must be at least 1"),
    ],
)
def test_bad_settings_name_the_setting(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=whole(message)):
        RuntimeSettings(**kwargs)


def test_one_thread_is_a_valid_pool() -> None:
    assert RuntimeSettings(threads=1).threads == 1


# -- registration --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["", "answer/weather"])
def test_an_invalid_action_name_is_refused(name: str) -> None:
    play = Play("code")
    with pytest.raises(ValueError, match=whole(f"invalid action name {name!r}")):
        play.action(name)


def test_ok_is_not_an_exception_code() -> None:
    play = Play("code")
    with pytest.raises(ValueError, match=whole("'OK' is not an exception code")):
        play.declare("answer.sum", exceptions=["OK"])
    play.declare("answer.sum", exceptions=["ok"])  # another code: codes are case-sensitive
    spec = play.spec("answer.sum")
    assert spec is not None and spec.exception_codes == {"ok"}


def test_declared_parameters_have_their_kind_name_and_mapping() -> None:
    play = Play("calc")
    play.declare(
        "answer.calc",
        utterance={"first": "BID_QT:first", "count": "BID_QT"},
        backend=["result"],
        exceptions=["DIVIDE_BY_ZERO"],
    )
    spec = play.spec("answer.calc")
    assert spec is not None
    first, count, result = (spec.parameters[n] for n in ("first", "count", "result"))
    assert (first.name, first.kind) == ("first", "utterance")
    assert [(m.type, m.role) for m in first.mappings] == [("BID_QT", "first")]
    # Without a role, the role is the entity type (as in Play Builder).
    assert [(m.type, m.role) for m in count.mappings] == [("BID_QT", "BID_QT")]
    assert (result.name, result.kind) == ("result", "backend")
    action = play.definition.actions["answer.calc"]
    assert action.backend is True
    assert action.exceptions["DIVIDE_BY_ZERO"].code == "DIVIDE_BY_ZERO"
    assert play.problems() == ["action 'answer.calc' calls the backend but has no handler"]


def test_declaring_in_code_turns_a_defined_action_into_a_backend_action() -> None:
    play = make_play()
    assert play.definition.actions["answer.time"].backend is False
    play.declare("answer.time", backend=["zone"])
    action = play.definition.actions["answer.time"]
    assert action.backend is True
    assert list(action.parameters) == ["time", "zone"]


def test_an_action_without_backend_needs_no_handler() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> None: ...

    assert play.problems() == []  # answer.time does not call the backend


@pytest.mark.parametrize("option", ["utterance", "backend", "exceptions"])
def test_any_single_declaration_option_on_the_decorator_declares(option: str) -> None:
    play = make_play()
    values: dict[str, Any] = {
        "utterance": {"city": "LOCATION"},
        "backend": ["humidity"],
        "exceptions": ["NO_DATA"],
    }

    @play.action("answer.weather", **{option: values[option]})
    async def weather(req: ActionRequest) -> None: ...

    spec = play.spec("answer.weather")
    assert spec is not None
    added = {"utterance": "city", "backend": "humidity"}.get(option)
    if added:
        assert added in spec.parameters
    else:
        assert "NO_DATA" in spec.exception_codes


def test_a_second_handler_error_names_the_event_or_the_calls() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def one(req: ActionRequest) -> None: ...

    @play.action("answer.weather", event="AudioPlayer.PlaybackFinished")
    async def finished(req: ActionRequest) -> None: ...

    with pytest.raises(
        ValueError, match=whole("action 'answer.weather' already has a handler for calls")
    ):
        play.action("answer.weather")(one)
    with pytest.raises(
        ValueError,
        match=whole(
            "action 'answer.weather' already has a handler for event 'AudioPlayer.PlaybackFinished'"
        ),
    ):
        play.action("answer.weather", event="AudioPlayer.PlaybackFinished")(finished)


def test_a_handler_must_be_callable() -> None:
    play = make_play()
    with pytest.raises(TypeError, match=whole("a handler must be callable")):
        play.action("answer.weather")("not a function")  # type: ignore[arg-type]


def test_an_unknown_argument_names_the_handler_and_the_parameters() -> None:
    play = make_play()

    def forecast(req: ActionRequest, city: str) -> None: ...

    with pytest.raises(
        TypeError,
        match=whole(
            "handler 'forecast' takes 'city', which is not a parameter of the action "
            "(its parameters: location, weather)"
        ),
    ):
        play.action("answer.weather")(forecast)

    bare = Play("code")
    with pytest.raises(TypeError, match=re.escape("(its parameters: none)")):
        bare.action("answer.sum")(forecast)


async def test_a_handler_without_arguments_is_called_without_the_request() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather() -> dict[str, str]:
        return {"weather": "맑음"}

    result = await play.call(call_of(play, location="서울"))
    assert (result.result_code, result.output["weather"]) == ("OK", "맑음")


async def test_parameters_after_star_args_are_still_injected() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest, *rest: object, location: str) -> dict[str, str]:
        return {"weather": f"{location} 맑음"}

    result = await play.call(call_of(play, location="부산"))
    assert result.output["weather"] == "부산 맑음"


async def test_a_sync_handler_may_take_only_parameters() -> None:
    play = make_play()

    @play.action("answer.weather")
    def weather(location: str) -> dict[str, str]:
        return {"weather": f"{location}: 비"}

    result = await play.call(call_of(play, location="서울"))
    assert (result.result_code, result.output["weather"]) == ("OK", "서울: 비")


async def test_an_object_with_an_async_call_runs_on_the_event_loop() -> None:
    play = make_play()
    loop_thread = threading.get_ident()

    class Weather:
        async def __call__(self, req: ActionRequest) -> dict[str, str]:
            on_loop = threading.get_ident() == loop_thread
            return {"weather": "loop" if on_loop else "thread"}

    play.action("answer.weather")(Weather())
    result = await play.call(call_of(play))
    assert (result.result_code, result.output["weather"]) == ("OK", "loop")


# -- the thread pool -----------------------------------------------------------------


_REQUEST_LANG: contextvars.ContextVar[str] = contextvars.ContextVar("lang", default="none")


async def test_a_sync_handler_sees_the_callers_context_variables() -> None:
    play = make_play()

    @play.action("answer.weather")
    def weather(req: ActionRequest) -> dict[str, str]:
        return {"weather": _REQUEST_LANG.get()}

    token = _REQUEST_LANG.set("ko-KR")
    try:
        result = await play.call(call_of(play))
    finally:
        _REQUEST_LANG.reset(token)
    assert result.output["weather"] == "ko-KR"


async def test_the_pool_has_as_many_threads_as_the_setting_and_logs_saturation(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """With ``threads=1`` a second plain def call waits for the first one's thread."""
    play = make_play(threads=1, deadline=10)
    release = threading.Event()
    started: list[str] = []

    @play.action("answer.weather")
    def weather(req: ActionRequest, location: str) -> dict[str, str]:
        started.append(location)
        release.wait(10)
        return {"weather": threading.current_thread().name}

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        first = asyncio.create_task(play.call(call_of(play, location="서울")))
        for _ in range(500):
            if started:
                break
            await asyncio.sleep(0.01)
        second = asyncio.create_task(play.call(call_of(play, location="부산")))
        await asyncio.sleep(0.3)
        assert started == ["서울"]  # the only thread is busy: 부산 waits
        release.set()
        results = await asyncio.wait_for(asyncio.gather(first, second), 10)
    assert started == ["서울", "부산"]
    assert [r.result_code for r in results] == ["OK", "OK"]
    assert all(str(r.output["weather"]).startswith("voicehook-handler") for r in results)
    assert play.stats.thread_pool_saturated == 1
    (record,) = [r for r in caplog.records if "handler threads are busy" in r.getMessage()]
    assert record.getMessage() == (
        "all 1 handler threads are busy (action 'answer.weather' waits for one; saturated "
        "1 times so far): a plain def handler blocks too long, or raise --threads"
    )
    assert record.request_id == "rid-7"  # type: ignore[attr-defined]
    assert record.action == "answer.weather"  # type: ignore[attr-defined]


# -- outcomes ------------------------------------------------------------------------


async def test_a_handler_error_is_answered_and_logged_with_the_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = make_play(failure_code="OOPS")

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> None:
        raise KeyError("location")

    with caplog.at_level(logging.ERROR, "voicehook.play"):
        result = await play.call(call_of(play))
    assert result.result_code == "OOPS"
    assert result.error == "handler raised KeyError: 'location'"
    (record,) = [r for r in caplog.records if r.name == "voicehook.play"]
    assert record.getMessage() == "action 'answer.weather' failed (request rid-7)"
    assert record.exc_info is not None and record.exc_info[0] is KeyError
    assert record.action == "answer.weather"  # type: ignore[attr-defined]
    assert record.request_id == "rid-7"  # type: ignore[attr-defined]


async def test_an_undeclared_exception_code_is_warned_once_per_code(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest, location: str) -> None:
        raise PlayError(location)

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        for code in ("NO_RAIN", "NO_RAIN", "NO_SNOW", "UNSUPPORTED_LOCATION"):
            result = await play.call(call_of(play, location=code))
            assert result.result_code == code
    messages = [r.getMessage() for r in caplog.records if r.name == "voicehook.play"]
    assert messages == [
        f"action 'answer.weather' raised exception code {code!r}, which is declared neither "
        "on the action nor globally; the Dialog Manager will speak the failure prompt"
        for code in ("NO_RAIN", "NO_SNOW")
    ]


async def test_an_odd_return_value_names_its_type() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> object:
        return ["맑음"]

    result = await play.call(call_of(play))
    assert result.result_code == "BACKEND_ERROR"
    assert result.error == (
        "handler raised TypeError: a handler returns a dict of output values, a Reply or "
        "None, not list"
    )


async def test_a_bad_directive_drops_every_directive_and_says_why() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> Reply:
        good = {"type": "AudioPlayer.Play", "audioItem": {}}
        return Reply(output={"weather": "맑음"}, directives=[good, {"type": 3}])

    result = await play.call(call_of(play))
    assert result.result_code == "BACKEND_ERROR"
    assert result.error == "a directive must be a dict with a 'type' string"
    assert result.directives == []
    assert result.output["weather"] == "맑음"


async def test_a_reply_with_only_directives_keeps_the_echo() -> None:
    play = make_play()
    directive = {"type": "AudioPlayer.Play", "audioItem": {"stream": {"url": "https://x"}}}

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> Reply:
        return Reply(directives=[directive])

    result = await play.call(call_of(play, location="서울"))
    assert (result.result_code, result.error) == ("OK", None)
    assert result.directives == [directive]
    assert result.output == {"location": "서울", "weather": None}


async def test_a_mapping_that_is_not_a_dict_is_output_too() -> None:
    play = make_play()

    class Output(dict[str, object]):
        pass

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> Output:
        return Output(weather=21)

    result = await play.call(call_of(play))
    assert (result.result_code, result.output["weather"]) == ("OK", "21")


async def test_an_echoed_undeclared_request_key_may_be_changed_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A key the request carries is the caller's; only a key neither declared nor sent is
    worth a warning."""
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, object]:
        return {"extra": 2, "weather": None, "sent_by_handler": 1, "also_sent": "예"}

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        result = await play.call(call_of(play, extra="1"))
        await play.call(call_of(play, extra="1"))  # each key is warned once
    assert result.output["extra"] == "2"
    assert result.output["weather"] is None
    assert result.output["sent_by_handler"] == "1"
    messages = [r.getMessage() for r in caplog.records if r.name == "voicehook.play"]
    assert messages == [
        f"action 'answer.weather' returned output key {key!r} that is not one of its "
        "parameters; declare it in the play definition"
        for key in ("sent_by_handler", "also_sent")
    ]


async def test_request_values_of_other_types_are_echoed_as_text() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, object]:
        return {"weather": 3}  # a number: the general path

    deep: list[Any] = []
    for _ in range(100_000):
        deep = [deep]
    result = await play.call(call_of(play, location=True, count=2.0, deep=deep, none=None))
    assert result.output == {
        "location": "true",
        "weather": "3",
        "count": "2",
        "deep": None,  # too deep to write as JSON: echoed as None, never an error
        "none": None,
    }


# -- output values -------------------------------------------------------------------


class Sky(enum.StrEnum):
    CLEAR = "맑음"


def test_a_str_subclass_becomes_a_plain_str() -> None:
    value = to_output_value(Sky.CLEAR)
    assert value == "맑음" and type(value) is str


def test_strict_output_names_the_wrong_type() -> None:
    with pytest.raises(
        OutputTypeError, match=whole("output values must be strings or None, got int")
    ):
        to_output_value(3, strict=True)


def test_containers_are_compact_json_with_korean_and_any_value_as_text() -> None:
    value = {"도시": "서울", "날짜": dt.date(2024, 12, 25), "값": [Decimal("1.5"), None]}
    assert to_output_value(value) == '{"도시":"서울","날짜":"2024-12-25","값":["1.5",null]}'


def test_other_objects_are_written_with_str() -> None:
    assert to_output_value(dt.date(2024, 12, 25)) == "2024-12-25"


def test_a_circular_container_is_an_output_type_error() -> None:
    loop: list[Any] = []
    loop.append(loop)
    with pytest.raises(OutputTypeError, match="a list output value cannot be written as JSON"):
        to_output_value(loop)


# -- more of the call ----------------------------------------------------------------


async def test_an_injected_async_handler_that_awaits_runs_in_its_own_task() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest, location: str) -> dict[str, str]:
        await asyncio.sleep(0)
        return {"weather": f"{location} 흐림"}

    for _ in range(3):
        result = await play.call(call_of(play, location="부산"))
        assert (result.result_code, result.output["weather"]) == ("OK", "부산 흐림")


async def test_busy_threads_are_counted_while_they_run() -> None:
    play = make_play(threads=4, deadline=10)
    inside = threading.Barrier(3, timeout=10)  # two handlers and the test
    release = threading.Event()

    @play.action("answer.weather")
    def weather(req: ActionRequest) -> None:
        inside.wait()
        release.wait(10)

    calls = [asyncio.create_task(play.call(call_of(play))) for _ in range(2)]
    await asyncio.to_thread(inside.wait)
    assert play.stats.threads_busy == 2
    release.set()
    results = await asyncio.wait_for(asyncio.gather(*calls), 10)
    assert [r.result_code for r in results] == ["OK", "OK"]
    assert play.stats.threads_busy == 0


async def test_saturation_is_logged_the_1st_2nd_4th_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = make_play(threads=1, deadline=10)
    release = threading.Event()
    started = threading.Event()

    @play.action("answer.weather")
    def weather(req: ActionRequest) -> None:
        started.set()
        release.wait(10)

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        first = asyncio.create_task(play.call(call_of(play)))
        await asyncio.to_thread(started.wait, 10)
        waiting = []
        for _ in range(5):
            waiting.append(asyncio.create_task(play.call(call_of(play))))
            await asyncio.sleep(0)
        for _ in range(100):  # every call has reached the pool (bounded)
            if play.stats.thread_pool_saturated == 5:
                break
            await asyncio.sleep(0.01)
        release.set()
        await asyncio.wait_for(asyncio.gather(first, *waiting), 10)
    assert play.stats.thread_pool_saturated == 5
    counts = [
        re.search(r"saturated (\d+) times", r.getMessage())
        for r in caplog.records
        if "handler threads are busy" in r.getMessage()
    ]
    assert [int(m.group(1)) for m in counts if m] == [1, 2, 4]


async def test_a_handler_that_ignores_the_cancel_is_logged_when_it_finishes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = make_play(deadline=0.05)
    done = asyncio.Event()
    finish = asyncio.Event()

    @play.action("answer.weather")
    async def weather(req: ActionRequest, location: str) -> dict[str, str]:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            await finish.wait()  # ignores the cancellation and goes on
        done.set()
        if location == "부산":
            raise ValueError("late and wrong")
        return {"weather": "늦음"}

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        for city in ("서울", "부산"):
            done.clear()
            finish.clear()
            result = await asyncio.wait_for(play.call(call_of(play, location=city)), 5)
            assert result.result_code == "BACKEND_TIMEOUT"
            assert result.output["weather"] is None  # its outcome is dropped
            (orphan,) = play._orphans  # the handler's task, still running
            assert isinstance(orphan, asyncio.Task) and not orphan.done()
            finish.set()
            await asyncio.wait_for(done.wait(), 5)
            for _ in range(10):
                await asyncio.sleep(0)
            assert play._orphans == set()
    messages = [
        r.getMessage() for r in caplog.records if "ignored its cancellation" in r.getMessage()
    ]
    assert messages == [
        "a handler ignored its cancellation at the deadline and finished later (returned); "
        "its outcome was dropped",
        "a handler ignored its cancellation at the deadline and finished later (raised "
        "ValueError); its outcome was dropped",
    ]


async def test_an_orphan_cancelled_at_shutdown_is_not_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from voicehook.play.context import AppContext

    play = make_play(deadline=0.05)
    cancels = 0

    @play.action("answer.weather")
    async def weather(req: ActionRequest, location: str) -> None:
        nonlocal cancels
        while True:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancels += 1
                if cancels > 1:  # the second cancel (shutdown) ends it
                    raise

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        result = await play.call(call_of(play))
        assert result.result_code == "BACKEND_TIMEOUT"
        (orphan,) = play._orphans
        await play.shutdown(AppContext("contract"))
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(orphan, 5)
        await asyncio.sleep(0)
    assert orphan.cancelled() and play._orphans == set()
    assert "ignored its cancellation" not in caplog.text


def test_counters_are_made_once_per_name() -> None:
    play = make_play()
    asked = play.counter("weather_asked_total", "질문 수", labels=["city"])
    again = play.counter("weather_asked_total", "other help", labels=["other"])
    assert again is asked
    assert (asked.name, asked.help, asked.labels) == ("weather_asked_total", "질문 수", ("city",))
    other = play.counter("weather_failed_total", "실패 수")
    assert other.labels == ()
    assert dict(play.counters) == {"weather_asked_total": asked, "weather_failed_total": other}


async def test_a_handler_that_blocks_the_loop_past_the_deadline_is_named_once_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An ``async def`` that blocks (``time.sleep``) cannot be cancelled: the answer is the
    timeout code, one warning tells the author what to do, and every such call is counted."""
    play = make_play(deadline=0.02)

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, str]:
        time.sleep(0.06)  # blocks the event loop
        return {"weather": "늦음"}

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        results = [await play.call(call_of(play)) for _ in range(2)]
    assert [r.result_code for r in results] == ["BACKEND_TIMEOUT"] * 2
    assert [r.output["weather"] for r in results] == [None, None]
    assert play.stats.blocked_deadline == 2
    messages = [r.getMessage() for r in caplog.records if "past its deadline" in r.getMessage()]
    assert messages == [
        "action 'answer.weather' ran past its deadline without yielding to the event loop "
        "(request rid-7); it was answered with the timeout code. Do blocking work in a plain "
        "def handler (thread pool) or await between steps"
    ]


async def test_a_handler_that_fails_while_being_cancelled_leaves_no_unretrieved_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Its error is seen (not "Task exception was never retrieved" later in the log)."""
    play = make_play(deadline=0.05)
    loop = asyncio.get_running_loop()
    unhandled: list[str] = []
    loop.set_exception_handler(lambda _loop, ctx: unhandled.append(ctx["message"]))

    @play.action("answer.weather")
    async def weather(req: ActionRequest, location: str) -> None:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            raise ValueError("cleanup failed") from None

    try:
        result = await asyncio.wait_for(play.call(call_of(play)), 5)
        assert result.result_code == "BACKEND_TIMEOUT"
        assert play._orphans == set()
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(None)
    assert unhandled == []


async def test_a_callable_object_that_ignores_the_cancel_is_answered_at_the_deadline() -> None:
    play = make_play(deadline=0.05)
    finish = asyncio.Event()

    class Weather:
        async def __call__(self, req: ActionRequest) -> dict[str, str]:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                await finish.wait()
            return {"weather": "늦음"}

    play.action("answer.weather")(Weather())
    result = await asyncio.wait_for(play.call(call_of(play)), 5)
    assert result.result_code == "BACKEND_TIMEOUT"
    finish.set()
    for _ in range(10):
        await asyncio.sleep(0)


async def test_a_handler_that_does_not_suspend_runs_on_the_callers_task_after_8_calls() -> None:
    """The fast path: after 8 calls in a row that finished without suspending, a handler runs
    right on the calling task (no task of its own). When it suspends once, it goes on (with
    its value) and runs in its own task again until it has 8 quick calls in a row again."""
    play = make_play()
    ran_on: list[bool] = []

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, str]:
        caller = req.params["location"] == "caller"
        if req.params["weather"] == "slow":
            await asyncio.sleep(0.01)  # suspends on a real future
        ran_on.append(caller is (asyncio.current_task() is me))
        return {"weather": "맑음"}

    me = asyncio.current_task()

    async def call(weather: str | None = None) -> None:
        req = call_of(play, location="caller", weather=weather)
        result = await play.call(req)
        assert (result.result_code, result.output["weather"]) == ("OK", "맑음")

    for _ in range(12):
        await call()
    assert ran_on == [False] * 8 + [True] * 4
    ran_on.clear()
    await call("slow")  # on the caller's task, suspends: finishes there
    for _ in range(9):
        await call()
    assert ran_on == [True] + [False] * 8 + [True]
    # In its own task, a call that suspends starts the count of quick calls again.
    ran_on.clear()
    again = make_play()
    again.action("answer.weather")(weather)
    play = again
    for weather_value in [None] * 5 + ["slow"] + [None] * 9:
        await call(weather_value)
    assert ran_on == [False] * 14 + [True]


async def test_from_file_keeps_the_settings(tmp_path: Path) -> None:
    (tmp_path / "play.yaml").write_text(DEFINITION, encoding="utf-8")
    settings = RuntimeSettings(deadline=1.5, failure_code="OOPS")
    play = Play.from_file(tmp_path / "play.yaml", settings=settings)
    assert play.settings is settings
    assert play.name == "contract"


def test_a_new_play_has_its_name_and_zero_counts() -> None:
    play = Play()
    assert play.name == "play"
    stats = play.stats
    assert (
        stats.state_conflicts,
        stats.state_save_errors,
        stats.blocked_deadline,
        stats.thread_pool_saturated,
        stats.threads_busy,
    ) == (0, 0, 0, 0, 0)


def test_an_unknown_argument_of_a_callable_object_names_the_object() -> None:
    play = make_play()

    class Forecast:
        def __repr__(self) -> str:
            return "<예보 처리기>"

        def __call__(self, req: ActionRequest, city: str) -> None: ...

    with pytest.raises(TypeError) as info:
        play.action("answer.weather")(Forecast())
    assert str(info.value).startswith("handler <예보 처리기> takes 'city', which is not")


def test_a_misspelt_action_gets_at_most_three_suggestions() -> None:
    names = ["answer.weather", "answer.weathers", "answer.weather2", "answer.weather3"]
    yaml = "name: typo\nactions:\n" + "".join(f"  {n}: {{backend: true}}\n" for n in names)
    play = Play(parse_definition(yaml))
    with pytest.raises(ValueError) as info:
        play.action("answer.weathr")
    source = play.definition.source
    assert str(info.value) == (
        f"{source} declares no action 'answer.weathr'; did you mean 'answer.weather' or "
        "'answer.weathers' or 'answer.weather3'? declared: answer.weather, answer.weather2, "
        "answer.weather3, answer.weathers. For an action declared only in code, use "
        "@play.action('answer.weathr', code_only=True)"
    )
    with pytest.raises(ValueError) as far:
        play.action("order.pizza")
    assert "did you mean" not in str(far.value)
    assert str(far.value).startswith(f"{source} declares no action 'order.pizza'; declared: ")
    empty = Play(parse_definition("name: empty\n"))
    with pytest.raises(ValueError, match=re.escape("declared: (none). For an action")):
        empty.action("order.pizza")


async def test_a_failing_shutdown_hook_without_a_name_is_logged_as_itself(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from voicehook.play.context import AppContext

    play = make_play()

    async def close(ctx: AppContext, what: str) -> None:
        raise RuntimeError(what)

    hook = functools.partial(close, what="cache")
    play.on_shutdown(hook)
    with caplog.at_level(logging.ERROR, "voicehook.play"):
        await play.shutdown(AppContext("contract"))
    (record,) = [r for r in caplog.records if r.name == "voicehook.play"]
    assert record.getMessage() == f"shutdown hook {hook!r} failed"


async def test_shutdown_does_not_wait_for_running_handlers_and_drops_queued_ones() -> None:
    from voicehook.play.context import AppContext

    play = make_play(threads=1, deadline=30)
    release = threading.Event()
    started: list[str] = []

    @play.action("answer.weather")
    def weather(req: ActionRequest, location: str) -> None:
        started.append(location)
        release.wait(10)

    running = asyncio.create_task(play.call(call_of(play, location="서울")))
    for _ in range(500):
        if started:
            break
        await asyncio.sleep(0.01)
    queued = asyncio.create_task(play.call(call_of(play, location="부산")))
    for _ in range(100):
        if play.stats.thread_pool_saturated:
            break
        await asyncio.sleep(0.01)
    timer = threading.Timer(3, release.set)  # a bound, should shutdown wait after all
    timer.start()
    try:
        await play.shutdown(AppContext("contract"))
        assert not release.is_set()  # shutdown returned while the handler still ran
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(queued, 10)  # the queued call was dropped
        assert (await asyncio.wait_for(running, 10)).result_code == "OK"
    finally:
        timer.cancel()
        release.set()
    assert started == ["서울"]


async def test_unknown_action_and_missing_handler_say_why_and_echo() -> None:
    play = make_play()
    unknown = await play.call(ActionRequest("no.such", {"a": 1}))
    assert (unknown.result_code, unknown.output) == ("UNKNOWN_ACTION", {"a": "1"})
    assert unknown.error == "unknown action 'no.such'"
    missing = await play.call(call_of(play, location="서울"))
    assert missing.result_code == "UNKNOWN_ACTION"
    assert missing.output == {"location": "서울", "weather": None}
    assert missing.error == "action 'answer.weather' has no handler"


async def test_a_strict_output_error_still_echoes_the_request() -> None:
    play = make_play(output_policy="strict")

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, object]:
        return {"weather": 21}

    result = await play.call(call_of(play, location="부산"))
    assert result.result_code == "BACKEND_ERROR"
    assert result.output == {"location": "부산", "weather": None}
    assert result.error == "output values must be strings or None, got int"


async def test_one_deadline_watch_serves_every_call_on_a_loop() -> None:
    play = make_play()

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> None:
        await asyncio.sleep(0)

    await play.call(call_of(play))
    watch = play._watch
    assert watch is not None and watch.loop is asyncio.get_running_loop()
    await play.call(call_of(play))
    assert play._watch is watch
