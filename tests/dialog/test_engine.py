"""Dialog engine: every rule of the turn algorithm, on tests/fixtures/plays/engine."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Reset,
    TurnResult,
)
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.dialog.session import (
    DeviceState,
    DialogState,
    ExceptionWait,
    ListenWait,
    SlotWait,
    decode_state,
    encode_state,
)
from voicehook.nugu.backend import BackendReply
from voicehook.nugu.caller import NuguCaller
from voicehook.play import ActionRequest, Play, PlayError, Reply, load_definition
from voicehook.server.inprocess import InProcessBackend

FIXTURE = Path(__file__).parents[1] / "fixtures" / "plays" / "engine"
DEFINITION = load_definition(FIXTURE)
TOKENIZER = SimpleTokenizer()

Answer = dict[str, Any] | str | Reply


class Script:
    """Handlers of the fixture play that answer from a queue per action."""

    def __init__(self) -> None:
        self.answers: dict[str, list[Answer]] = {}
        self.requests: list[ActionRequest] = []

    def queue(self, action: str, *answers: Answer) -> None:
        self.answers.setdefault(action, []).extend(answers)

    def play(self) -> Play:
        play = Play(DEFINITION)
        for name in DEFINITION.actions:
            if DEFINITION.actions[name].backend:
                play.action(name)(self._handler(name))
        return play

    def _handler(self, name: str) -> Callable[[ActionRequest], Any]:
        async def handler(req: ActionRequest) -> Any:
            self.requests.append(req)
            queue = self.answers.get(name) or []
            answer: Answer = queue.pop(0) if queue else {"weather": "맑음", "track": "봄노래"}
            if isinstance(answer, str):
                raise PlayError(answer)
            return answer

        return handler


class RawBackend:
    """A backend answering fixed bytes (or sleeping), for broken-backend rules."""

    def __init__(self, *replies: BackendReply | float) -> None:
        self.replies = list(replies)
        self.bodies: list[bytes] = []

    async def call(self, action: str, body: bytes, *, timeout: float) -> BackendReply:
        self.bodies.append(body)
        reply = self.replies.pop(0)
        if isinstance(reply, float):
            await asyncio.sleep(reply)
            return BackendReply(status=200, body=b'{"resultCode":"OK","output":{}}')
        return reply

    async def aclose(self) -> None:
        pass


def ok_body(output: dict[str, Any], **extra: Any) -> BackendReply:
    body = {"version": "2.0", "resultCode": "OK", "output": output, **extra}
    return BackendReply(status=200, body=msgspec.json.encode(body))


WEATHER_OUT = {
    "location": "서울",
    "day": None,
    "month": None,
    "date": None,
    "weather": "맑음",
    "home": None,
    "unit": "celsius",
    "brand": "voicehook",
}


class Talk:
    """A conversation: keeps the state between turns."""

    def __init__(self, engine: DialogEngine) -> None:
        self.engine = engine
        self.state: DialogState = engine.new_state()
        self.device = DeviceState()
        self.results: list[TurnResult] = []

    async def say(self, text: str) -> TurnResult:
        return await self._run(text)

    async def event(self, name: str, **fields: Any) -> TurnResult:
        return await self._run(DeviceEvent(name, fields))

    async def _run(self, inp: Any) -> TurnResult:
        result = await self.engine.turn(self.state, inp, device=self.device)
        self.state, self.device = result.state, result.device
        self.results.append(result)
        return result


@pytest.fixture
def script() -> Script:
    return Script()


@pytest.fixture
async def talk_factory(script: Script) -> Any:
    engines: list[DialogEngine] = []

    def make(backend: Any = None, **settings: Any) -> Talk:
        base = {"seed": 7, **settings}
        engine = DialogEngine(
            DEFINITION,
            NuguCaller(backend if backend is not None else InProcessBackend(script.play())),
            settings=EngineSettings(**base),
            tokenizer=TOKENIZER,
        )
        engines.append(engine)
        return Talk(engine)

    yield make
    for engine in engines:
        await engine.aclose()


def params_of(result: TurnResult, index: int = 0) -> dict[str, Any]:
    return dict(result.calls[index].request["action"]["parameters"])


# --------------------------------------------------------------------------- welcome and exit


async def test_invocation_only_says_welcome_and_waits(talk_factory: Any) -> None:
    talk = talk_factory()
    r = await talk.say("테스트 날씨")
    assert r.intent == "NUGU.INTENT.open"
    assert (r.prompt, r.prompt_type, r.prompt_source) == (
        "어서 오세요, 테스트 날씨예요.",
        "wait",
        "welcome",
    )
    assert not r.session_ended and r.state.active
    r2 = await talk.say("기분 어때")
    assert r2.prompt == "좋아요." and r2.session_ended
    assert r2.state.session_id == r.state.session_id


async def test_welcome_continuation_is_joined_with_the_first_response(talk_factory: Any) -> None:
    talk = talk_factory(welcome_type="continuation")
    r = await talk.say("테스트 날씨에서 기분 어때")
    assert r.prompt == "어서 오세요, 테스트 날씨예요. 좋아요."
    # Only on the first turn of a session.
    talk2 = talk_factory(welcome_type="continuation")
    await talk2.say("테스트 날씨")
    r2 = await talk2.say("기분 어때")
    assert r2.prompt == "좋아요."


async def test_welcome_continuation_joins_a_slot_prompt_too(talk_factory: Any) -> None:
    talk = talk_factory(welcome_type="continuation")
    r = await talk.say("테스트 날씨에서 날씨 알려줘")
    assert r.prompt == "어서 오세요, 테스트 날씨예요. 지역을 말씀해 주세요."


async def test_welcome_wait_type_is_not_prefixed(talk_factory: Any) -> None:
    r = await talk_factory().say("테스트 날씨에서 기분 어때")
    assert r.prompt == "좋아요."


async def test_stop_says_exit_and_ends(talk_factory: Any, script: Script) -> None:
    talk = talk_factory(custom_stop_action="never")
    await talk.say("테스트 날씨")
    r = await talk.say("그만")
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("테스트 날씨를 마칠게요.", "end", "exit")
    assert r.session_ended and not r.state.active
    assert r.calls == [] and script.requests == []
    assert any("custom_stop_action" in w for w in r.warnings)


async def test_stop_runs_the_custom_stop_action_in_audio_player_plays(
    talk_factory: Any, script: Script
) -> None:
    talk = talk_factory()  # the fixture has an AudioPlayer event trigger: auto -> run it
    assert talk.engine.uses_audio_player
    script.queue("music.stop", Reply(directives=[{"type": "AudioPlayer.Stop"}]))
    r = await talk.say("그만")
    assert [c.action for c in r.calls] == ["music.stop"]
    assert r.prompt == "음악을 멈출게요." and r.session_ended
    assert r.directive_types == ["AudioPlayer.Stop"]


async def test_stop_works_inside_slot_filling(talk_factory: Any) -> None:
    talk = talk_factory(custom_stop_action="never")
    await talk.say("날씨 알려줘")
    r = await talk.say("그만")
    assert r.prompt_source == "exit" and r.session_ended and r.state.waiting is None


# --------------------------------------------------------------------------- fallback


async def test_fallback_walks_the_lifo_stack_to_the_end_prompt(talk_factory: Any) -> None:
    talk = talk_factory()
    r1 = await talk.say("아무말 대잔치")
    r2 = await talk.say("아무말 대잔치")
    r3 = await talk.say("아무말 대잔치")
    assert [r.prompt for r in (r1, r2, r3)] == [
        "무슨 말인지 모르겠어요.",
        "다시 한 번 말씀해 주세요.",
        "잘 모르겠어요. 종료할게요.",
    ]
    assert [r.prompt_type for r in (r1, r2, r3)] == ["wait", "wait", "end"]
    assert r3.session_ended and not r2.session_ended
    assert r2.state.failures == 2


async def test_a_recognised_intent_resets_the_fallback_stack(talk_factory: Any) -> None:
    talk = talk_factory()
    await talk.say("테스트 날씨")
    await talk.say("아무말 대잔치")
    r = await talk.say("퀴즈 시작")
    assert r.state.fallback_spoken == 0
    talk2 = talk_factory()
    await talk2.say("테스트 날씨")
    await talk2.say("아무말")
    assert (await talk2.say("아무말")).prompt == "다시 한 번 말씀해 주세요."


async def test_max_failures_ends_with_the_end_prompt(talk_factory: Any) -> None:
    talk = talk_factory(max_failures=1)
    r = await talk.say("아무말 대잔치")
    assert r.prompt == "잘 모르겠어요. 종료할게요." and r.session_ended


# --------------------------------------------------------------------------- slot filling


async def test_slot_filling_prompts_are_lifo_and_the_first_typed_ends(
    talk_factory: Any, script: Script
) -> None:
    talk = talk_factory()
    r1 = await talk.say("날씨 알려줘")
    assert (r1.prompt, r1.prompt_type, r1.prompt_source) == (
        "지역을 말씀해 주세요.",
        "wait",
        "slot",
    )
    assert r1.state.waiting == SlotWait("answer.weather", "location", 1)
    assert r1.calls == []
    r2 = await talk.say("기분 어때")  # no LOCATION entity: the next prompt
    assert r2.prompt == "어느 지역이요?" and not r2.session_ended
    r3 = await talk.say("2월 28일")
    assert (r3.prompt, r3.prompt_type) == ("지역을 몰라서 종료할게요.", "end")
    assert r3.session_ended and script.requests == []


async def test_slot_filling_accepts_only_the_missing_parameter(
    talk_factory: Any, script: Script
) -> None:
    talk = talk_factory()
    await talk.say("날씨 알려줘")
    r = await talk.say("내일 부산")
    assert [c.action for c in r.calls] == ["answer.weather"]
    sent = params_of(r)
    assert sent["location"] == {"type": "LOCATION", "value": "부산"}
    assert "day" not in sent  # 내일 is not the missing entity
    assert r.state.waiting is None


async def test_slot_filling_first_prompt_position_after_decode(talk_factory: Any) -> None:
    talk = talk_factory()
    await talk.say("날씨 알려줘")
    talk.state = decode_state(encode_state(talk.state))  # another process takes over
    r = await talk.say("음악 말고")
    assert r.prompt == "어느 지역이요?"


# --------------------------------------------------------------------------- backend request


async def test_request_carries_params_types_configurables_and_session(
    talk_factory: Any, script: Script
) -> None:
    talk = talk_factory()
    r = await talk.say("내일 부산 날씨 어때")
    req = r.calls[0].request
    assert req["action"]["actionName"] == "answer.weather"
    assert req["action"]["parameters"] == {
        "location": {"type": "LOCATION", "value": "부산"},
        "day": {"type": "BID_DT_DAY", "value": "TOMORROW"},
        "unit": {"type": None, "value": "celsius"},
        "brand": {"type": None, "value": "voicehook"},
    }
    assert req["context"]["session"]["isNew"] is True
    assert req["context"]["session"]["id"] == r.state.session_id
    assert req["context"]["supportedInterfaces"]["AudioPlayer"]["playerActivity"] == "IDLE"
    assert "event" not in req
    assert r.calls[0].status == 200 and r.calls[0].result_code == "OK"
    # The handler really ran behind the ASGI app and saw the same values.
    assert script.requests[0].params["location"] == "부산"
    assert script.requests[0].params["weather"] is None


async def test_null_form_sends_null_parameters(talk_factory: Any) -> None:
    r = await talk_factory(null_form=True).say("서울 날씨 알려줘")
    sent = params_of(r)
    assert sent["weather"] == {"type": None, "value": None}
    assert sent["day"] == {"type": None, "value": None}


async def test_is_new_only_on_the_first_turn(talk_factory: Any, script: Script) -> None:
    talk = talk_factory()
    await talk.say("날씨 알려줘")
    r = await talk.say("서울")
    assert r.calls[0].request["context"]["session"]["isNew"] is False
    assert r.calls[0].request["context"]["session"]["id"] == talk.results[0].state.session_id


async def test_play_builder_mode(talk_factory: Any) -> None:
    talk = talk_factory(play_builder=True)
    r = await talk.say("서울 날씨 알려줘")
    session = r.calls[0].request["context"]["session"]
    assert session["isPlayBuilderRequest"] is True
    r2 = await talk_factory(play_builder=True).say("그만")
    assert r2.prompt_source == "fallback"  # built-in intents are not recognised there


# --------------------------------------------------------------------------- OK and branches


async def test_ok_output_is_merged_and_branches_choose_in_order(
    talk_factory: Any, script: Script
) -> None:
    script.queue("answer.weather", {"weather": "비"})
    r = await talk_factory().say("서울 날씨 알려줘")
    assert r.actions == ["answer.weather", "weather.rain"]
    assert r.prompt == "서울에 비가 와요. 우산을 챙기세요." and r.prompt_type == "end"
    assert r.state.params["weather"] == "비"


async def test_equals_against_another_parameter(talk_factory: Any, script: Script) -> None:
    script.queue("answer.weather", {"weather": "맑음", "home": "서울"})
    r = await talk_factory().say("서울 날씨 알려줘")
    assert r.actions[-1] == "weather.home"
    assert r.prompt == "우리 동네 서울 날씨는 맑음예요."
    script.queue("answer.weather", {"weather": "맑음", "home": "부산"})
    r2 = await talk_factory().say("서울 날씨 알려줘")
    assert r2.actions[-1] == "weather.default"


async def test_default_branch_wait_prompt_and_configurable_override(
    talk_factory: Any, script: Script
) -> None:
    talk = talk_factory()
    r = await talk.say("서울 날씨 알려줘")
    assert r.actions == ["answer.weather", "weather.default"]
    assert r.prompt_type == "wait" and r.state.active and r.state.waiting is None
    assert r.state.params["unit"] == "fahrenheit"
    # The session is open: the next utterance needs no invocation name.
    r2 = await talk.say("부산 날씨 알려줘")
    assert r2.calls[0].request["context"]["session"]["isNew"] is False
    assert params_of(r2)["location"]["value"] == "부산"


async def test_ok_contract_violations_are_recorded(talk_factory: Any) -> None:
    backend = RawBackend(ok_body({"weather": 3, "location": "서울"}, action={"echo": True}))
    r = await talk_factory(backend).say("서울 날씨 알려줘")
    assert r.prompt_source == "response"
    assert r.state.params["weather"] == "3"
    # The NUGU answer rules (voicehook.nugu.answer), the same the checker applies.
    assert any("lacks key 'month'" in v for v in r.violations)
    assert any("output['weather'] is a number" in v for v in r.violations)


async def test_ok_without_output_is_a_violation(talk_factory: Any) -> None:
    backend = RawBackend(BackendReply(status=200, body=b'{"version":"2.0","resultCode":"OK"}'))
    r = await talk_factory(backend).say("서울 날씨 알려줘")
    assert any("resultCode is OK but there is no 'output'" in v for v in r.violations)


# --------------------------------------------------------------------------- exceptions


async def test_exception_wait_replaces_and_calls_again(talk_factory: Any, script: Script) -> None:
    script.queue("answer.weather", "INVALID_DATE")
    talk = talk_factory()
    r1 = await talk.say("2월 31일 서울 날씨")
    assert (r1.prompt, r1.prompt_type, r1.prompt_source) == (
        "없는 날짜예요. 다시 말씀해 주세요.",
        "wait",
        "exception",
    )
    assert r1.result_codes == ["INVALID_DATE"] and r1.calls[0].outcome == "exception"
    assert r1.state.waiting == ExceptionWait("answer.weather", "INVALID_DATE", 1)
    r2 = await talk.say("2월 28일")
    assert [c.action for c in r2.calls] == ["answer.weather"]
    sent = params_of(r2)
    assert sent["date"]["value"] == "28" and sent["month"]["value"] == "2"
    assert sent["location"]["value"] == "서울"  # kept from the first turn
    assert r2.prompt_source == "response"


async def test_exception_wait_ignores_intents_and_unmapped_entities(
    talk_factory: Any, script: Script
) -> None:
    script.queue("answer.weather", "INVALID_DATE")
    talk = talk_factory()
    await talk.say("2월 31일 서울 날씨")
    r = await talk.say("퀴즈 시작")  # a new intent, no entity: not accepted
    assert r.calls == []
    assert (r.prompt, r.prompt_type) == ("날짜를 몰라서 종료할게요.", "end")
    assert r.session_ended and r.state.waiting is None


async def test_same_code_again_pops_the_end_prompt(talk_factory: Any, script: Script) -> None:
    script.queue("answer.weather", "INVALID_DATE", "INVALID_DATE")
    talk = talk_factory()
    await talk.say("2월 31일 서울 날씨")
    r = await talk.say("2월 30일")
    assert r.result_codes == ["INVALID_DATE"]
    assert (r.prompt, r.prompt_type) == ("날짜를 몰라서 종료할게요.", "end")
    assert r.session_ended


async def test_single_exception_prompt_is_an_end_prompt_with_particles(
    talk_factory: Any, script: Script
) -> None:
    script.queue("answer.weather", "UNSUPPORTED")
    r = await talk_factory().say("뉴욕 날씨 알려줘")
    assert r.prompt == "뉴욕은 지원하지 않아요." and r.prompt_type == "end"
    assert r.session_ended


async def test_global_exception_code(talk_factory: Any, script: Script) -> None:
    script.queue("answer.weather", "GLOBAL_DOWN")
    r = await talk_factory().say("서울 날씨 알려줘")
    assert r.prompt == "지금은 쓸 수 없어요." and r.session_ended


# --------------------------------------------------------------------------- failures


async def test_undeclared_code_gives_the_failure_prompt(talk_factory: Any, script: Script) -> None:
    script.queue("answer.weather", "NOT_DECLARED")
    r = await talk_factory().say("서울 날씨 알려줘")
    assert (r.prompt, r.prompt_type, r.prompt_source) == (
        "서버에 연결할 수 없어요.",
        "end",
        "failure",
    )
    assert r.calls[0].outcome == "failure" and "NOT_DECLARED" in (r.calls[0].error or "")


@pytest.mark.parametrize(
    ("reply", "why"),
    [
        (BackendReply(status=200, body=b'{"resultCode":"","output":{}}'), "empty"),
        (BackendReply(status=200, body=b'{"resultCode":null,"output":{}}'), "resultCode is null"),
        (BackendReply(status=200, body=b'{"resultCode":"ok","output":{}}'), "neither"),
        (BackendReply(status=200, body=b'{"output":{}}'), "no 'resultCode'"),
        (BackendReply(status=500, body=b'{"resultCode":"OK","output":{}}'), "HTTP 500"),
        (BackendReply(status=404, body=b"not found"), "HTTP 404"),
        (BackendReply(status=200, body=b"<html>"), "the body is not JSON"),
        (BackendReply(status=200, body=b"[1]"), "not a JSON object"),
        (
            BackendReply(status=200, body=b'{"resultCode":"OK","output":{},"directives":{}}'),
            "directives is an object, not an array",
        ),
        (BackendReply(error="ClientConnectorError: refused"), "refused"),
    ],
)
async def test_communication_failures(talk_factory: Any, reply: BackendReply, why: str) -> None:
    r = await talk_factory(RawBackend(reply)).say("서울 날씨 알려줘")
    assert r.prompt == "서버에 연결할 수 없어요." and r.session_ended
    assert why in (r.calls[0].error or "")


async def test_timeout_is_a_communication_failure(talk_factory: Any) -> None:
    r = await talk_factory(RawBackend(1.0), timeout=0.1).say("서울 날씨 알려줘")
    assert r.prompt_source == "failure"
    assert "timeout" in (r.calls[0].error or "")
    assert r.calls[0].elapsed_ms < 900


# --------------------------------------------------------------------------- multi-turn


async def test_multi_turn_matches_branches(talk_factory: Any) -> None:
    talk = talk_factory()
    r1 = await talk.say("퀴즈 시작")
    assert r1.prompt_type == "wait" and r1.state.waiting == ListenWait("quiz.start", 0)
    r2 = await talk.say("사과")
    assert r2.actions == ["quiz.right"] and r2.prompt == "정답이에요."
    talk2 = talk_factory()
    await talk2.say("퀴즈 시작")
    r3 = await talk2.say("정답은 배")
    assert r3.prompt == "배는 틀렸어요."


async def test_multi_turn_reprompts_then_ends(talk_factory: Any) -> None:
    talk = talk_factory()
    await talk.say("퀴즈 시작")
    r1 = await talk.say("기분 어때")
    assert (r1.prompt, r1.prompt_type, r1.prompt_source) == (
        "과일 이름으로 답해 주세요.",
        "wait",
        "reprompt",
    )
    r2 = await talk.say("모르겠어")
    assert (r2.prompt, r2.prompt_type) == ("퀴즈를 마칠게요.", "end") and r2.session_ended


# --------------------------------------------------------------------------- common actions


async def test_common_action_cycle_stops_the_play(talk_factory: Any) -> None:
    r = await talk_factory().say("빙글빙글 돌아")
    assert r.session_ended and r.prompt is None
    assert any("circular" in v for v in r.violations)


# --------------------------------------------------------------------------- audio player


async def test_directive_ends_the_session_and_updates_the_player(
    talk_factory: Any, script: Script
) -> None:
    play = {
        "type": "AudioPlayer.Play",
        "audioItem": {
            "stream": {"url": "https://x/a.mp3", "token": "t1", "offsetInMilliseconds": 0}
        },
    }
    script.queue("music.play", Reply({"track": "봄노래"}, directives=[play]))
    talk = talk_factory()
    r = await talk.say("음악 틀어줘")
    assert r.prompt == "봄노래 틀어 드릴게요." and r.directive_types == ["AudioPlayer.Play"]
    assert r.session_ended and r.prompt_type == "end"
    assert any("allow_wait_with_directives" in w for w in r.warnings)
    assert r.device.audio.player_activity == "PLAYING" and r.device.audio.token == "t1"

    script.queue("music.finished", Reply(directives=[{"type": "AudioPlayer.Stop"}]))
    e = await talk.event("PlaybackFinished", offsetInMilliseconds=180000)
    assert e.kind == "event" and e.actions == ["music.finished"]
    req = e.calls[0].request
    assert req["event"] == {
        "type": "AudioPlayer.PlaybackFinished",
        "token": "t1",
        "offsetInMilliseconds": 180000,
    }
    assert req["context"]["supportedInterfaces"]["AudioPlayer"] == {
        "playerActivity": "FINISHED",
        "token": "t1",
        "offsetInMilliseconds": 180000,
    }
    assert req["context"]["session"]["isNew"] is True
    assert e.prompt is None and e.directive_types == ["AudioPlayer.Stop"] and e.session_ended
    assert e.device.audio.player_activity == "STOPPED"
    assert script.requests[-1].event_type == "AudioPlayer.PlaybackFinished"


async def test_wait_with_directives_allowed_by_setting(talk_factory: Any, script: Script) -> None:
    script.queue(
        "music.play", Reply({"track": "봄노래"}, directives=[{"type": "AudioPlayer.Pause"}])
    )
    r = await talk_factory(allow_wait_with_directives=True).say("음악 틀어줘")
    assert r.prompt_type == "wait" and not r.session_ended
    assert r.device.audio.player_activity == "PAUSED"


async def test_event_without_an_action_does_nothing(talk_factory: Any) -> None:
    talk = talk_factory()
    r = await talk.event("PlaybackStarted", token="x")
    assert r.calls == [] and r.prompt is None and not r.session_ended
    assert r.device.audio.player_activity == "PLAYING" and r.device.audio.token == "x"
    assert r.state.sessions == 0 and not r.state.active
    assert any("no action has the trigger event" in w for w in r.warnings)
    # It does not disturb an open session either.
    await talk.say("날씨 알려줘")
    r2 = await talk.event("PlaybackPaused")
    assert r2.state.waiting == SlotWait("answer.weather", "location", 1)
    assert r2.device.audio.player_activity == "PAUSED"


async def test_npk_player_activity_in_branch_conditions(talk_factory: Any) -> None:
    talk = talk_factory()
    r0 = await talk.say("intent=NUGU.INTENT.resume")
    assert r0.prompt == "처음부터 틀게요."
    await talk.event("PlaybackPaused", token="t9", offsetInMilliseconds=5000)
    r1 = await talk.say("intent=NUGU.INTENT.resume")
    assert r1.prompt == "이어서 들려드릴게요."
    await talk.event("PlaybackResumed")
    r2 = await talk.say("intent=NUGU.INTENT.resume")
    assert r2.prompt == "이미 재생 중입니다."


# --------------------------------------------------------------------------- state


async def test_reset_forgets_everything(talk_factory: Any) -> None:
    talk = talk_factory()
    await talk.say("날씨 알려줘")
    r = await talk.engine.turn(talk.state, Reset())
    assert r.kind == "reset" and not r.state.active and r.state.waiting is None
    assert r.state.params == {}


async def test_the_given_state_is_never_changed(talk_factory: Any) -> None:
    talk = talk_factory()
    before = talk.engine.new_state()
    snapshot = encode_state(before)
    await talk.engine.turn(before, "날씨 알려줘")
    assert encode_state(before) == snapshot


async def test_seed_makes_sessions_repeatable(talk_factory: Any) -> None:
    a = await talk_factory(seed=3).say("테스트 날씨")
    b = await talk_factory(seed=3).say("테스트 날씨")
    c = await talk_factory(seed=4).say("테스트 날씨")
    assert a.state.session_id == b.state.session_id != c.state.session_id


def test_settings_from_play_yaml_report_unknown_keys() -> None:
    settings, unknown = EngineSettings.from_mapping(
        {"timeout": 1.5, "null_form": True, "other": 1}, null_form=None, seed=2
    )
    assert settings.timeout == 1.5 and settings.null_form and settings.seed == 2
    assert unknown == ["other"]
    with pytest.raises(ValueError, match="timeout"):
        EngineSettings(timeout=0)


async def test_the_device_is_kept_apart_from_the_conversation(
    talk_factory: Any, script: Script
) -> None:
    play = {"type": "AudioPlayer.Play", "audioItem": {"stream": {"url": "u", "token": "t9"}}}
    script.queue("music.play", Reply({"track": "봄노래"}, directives=[play]))
    talk = talk_factory()
    r = await talk.say("음악 틀어줘")
    assert r.device.audio.player_activity == "PLAYING"
    assert "audio" not in msgspec.to_builtins(r.state)  # the conversation holds no device
    before = msgspec.to_builtins(talk.device)
    # A new conversation on the same device sees the device as it is: the event carries
    # the device's token.
    ev = await talk.engine.turn(
        talk.engine.new_state(), DeviceEvent("PlaybackPaused"), device=talk.device
    )
    assert msgspec.to_builtins(talk.device) == before  # the given device is not changed
    assert ev.event is not None and ev.event["token"] == "t9"
    assert ev.device.audio.player_activity == "PAUSED"
    # Without a device the engine starts from an idle one.
    idle = await talk.engine.turn(talk.engine.new_state(), DeviceEvent("PlaybackPaused"))
    assert idle.event is not None and "token" not in idle.event
