"""Dialog engine rules that mutation testing of ``dialog/engine.py`` found untested.

Each test states what a play author relies on (the prompt said, the wait state, the action
that runs, the state after the turn) and would fail on a mutant of the engine
(docs/mutation-report.md, module ``engine``). The backend is a scripted
:class:`~voicehook.dialog.caller.ActionCaller`, so a test controls every answer exactly.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

from voicehook.dialog.caller import ActionCall, CallAnswer
from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Intent,
    Reset,
    TurnResult,
)
from voicehook.dialog.nlu import EntityMatch, NluResult, SimpleTokenizer
from voicehook.dialog.session import DeviceState, ExceptionWait, ListenWait, SlotWait
from voicehook.play import PlayDefinition, parse_definition
from voicehook.play.definition import Response

TOKENIZER = SimpleTokenizer()

PLAY = """
name: edges
invocation: 모서리
failure_prompt: 연결이 안 돼요.
welcome: [모서리예요.]
exit: [모서리를 마칠게요.]
fallback: [잘 모르겠어요.]
entities:
  CITY: {values: {서울: [], 부산: []}}
  FRUIT: {values: {사과: [], 배: []}}
intents:
  ask.weather:
    examples:
      - "[서울](CITY) 날씨 알려줘"
      - "날씨 알려줘"
  order.fruit:
    examples:
      - "[사과](FRUIT) 주문"
      - "과일 주문"
  ask.time:
    examples: ["몇 시야"]
  stop.music:
    examples: ["음악 꺼"]
parameters:
  brand: {value: 모서리}
actions:
  answer.weather:
    trigger: {intent: ask.weather}
    backend: true
    parameters:
      city: {type: CITY}
      weather: backend
      unit: {value: celsius}
    exceptions:
      NO_CITY:
        prompts:
          - 도시를 몰라서 끝낼게요.
          - 어느 도시요?
    response:
      prompts: ["{{city}} 날씨는 {{weather}}예요."]
  answer.fruit:
    trigger: {intent: order.fruit}
    parameters:
      fruit:
        type: FRUIT
        required: true
        prompts:
          - 과일을 몰라서 끝낼게요.
          - 어떤 과일이요?
    response:
      prompts: ["{{fruit}} 주문했어요."]
  answer.time:
    trigger: {intent: ask.time}
    response:
      type: wait
      prompts: [세 시예요.]
"""


class Scripted:
    """An :class:`~voicehook.dialog.caller.ActionCaller` answering from a queue."""

    def __init__(self, *answers: CallAnswer) -> None:
        self.answers = list(answers)
        self.calls: list[ActionCall] = []
        self.closed = False

    async def call(self, call: ActionCall, *, timeout: float) -> CallAnswer:
        self.calls.append(call)
        return self.answers.pop(0)

    async def aclose(self) -> None:
        self.closed = True


class Talk:
    def __init__(self, engine: DialogEngine) -> None:
        self.engine = engine
        self.state = engine.new_state()

    async def say(self, text: str | Intent | DeviceEvent) -> TurnResult:
        result = await self.engine.turn(self.state, text)
        self.state = result.state
        return result


def ok(**output: str | None) -> CallAnswer:
    return CallAnswer(result_code="OK", output=dict(output))


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Talk]]:
    engines: list[DialogEngine] = []

    def build(
        *answers: CallAnswer,
        yaml: str = PLAY,
        edit: Callable[[PlayDefinition], PlayDefinition] | None = None,
        caller: Any = "scripted",
        **settings: Any,
    ) -> Talk:
        definition = parse_definition(yaml)
        if edit is not None:
            definition = edit(definition)
        engine = DialogEngine(
            definition,
            Scripted(*answers) if caller == "scripted" else caller,
            settings=EngineSettings(**{"seed": 5, **settings}),
            tokenizer=TOKENIZER,
        )
        engines.append(engine)
        return Talk(engine)

    yield build
    for engine in engines:
        await engine.aclose()


def replace_action(definition: PlayDefinition, name: str, **changes: Any) -> PlayDefinition:
    act = msgspec.structs.replace(definition.actions[name], **changes)
    return msgspec.structs.replace(definition, actions={**definition.actions, name: act})


# ------------------------------------------------------------------ settings


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"timeout": 0}, "timeout must be a positive number of seconds"),
        ({"timeout": -1.0}, "timeout must be a positive number of seconds"),
        ({"custom_stop_action": "sometimes"}, "custom_stop_action must be auto, always or never"),
        ({"welcome_type": "continue"}, "welcome_type must be wait or continuation"),
        ({"nlu_uncertain": "ask"}, "nlu_uncertain must be confirm, reask or accept"),
        ({"max_failures": 0}, "max_failures must be at least 1"),
    ],
)
def test_bad_settings_are_refused_with_their_reason(values: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError) as caught:
        EngineSettings(**values)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    "values",
    [
        {"timeout": 0.01},
        {"max_failures": 1},
        {"custom_stop_action": "always"},
        {"custom_stop_action": "never"},
        {"welcome_type": "continuation"},
        {"nlu_uncertain": "reask"},
        {"nlu_uncertain": "accept"},
    ],
)
def test_every_allowed_setting_value_is_accepted(values: dict[str, Any]) -> None:
    settings = EngineSettings(**values)
    for key, value in values.items():
        assert getattr(settings, key) == value


def test_code_overrides_win_over_play_yaml_and_none_keeps_the_file_value() -> None:
    settings, unknown = EngineSettings.from_mapping(
        {"timeout": 2.0, "max_failures": 3, "console": True, "theme": "dark"},
        timeout=None,
        max_failures=1,
    )
    assert (settings.timeout, settings.max_failures) == (2.0, 1)
    assert unknown == ["console", "theme"]


# ------------------------------------------------------------------ backend answers


async def test_without_a_caller_a_backend_action_speaks_the_failure_prompt(
    make: Callable[..., Talk],
) -> None:
    talk = make(caller=None)
    r = await talk.say("서울 날씨 알려줘")
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("연결이 안 돼요.", "end", "failure")
    assert [(c.action, c.error, c.outcome) for c in r.calls] == [
        ("answer.weather", "no backend is configured", "failure")
    ]
    assert r.session_ended


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("", "resultCode is empty"),
        ("NOPE", "resultCode 'NOPE' is neither OK nor a declared exception code"),
        (None, "resultCode None is neither OK nor a declared exception code"),
    ],
)
async def test_a_result_code_neither_ok_nor_declared_is_a_failure(
    make: Callable[..., Talk], code: str | None, error: str
) -> None:
    talk = make(CallAnswer(result_code=code))
    r = await talk.say("서울 날씨 알려줘")
    assert (r.prompt, r.prompt_source) == ("연결이 안 돼요.", "failure")
    (call,) = r.calls
    assert (call.error, call.outcome, call.result_code) == (error, "failure", code)


async def test_the_caller_error_is_kept_with_what_went_over_the_wire(
    make: Callable[..., Talk],
) -> None:
    answer = CallAnswer(
        error="timed out after 3 s",
        status=504,
        body="late",
        response={"x": 1},
        request={"wire": True},
        elapsed_ms=12.5,
        violations=["v1"],
        warnings=["w1"],
    )
    r = await make(answer).say("서울 날씨 알려줘")
    (call,) = r.calls
    assert (call.error, call.status, call.body, call.response, call.request) == (
        "timed out after 3 s",
        504,
        "late",
        {"x": 1},
        {"wire": True},
    )
    assert call.elapsed_ms == 12.5
    assert (r.violations, r.warnings) == (["v1"], ["w1"])
    assert r.prompt == "연결이 안 돼요."


async def test_ok_output_fills_declared_parameters_only(make: Callable[..., Talk]) -> None:
    """Undeclared output keys are dropped; a backend value is not an utterance value, so
    its entity type is forgotten (the next request sends the parameter without a type)."""
    talk = make(ok(city="부산", weather="맑음", extra="무시"), ok(weather="흐림"))
    r = await talk.say("서울 날씨 알려줘")
    assert r.prompt == "부산 날씨는 맑음예요."
    assert r.calls[0].outcome == "ok" and r.calls[0].result_code == "OK"
    assert "extra" not in r.state.params
    assert r.state.params["city"] == "부산"
    assert r.state.param_types == {"city": "CITY"}  # the utterance value keeps its type


async def test_a_null_utterance_value_from_the_backend_drops_the_type(
    make: Callable[..., Talk],
) -> None:
    scripted = Scripted(ok(city=None, weather="맑음"), ok(weather="비"))
    talk = make(caller=scripted)
    r = await talk.say("서울 날씨 알려줘")
    assert r.state.params["city"] is None
    assert "city" not in r.state.param_types
    assert r.prompt == " 날씨는 맑음예요."


async def test_the_request_sends_values_types_and_session(make: Callable[..., Talk]) -> None:
    scripted = Scripted(ok(weather="맑음"))
    talk = make(caller=scripted)
    r = await talk.say("서울 날씨 알려줘")
    (call,) = scripted.calls
    assert call.action == "answer.weather"
    assert call.params == {"brand": "모서리", "city": "서울", "weather": None, "unit": "celsius"}
    assert call.param_types == {"brand": None, "city": "CITY", "weather": None, "unit": None}
    assert call.session_id == r.state.session_id and call.is_new
    assert (call.channel, call.device_type, call.user_key) == ("nugu", "speaker", None)
    assert call.audio_player is None  # no AudioPlayer in this play, the player is idle


async def test_a_channel_session_id_and_user_key_are_used(make: Callable[..., Talk]) -> None:
    scripted = Scripted(ok(weather="맑음"))
    talk = make(caller=scripted)
    r = await talk.engine.turn(
        talk.state, "서울 날씨 알려줘", session_id="s-1", user_key="u-1", channel="clova"
    )
    assert r.state.session_id == "s-1"
    (call,) = scripted.calls
    assert (call.session_id, call.user_key, call.channel) == ("s-1", "u-1", "clova")


async def test_aclose_closes_the_caller(make: Callable[..., Talk]) -> None:
    scripted = Scripted()
    talk = make(caller=scripted)
    await talk.engine.aclose()
    assert scripted.closed


# ------------------------------------------------------------------ exceptions


async def test_an_exception_code_without_prompts_speaks_the_failure_prompt(
    make: Callable[..., Talk],
) -> None:
    def no_prompts(definition: PlayDefinition) -> PlayDefinition:
        act = definition.actions["answer.weather"]
        codes = {"NO_CITY": msgspec.structs.replace(act.exceptions["NO_CITY"], prompts=())}
        return replace_action(definition, "answer.weather", exceptions=codes)

    r = await make(CallAnswer(result_code="NO_CITY"), edit=no_prompts).say("서울 날씨 알려줘")
    assert r.calls[0].outcome == "exception"
    assert r.warnings == ["exception code 'NO_CITY' has no prompts: failure prompt"]
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("연결이 안 돼요.", "end", "exception")
    assert r.state.waiting is None and r.session_ended


async def test_an_exception_wait_that_fills_nothing_says_the_end_prompt(
    make: Callable[..., Talk],
) -> None:
    talk = make(CallAnswer(result_code="NO_CITY"))
    r1 = await talk.say("서울 날씨 알려줘")
    assert (r1.prompt, r1.prompt_type) == ("어느 도시요?", "wait")
    assert r1.state.waiting == ExceptionWait("answer.weather", "NO_CITY", 1)
    assert r1.directives == []
    r2 = await talk.say("사과")  # a FRUIT: no parameter of answer.weather takes it
    assert r2.calls == [] and r2.actions == ["answer.weather"]
    assert (r2.prompt, r2.prompt_type, r2.prompt_source) == (
        "도시를 몰라서 끝낼게요.",
        "end",
        "exception",
    )
    assert r2.state.waiting is None and r2.state.failures == 1 and r2.session_ended


# ------------------------------------------------------------------ recognised intents (CEK)


async def test_intent_slots_fill_parameters_entity_types_and_unknown_ones_warn(
    make: Callable[..., Talk],
) -> None:
    scripted = Scripted(ok(weather="맑음"))
    talk = make(caller=scripted)
    r = await talk.say(Intent("ask.weather", {"city": "부산", "mood": "좋음"}, score=0.8))
    assert (r.intent, r.score) == ("ask.weather", 0.8)
    assert [(e.type, e.role, e.text, e.value) for e in r.entities] == [
        ("CITY", "CITY", "부산", "부산")
    ]
    assert r.warnings == [
        "slot 'mood' is neither a parameter of 'answer.weather' nor an entity type: ignored"
    ]
    assert scripted.calls[0].params["city"] == "부산"
    assert r.prompt == "부산 날씨는 맑음예요."


async def test_an_intent_slot_named_like_an_entity_type_is_that_entity(
    make: Callable[..., Talk],
) -> None:
    r = await make().say(Intent("order.fruit", {"FRUIT": "배"}))
    assert [(e.type, e.role, e.text, e.value) for e in r.entities] == [
        ("FRUIT", "FRUIT", "배", "배")
    ]
    assert r.prompt == "배 주문했어요."


async def test_an_intent_slot_with_a_built_in_type_is_that_entity(
    make: Callable[..., Talk],
) -> None:
    r = await make().say(Intent("order.fruit", {"BID_DT_DAY": "내일"}))
    assert [(e.type, e.value) for e in r.entities] == [("BID_DT_DAY", "내일")]
    assert r.warnings == []
    assert r.state.waiting == SlotWait("answer.fruit", "fruit", 1)  # still no fruit


async def test_intent_slots_in_a_slot_wait_use_the_waiting_action(
    make: Callable[..., Talk],
) -> None:
    talk = make()
    await talk.say("과일 주문")
    # An intent the play does not know, carrying the slot: the waiting action reads it.
    r = await talk.say(Intent("CLOVA.GuideIntent", {"fruit": "사과"}))
    assert r.warnings == []
    assert r.prompt == "사과 주문했어요."


# ------------------------------------------------------------------ welcome, stop, rewind (§5.6)

MUSIC = """
name: music-edges
invocation: 노래상자
welcome: [노래상자예요.]
exit: [노래상자를 마칠게요.]
fallback: [잘 모르겠어요. 끝낼게요., 다시 말씀해 주세요.]
intents:
  play.song:
    examples: ["노래 틀어줘"]
actions:
  song.play:
    trigger: {intent: play.song}
    response:
      type: wait
      prompts: [노래를 틀게요.]
      directives:
        - type: AudioPlayer.Play
          audioItem: {stream: {url: "https://example.com/a.mp3", token: song-1}}
  song.stop:
    trigger: {intent: NUGU.INTENT.stop}
    response:
      prompts: [노래를 멈출게요.]
      directives: [{type: AudioPlayer.Stop}]
"""


async def test_a_custom_welcome_action_runs_on_open(make: Callable[..., Talk]) -> None:
    def with_welcome(definition: PlayDefinition) -> PlayDefinition:
        act = msgspec.structs.replace(
            definition.actions["answer.time"], name="NUGU.ACTION.welcome", trigger=None
        )
        actions = {**definition.actions, act.name: act}
        return msgspec.structs.replace(definition, actions=actions)

    talk = make(edit=with_welcome)
    r = await talk.say("모서리")
    assert r.intent == "NUGU.INTENT.open"
    assert r.actions == ["NUGU.ACTION.welcome"]
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("세 시예요.", "wait", "response")


async def test_open_resets_the_fallback_stack(make: Callable[..., Talk]) -> None:
    talk = make(yaml=MUSIC, audio_player=False)
    r1 = await talk.say("아무 말")
    assert (r1.prompt, r1.state.fallback_spoken) == ("다시 말씀해 주세요.", 1)
    r2 = await talk.say("노래상자")
    assert r2.prompt == "노래상자예요." and r2.state.fallback_spoken == 0
    r3 = await talk.say("아무 말")  # the stack starts again from its top
    assert (r3.prompt, r3.prompt_type) == ("다시 말씀해 주세요.", "wait")


async def test_a_play_without_welcome_prompts_opens_silently(make: Callable[..., Talk]) -> None:
    bare = MUSIC.replace("welcome: [노래상자예요.]\n", "")
    r = await make(yaml=bare).say("노래상자")
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("", "wait", "welcome")
    assert r.state.active and not r.session_ended


async def test_continuation_welcome_needs_welcome_prompts(make: Callable[..., Talk]) -> None:
    bare = MUSIC.replace("welcome: [노래상자예요.]\n", "")
    r = await make(yaml=bare, welcome_type="continuation", audio_player=False).say(
        "노래상자에서 노래 틀어줘"
    )
    assert r.prompt == "노래를 틀게요."


async def test_stop_runs_the_custom_stop_action_in_an_audio_player_play(
    make: Callable[..., Talk],
) -> None:
    talk = make(yaml=MUSIC)
    assert talk.engine.uses_audio_player
    await talk.say("노래 틀어줘")
    r = await talk.say(Intent("NUGU.INTENT.stop"))
    assert r.actions == ["song.stop"]
    assert (r.prompt, r.prompt_type) == ("노래를 멈출게요.", "end")
    assert r.directive_types == ["AudioPlayer.Stop"]
    assert r.device.audio.player_activity == "STOPPED"
    assert r.warnings == [] and r.session_ended and not r.state.active


async def test_stop_always_runs_the_custom_action_and_ends_even_on_a_wait_prompt(
    make: Callable[..., Talk],
) -> None:
    quiet_stop = MUSIC.replace(
        "      prompts: [노래를 멈출게요.]\n      directives: [{type: AudioPlayer.Stop}]\n",
        "      type: wait\n      prompts: [노래를 멈출게요.]\n",
    )
    assert quiet_stop != MUSIC
    talk = make(yaml=quiet_stop, audio_player=False, custom_stop_action="always")
    await talk.say("노래상자")
    r = await talk.say(Intent("NUGU.INTENT.stop"))
    assert r.actions == ["song.stop"]
    assert r.prompt == "노래를 멈출게요."
    assert r.session_ended and not r.state.active and r.state.waiting is None


@pytest.mark.parametrize(("mode", "audio"), [("auto", False), ("never", True)])
async def test_stop_says_the_exit_prompt_and_warns_when_the_custom_action_is_skipped(
    make: Callable[..., Talk], mode: str, audio: bool
) -> None:
    talk = make(yaml=MUSIC, custom_stop_action=mode, audio_player=audio)
    await talk.say("노래상자")
    r = await talk.say(Intent("NUGU.INTENT.stop"))
    assert r.actions == []
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("노래상자를 마칠게요.", "end", "exit")
    assert r.warnings == [
        "action 'song.stop' is triggered by NUGU.INTENT.stop, but NUGU.INTENT.stop always "
        "runs NUGU.ACTION.exit (set custom_stop_action: always to run it)"
    ]
    assert r.session_ended


async def test_stop_without_exit_prompts_ends_silently(make: Callable[..., Talk]) -> None:
    bare = PLAY.replace("exit: [모서리를 마칠게요.]\n", "")
    talk = make(yaml=bare)
    await talk.say("모서리")
    r = await talk.say(Intent("NUGU.INTENT.stop"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("", "end", "exit")
    assert r.session_ended and r.warnings == []


async def test_rewind_in_an_audio_player_play_is_a_fallback(make: Callable[..., Talk]) -> None:
    """§5.6: with AudioPlayer on, rewind only triggers a custom action."""
    talk = make(yaml=MUSIC)
    await talk.say("노래상자")
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_source) == ("다시 말씀해 주세요.", "fallback")
    assert r.state.failures == 1


async def test_rewind_replays_the_last_prompt_without_audio_player(
    make: Callable[..., Talk],
) -> None:
    talk = make(yaml=MUSIC, audio_player=False)
    await talk.say("노래상자")
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("노래상자예요.", "wait", "rewind")
    assert r.state.failures == 0


async def test_rewind_while_slot_filling_is_a_failed_slot_turn(make: Callable[..., Talk]) -> None:
    """Inside slot filling only the missing entity counts (§7.4), rewind included."""
    talk = make(audio_player=False)
    await talk.say("모서리")
    asked = await talk.say("과일 주문")
    assert asked.prompt == "어떤 과일이요?"
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("과일을 몰라서 끝낼게요.", "end", "slot")


async def test_a_custom_rewind_action_runs_instead_of_the_replay(
    make: Callable[..., Talk],
) -> None:
    yaml = (
        MUSIC
        + """
  song.rewind:
    trigger: {intent: NUGU.INTENT.rewind}
    response:
      type: wait
      prompts: [처음부터 다시 틀게요.]
"""
    )
    talk = make(yaml=yaml, audio_player=False)
    await talk.say("노래상자")
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert r.actions == ["song.rewind"]
    assert (r.prompt, r.prompt_source) == ("처음부터 다시 틀게요.", "response")


# ------------------------------------------------------------------ device events and directives

EVENTS = """
name: player
invocation: 플레이어
welcome: [플레이어예요.]
intents:
  play.song:
    examples: ["노래 틀어줘"]
actions:
  song.play:
    trigger: {intent: play.song}
    backend: true
  song.started:
    trigger: {event: AudioPlayer.PlaybackStarted}
    backend: true
  song.failed:
    trigger: {event: AudioPlayer.PlaybackFailed}
    backend: true
    response:
      type: wait
      prompts: [재생에 실패했어요.]
"""


def play_directive(stream: Any) -> dict[str, Any]:
    return {"type": "AudioPlayer.Play", "audioItem": {"stream": stream}}


class Device:
    """A conversation that also keeps the device between turns."""

    def __init__(self, talk: Talk) -> None:
        self.talk = talk
        self.device = DeviceState()

    async def send(self, value: str | Intent | DeviceEvent) -> TurnResult:
        r = await self.talk.engine.turn(self.talk.state, value, device=self.device)
        self.talk.state, self.device = r.state, r.device
        return r


@pytest.mark.parametrize(
    ("stream", "token", "offset"),
    [
        ({"url": "u", "token": "t2", "offsetInMilliseconds": 1500}, "t2", 1500),
        ({"url": "u", "token": "t2"}, "t2", 0),
        ({"url": "u", "token": 7, "offsetInMilliseconds": "9"}, "t1", 0),
        ("not a stream", "t1", 0),
    ],
)
async def test_a_play_directive_sets_the_player_from_its_stream(
    make: Callable[..., Talk], stream: Any, token: str, offset: int
) -> None:
    """The device plays the stream: its token (kept when not a string) and offset (0 when
    not an integer) go into the next request's AudioPlayer context."""
    answers = [
        CallAnswer(result_code="OK", directives=[play_directive({"url": "u", "token": "t1"})]),
        CallAnswer(result_code="OK", directives=[play_directive(stream)]),
    ]
    device = Device(make(*answers, yaml=EVENTS))
    first = await device.send("노래 틀어줘")
    assert (first.prompt, first.directive_types) == (None, ["AudioPlayer.Play"])
    assert first.session_ended
    device.device.audio.offset_in_milliseconds = 777
    r = await device.send("노래 틀어줘")
    assert r.device.audio.player_activity == "PLAYING"
    assert (r.device.audio.token, r.device.audio.offset_in_milliseconds) == (token, offset)


@pytest.mark.parametrize(
    ("directive", "activity"),
    [
        ("AudioPlayer.Stop", "STOPPED"),
        ("AudioPlayer.Pause", "PAUSED"),
        ("AudioPlayer.ClearQueue", "PLAYING"),  # no effect on the activity
    ],
)
async def test_stop_and_pause_directives_set_the_activity(
    make: Callable[..., Talk], directive: str, activity: str
) -> None:
    answers = [
        CallAnswer(result_code="OK", directives=[play_directive({"token": "t1"})]),
        CallAnswer(result_code="OK", directives=[{"type": directive}]),
    ]
    device = Device(make(*answers, yaml=EVENTS))
    await device.send("노래 틀어줘")
    r = await device.send("노래 틀어줘")
    assert r.device.audio.player_activity == activity
    assert r.device.audio.token == "t1"


async def test_play_builder_does_not_execute_directives(make: Callable[..., Talk]) -> None:
    answers = [CallAnswer(result_code="OK", directives=[play_directive({"token": "t1"})])]
    device = Device(make(*answers, yaml=EVENTS, play_builder=True))
    r = await device.send("노래 틀어줘")
    assert r.directive_types == ["AudioPlayer.Play"]
    assert r.device.audio.player_activity == "IDLE" and r.device.audio.token is None


async def test_an_event_action_without_a_prompt_ends_the_session(
    make: Callable[..., Talk],
) -> None:
    scripted = Scripted(CallAnswer(result_code="OK"))
    device = Device(make(yaml=EVENTS, caller=scripted))
    device.device.audio.token = "t5"
    device.device.audio.offset_in_milliseconds = 3000
    r = await device.send(DeviceEvent("PlaybackStarted", {"extra": 1}))
    assert r.kind == "event" and r.actions == ["song.started"]
    assert r.event == {
        "type": "AudioPlayer.PlaybackStarted",
        "token": "t5",
        "offsetInMilliseconds": 3000,
        "extra": 1,
    }
    (call,) = scripted.calls
    assert call.event == r.event
    assert call.audio_player == {
        "playerActivity": "PLAYING",
        "token": "t5",
        "offsetInMilliseconds": 3000,
    }
    assert r.prompt is None and r.session_ended and not r.state.active
    assert r.device.audio.player_activity == "PLAYING"


async def test_an_event_action_with_a_wait_prompt_keeps_the_session(
    make: Callable[..., Talk],
) -> None:
    device = Device(make(CallAnswer(result_code="OK"), yaml=EVENTS))
    r = await device.send(DeviceEvent("AudioPlayer.PlaybackFailed", {"token": None}))
    assert r.event == {"type": "AudioPlayer.PlaybackFailed", "offsetInMilliseconds": 0}
    assert (r.prompt, r.prompt_type) == ("재생에 실패했어요.", "wait")
    assert r.state.active and not r.session_ended
    assert r.device.audio.player_activity == "STOPPED"


@pytest.mark.parametrize(
    ("fields", "token", "offset"),
    [
        ({"token": "t9", "offsetInMilliseconds": 42}, "t9", 42),
        ({"token": 3, "offsetInMilliseconds": True}, "old", 10),
        ({"offsetInMilliseconds": 2.5}, "old", 10),
    ],
)
async def test_an_event_moves_the_player_only_with_valid_fields(
    make: Callable[..., Talk], fields: dict[str, Any], token: str, offset: int
) -> None:
    device = Device(make(CallAnswer(result_code="OK"), yaml=EVENTS))
    device.device.audio.token, device.device.audio.offset_in_milliseconds = "old", 10
    r = await device.send(DeviceEvent("PlaybackStarted", fields))
    audio = r.device.audio
    assert (audio.player_activity, audio.token, audio.offset_in_milliseconds) == (
        "PLAYING",
        token,
        offset,
    )


# ------------------------------------------------------------------ branches and multi-turn

QUIZ = """
name: quiz-edges
invocation: 퀴즈방
welcome: [퀴즈방이에요.]
fallback: [모르겠어요. 끝낼게요., 다시 말씀해 주세요.]
entities:
  FRUIT: {values: {사과: [], 배: [], 귤: [], 포도: []}}
intents:
  start.quiz:
    examples: ["퀴즈 내줘"]
  answer.quiz:
    examples: ["[사과](FRUIT)", "정답은 [배](FRUIT)"]
  give.up:
    examples: ["포기할래"]
parameters:
  level: {value: 쉬움}
actions:
  quiz.start:
    trigger: {intent: start.quiz}
    backend: true
    parameters:
      answer: {type: FRUIT}
      expected: backend
      hint: backend
    response:
      type: wait
      prompts: ["문제예요. 빨간 과일은?"]
    branches:
      - when: {intent: give.up}
        action: quiz.giveup
      - when: {equals: {answer: "{{expected}}"}}
        action: quiz.right
      - when: {any: [{equals: {answer: 배}}, {equals: {answer: 귤}}]}
        action: quiz.close
      - when: {exists: hint}
        action: quiz.hint
  quiz.right:
    response: {prompts: ["{{answer}}, 정답이에요."]}
  quiz.close:
    response: {prompts: ["{{answer}}는 아까워요."]}
  quiz.hint:
    response: {prompts: ["힌트: {{hint}}."]}
  quiz.giveup:
    response: {prompts: [다음에 또 해요.]}
"""


async def quiz(make: Callable[..., Talk], hint: str | None = None, **settings: Any) -> Talk:
    talk = make(ok(expected="사과", hint=hint), yaml=QUIZ, **settings)
    r = await talk.say("퀴즈 내줘")
    assert (r.prompt, r.prompt_type) == ("문제예요. 빨간 과일은?", "wait")
    assert r.state.waiting == ListenWait("quiz.start")
    return talk


@pytest.mark.parametrize(
    ("text", "action", "prompt"),
    [
        ("사과", "quiz.right", "사과, 정답이에요."),  # equals another parameter
        ("정답은 배", "quiz.close", "배는 아까워요."),  # any: the first item holds
        ("귤", "quiz.close", "귤는 아까워요."),  # any: the second item holds
        ("포기할래", "quiz.giveup", "다음에 또 해요."),  # the intent condition
    ],
)
async def test_the_next_utterance_takes_the_first_branch_that_holds(
    make: Callable[..., Talk], text: str, action: str, prompt: str
) -> None:
    talk = await quiz(make)
    r = await talk.say(text)
    assert r.actions == [action]
    assert r.calls == []  # the root is not called again
    assert r.prompt == prompt
    assert r.state.waiting is None and r.state.failures == 0


async def test_a_branch_on_an_empty_backend_value_does_not_hold(
    make: Callable[..., Talk],
) -> None:
    """``exists`` needs a non-empty value: an empty hint is no hint, so the user is asked
    again with the play's fallback prompts (the action has no reprompts)."""
    talk = await quiz(make, hint="")
    r = await talk.say("아무거나")
    assert r.actions == ["quiz.start"]
    assert (r.prompt, r.prompt_type, r.prompt_source) == (
        "다시 말씀해 주세요.",
        "wait",
        "reprompt",
    )
    assert r.state.waiting == ListenWait("quiz.start", 1)
    assert r.state.failures == 1
    r2 = await talk.say("몰라")
    assert (r2.prompt, r2.prompt_type) == ("모르겠어요. 끝낼게요.", "end")
    assert r2.state.waiting is None and r2.session_ended


async def test_a_branch_on_a_filled_backend_value_holds(make: Callable[..., Talk]) -> None:
    talk = await quiz(make, hint="빨개요")
    r = await talk.say("아무거나")
    assert (r.actions, r.prompt) == (["quiz.hint"], "힌트: 빨개요.")


async def test_an_unmatched_answer_does_not_keep_its_entities(
    make: Callable[..., Talk],
) -> None:
    """The branches are tried on a trial copy: when none holds, the state keeps the values
    it had, and the next answer is matched afresh."""
    talk = await quiz(make, hint="")
    r = await talk.say("포도")  # a FRUIT, but no branch takes 포도
    assert [(e.type, e.value) for e in r.entities] == [("FRUIT", "포도")]
    assert r.prompt_source == "reprompt"
    assert "answer" not in r.state.params
    r2 = await talk.say("사과")
    assert r2.prompt == "사과, 정답이에요."
    assert r2.state.params["answer"] == "사과"
    assert r2.state.param_types["answer"] == "FRUIT"


async def test_without_reprompts_or_fallback_the_default_prompt_is_said(
    make: Callable[..., Talk],
) -> None:
    bare = QUIZ.replace("fallback: [모르겠어요. 끝낼게요., 다시 말씀해 주세요.]\n", "")
    talk = make(ok(expected="사과", hint=None), yaml=bare)
    await talk.say("퀴즈 내줘")
    r = await talk.say("아무거나")
    assert (r.prompt, r.prompt_type) == ("죄송해요, 잘 이해하지 못했어요.", "end")
    assert r.session_ended


async def test_max_failures_ends_a_multi_turn_wait(make: Callable[..., Talk]) -> None:
    talk = await quiz(make, max_failures=1)
    r = await talk.say("아무거나")
    assert (r.prompt, r.prompt_type) == ("모르겠어요. 끝낼게요.", "end")
    assert r.session_ended


# ------------------------------------------------------------------ walking actions


def chain(length: int) -> str:
    """A play whose intent runs a chain of ``length`` actions joined by common actions."""
    lines = [
        "name: chain",
        "invocation: 사슬",
        "intents:",
        "  go.chain:",
        '    examples: ["사슬 따라가"]',
        "actions:",
    ]
    for i in range(length):
        lines.append(f"  step{i}:")
        if i == 0:
            lines.append("    trigger: {intent: go.chain}")
        if i + 1 < length:
            lines.append(f"    common: step{i + 1}")
        else:
            lines.append("    response: {prompts: [끝까지 왔어요.]}")
    return "\n".join(lines) + "\n"


async def test_a_chain_of_64_actions_is_walked_and_65_stop_the_play(
    make: Callable[..., Talk],
) -> None:
    ok64 = await make(yaml=chain(64)).say("사슬 따라가")
    assert ok64.violations == [] and ok64.prompt == "끝까지 왔어요."
    assert len(ok64.actions) == 64
    r = await make(yaml=chain(65)).say("사슬 따라가")
    path = " -> ".join(f"step{i}" for i in range(65))
    assert r.violations == [f"circular reference between actions ({path}): the play stops"]
    assert r.prompt is None and r.session_ended and not r.state.active


async def test_a_cycle_names_its_path_and_drops_the_directives(
    make: Callable[..., Talk],
) -> None:
    yaml = """
name: cycle
invocation: 원
intents:
  go.round:
    examples: ["빙글빙글 돌아"]
actions:
  round.start:
    trigger: {intent: go.round}
    backend: true
    common: round.a
  round.a:
    common: round.b
  round.b:
    common: round.a
"""
    stop = {"type": "AudioPlayer.Stop"}
    r = await make(CallAnswer(result_code="OK", directives=[stop]), yaml=yaml).say("빙글빙글 돌아")
    assert r.violations == [
        "circular reference between actions (round.start -> round.a -> round.b -> round.a): "
        "the play stops"
    ]
    assert r.directives == [] and r.prompt is None and r.session_ended


async def test_a_branch_to_an_undefined_action_is_a_failure(make: Callable[..., Talk]) -> None:
    def broken(definition: PlayDefinition) -> PlayDefinition:
        return replace_action(definition, "answer.time", common="no.such.action", response=None)

    r = await make(edit=broken).say("몇 시야")
    assert r.violations == ["action 'no.such.action' is not defined"]
    assert (r.prompt, r.prompt_source) == ("연결이 안 돼요.", "failure")
    assert r.session_ended


async def test_a_required_parameter_without_prompts_is_reported_and_skipped(
    make: Callable[..., Talk],
) -> None:
    def no_prompts(definition: PlayDefinition) -> PlayDefinition:
        act = definition.actions["answer.fruit"]
        fruit = msgspec.structs.replace(act.parameters["fruit"], prompts=())
        return replace_action(definition, "answer.fruit", parameters={"fruit": fruit})

    r = await make(edit=no_prompts).say("과일 주문")
    assert r.violations == ["required parameter 'fruit' has no prompts"]
    assert r.prompt == " 주문했어요."  # the action runs without it
    assert r.state.waiting is None


TWO_SLOTS = """
name: delivery
invocation: 배달
entities:
  FRUIT: {values: {사과: [], 배: []}}
  CITY: {values: {서울: [], 부산: []}}
intents:
  send.fruit:
    examples: ["[사과](FRUIT) [서울](CITY)로 보내줘", "과일 보내줘"]
actions:
  send.fruit:
    trigger: {intent: send.fruit}
    parameters:
      fruit:
        type: FRUIT
        required: true
        prompts: [과일을 몰라서 끝낼게요., "어떤 과일이요?"]
      city:
        type: CITY
        required: true
        prompts: [도시를 몰라서 끝낼게요., "어디로 보낼까요?"]
    response:
      prompts: ["{{fruit}}를 {{city}}로 보낼게요."]
"""


async def test_slots_are_asked_one_after_another(make: Callable[..., Talk]) -> None:
    talk = make(yaml=TWO_SLOTS)
    r1 = await talk.say("과일 보내줘")
    assert r1.actions == ["send.fruit"]
    assert (r1.prompt, r1.prompt_source) == ("어떤 과일이요?", "slot")
    assert r1.state.waiting == SlotWait("send.fruit", "fruit", 1)
    r2 = await talk.say("사과")
    assert (r2.prompt, r2.prompt_type) == ("어디로 보낼까요?", "wait")
    assert r2.state.waiting == SlotWait("send.fruit", "city", 1)
    r3 = await talk.say("부산")
    assert r3.prompt == "사과를 부산로 보낼게요."
    assert r3.state.waiting is None and r3.session_ended


async def test_the_first_utterance_can_fill_every_slot(make: Callable[..., Talk]) -> None:
    r = await make(yaml=TWO_SLOTS).say("배 서울로 보내줘")
    assert r.prompt == "배를 서울로 보낼게요."


async def test_a_new_intent_forgets_the_old_utterance_values(make: Callable[..., Talk]) -> None:
    waits = TWO_SLOTS.replace(
        "    response:\n      prompts:", "    response:\n      type: wait\n      prompts:"
    )
    talk = make(yaml=waits)
    first = await talk.say("사과 서울로 보내줘")
    assert first.prompt_type == "wait" and first.state.params["fruit"] == "사과"
    r = await talk.say("과일 보내줘")  # the same session: no new session clears them
    assert r.state.session_id == first.state.session_id
    assert "fruit" not in r.state.params and "city" not in r.state.params
    assert r.state.waiting == SlotWait("send.fruit", "fruit", 1)


async def test_the_last_response_is_kept_for_rewind_across_silent_turns(
    make: Callable[..., Talk],
) -> None:
    device = Device(make(CallAnswer(result_code="OK"), yaml=EVENTS, audio_player=False))
    first = await device.send("플레이어")
    assert first.state.last_prompt == "플레이어예요."
    ev = await device.send(DeviceEvent("PlaybackStarted"))
    assert ev.prompt is None and ev.directives == []
    assert (ev.state.last_prompt, ev.state.last_prompt_type) == ("플레이어예요.", "wait")
    r = await device.send(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type) == ("플레이어예요.", "wait")


# ------------------------------------------------------------------ what the NLU is told


class Recording:
    """A recogniser that records what it was asked and answers a fixed result."""

    def __init__(self, result: NluResult) -> None:
        self.result = result
        self.asked: list[tuple[str, list[str] | None]] = []

    def parse(self, text: str, *, expect_types: Any = None) -> NluResult:
        self.asked.append((text, None if expect_types is None else list(expect_types)))
        return self.result


async def test_the_nlu_is_told_the_types_a_slot_wait_expects() -> None:
    definition = parse_definition(TWO_SLOTS)
    nlu = Recording(NluResult("send.fruit", 0.9))
    engine = DialogEngine(definition, recognizer=nlu, settings=EngineSettings(seed=1))
    r1 = await engine.turn(engine.new_state(), "과일 보내줘")
    assert nlu.asked == [("과일 보내줘", None)]
    nlu.result = NluResult(None, 0.0, [EntityMatch("FRUIT", "FRUIT", "배", "배", 0, 1)])
    r2 = await engine.turn(r1.state, "배")
    assert nlu.asked[-1] == ("배", ["FRUIT:FRUIT"])
    assert r2.state.waiting == SlotWait("send.fruit", "city", 1)


async def test_the_nlu_is_told_the_types_an_exception_wait_expects() -> None:
    definition = parse_definition(PLAY)
    nlu = Recording(
        NluResult("ask.weather", 1.0, [EntityMatch("CITY", "CITY", "서울", "서울", 0, 2)])
    )
    engine = DialogEngine(definition, Scripted(CallAnswer(result_code="NO_CITY")), recognizer=nlu)
    r1 = await engine.turn(engine.new_state(), "서울 날씨 알려줘")
    assert r1.state.waiting == ExceptionWait("answer.weather", "NO_CITY", 1)
    nlu.result = NluResult(None, 0.0)
    await engine.turn(r1.state, "음")
    assert nlu.asked[-1] == ("음", ["CITY:CITY"])


async def test_the_invocation_alone_opens_without_asking_the_nlu() -> None:
    nlu = Recording(NluResult("ask.weather", 1.0))
    engine = DialogEngine(parse_definition(PLAY), recognizer=nlu)
    r = await engine.turn(engine.new_state(), "  ")
    assert nlu.asked == []
    assert (r.intent, r.score, r.prompt) == ("NUGU.INTENT.open", 1.0, "모서리예요.")


@pytest.mark.parametrize(
    ("action", "settings", "expected"),
    [
        ("    trigger: {event: AudioPlayer.PlaybackStopped}\n    backend: true\n", "", True),
        (
            "    trigger: {intent: NUGU.INTENT.pause}\n    response: {prompts: [멈춰요.]}\n",
            "",
            True,
        ),
        (
            "    trigger: {intent: ask.time}\n    response:\n"
            "      prompts: [틀게요.]\n      directives: [{type: AudioPlayer.Play}]\n",
            "",
            True,
        ),
        ("    trigger: {intent: ask.time}\n    response: {prompts: [세 시예요.]}\n", "", False),
        (
            "    trigger: {intent: ask.time}\n    response: {prompts: [세 시예요.]}\n",
            "settings: {audio_player: true}\n",
            True,
        ),
    ],
)
def test_audio_player_use_is_inferred_from_the_play(
    action: str, settings: str, expected: bool
) -> None:
    yaml = (
        "name: infer\ninvocation: 추론\n"
        + settings
        + 'intents:\n  ask.time:\n    examples: ["몇 시야"]\nactions:\n  the.action:\n'
        + action
    )
    definition = parse_definition(yaml)
    engine = DialogEngine(definition, settings=EngineSettings(), tokenizer=TOKENIZER)
    assert engine.uses_audio_player is expected
    forced = DialogEngine(
        definition, settings=EngineSettings(audio_player=not expected), tokenizer=TOKENIZER
    )
    assert forced.uses_audio_player is (not expected)


# ------------------------------------------------------------------ prompts and state


async def test_a_prompt_that_cannot_render_is_said_as_typed_with_a_violation(
    make: Callable[..., Talk],
) -> None:
    def bad_prompt(definition: PlayDefinition) -> PlayDefinition:
        response = Response(type="wait", prompts=("{{hour>NO_FILTER}}시예요.",))
        return replace_action(definition, "answer.time", response=response)

    talk = make(edit=bad_prompt)
    r = await talk.say("몇 시야")
    assert r.prompt == "{{hour>NO_FILTER}}시예요."
    (violation,) = r.violations
    assert violation.startswith("prompt '{{hour>NO_FILTER}}시예요.': ")
    again = await talk.say("몇 시야")  # the parse error is kept, and reported again
    assert again.violations == r.violations


async def test_a_continuation_welcome_is_not_said_before_a_silent_response(
    make: Callable[..., Talk],
) -> None:
    def silent(definition: PlayDefinition) -> PlayDefinition:
        response = Response(type="wait", prompts=("세 시예요.",), silent=True)
        return replace_action(definition, "answer.time", response=response)

    talk = make(edit=silent, welcome_type="continuation")
    r = await talk.say("모서리에서 몇 시야")
    assert (r.prompt, r.prompt_type) == ("", "wait")
    loud = await make(welcome_type="continuation").say("모서리에서 몇 시야")
    assert loud.prompt == "모서리예요. 세 시예요."


async def test_reset_keeps_the_counters_and_forgets_the_rest(make: Callable[..., Talk]) -> None:
    talk = make()
    await talk.say("과일 주문")
    r = await talk.engine.turn(talk.state, Reset())
    assert (r.turn, r.kind, r.session_ended) == (2, "reset", True)
    assert (r.state.turns, r.state.sessions) == (2, 1)
    assert r.state.waiting is None and not r.state.active and r.state.params == {}
    nxt = await talk.engine.turn(r.state, "과일 주문")
    assert nxt.turn == 3 and nxt.state.sessions == 2


async def test_another_exception_code_starts_its_own_prompt_stack(
    make: Callable[..., Talk],
) -> None:
    yaml = PLAY.replace(
        "          - 어느 도시요?\n",
        "          - 어느 도시요?\n      BUSY:\n        prompts:\n"
        "          - 바빠서 끝낼게요.\n          - 지금 바빠요. 다시 말씀해 주세요.\n",
    )
    talk = make(CallAnswer(result_code="NO_CITY"), CallAnswer(result_code="BUSY"), yaml=yaml)
    r1 = await talk.say("서울 날씨 알려줘")
    assert r1.state.waiting == ExceptionWait("answer.weather", "NO_CITY", 1)
    r2 = await talk.say("부산")
    assert r2.calls[0].result_code == "BUSY"
    assert (r2.prompt, r2.prompt_type) == ("지금 바빠요. 다시 말씀해 주세요.", "wait")
    assert r2.state.waiting == ExceptionWait("answer.weather", "BUSY", 1)


async def test_the_same_code_again_after_a_recall_says_the_end_prompt(
    make: Callable[..., Talk],
) -> None:
    talk = make(CallAnswer(result_code="NO_CITY"), CallAnswer(result_code="NO_CITY"))
    await talk.say("서울 날씨 알려줘")
    r = await talk.say("부산")
    assert [c.action for c in r.calls] == ["answer.weather"]
    assert (r.prompt, r.prompt_type) == ("도시를 몰라서 끝낼게요.", "end")
    assert r.state.waiting is None and r.session_ended
    assert r.state.failures == 0  # the reply was understood; the backend said no


async def test_branch_conditions_see_the_player_offset_as_text(
    make: Callable[..., Talk],
) -> None:
    yaml = """
name: offset
invocation: 이어듣기
intents:
  ask.where:
    examples: ["어디까지 들었어"]
actions:
  where.root:
    trigger: {intent: ask.where}
    branches:
      - when: {equals: {"[NPK]context_supportedInterfaces_AudioPlayer_offsetInMilliseconds": "0"}}
        action: where.start
      - when: {exists: "[NPK]context_supportedInterfaces_AudioPlayer_token"}
        action: where.middle
      - default: where.none
  where.start:
    response: {prompts: [처음이에요.]}
  where.middle:
    response: {prompts: [중간이에요.]}
  where.none:
    response: {prompts: [몰라요.]}
"""
    talk = make(yaml=yaml)
    device = DeviceState()
    r0 = await talk.engine.turn(talk.state, "어디까지 들었어", device=device)
    assert r0.prompt == "처음이에요."
    device.audio.offset_in_milliseconds = 1200
    r1 = await talk.engine.turn(talk.state, "어디까지 들었어", device=device)
    assert r1.prompt == "몰라요."
    device.audio.token = "곡-7"
    r2 = await talk.engine.turn(talk.state, "어디까지 들었어", device=device)
    assert r2.prompt == "중간이에요."


async def test_equals_between_two_missing_parameters_does_not_hold(
    make: Callable[..., Talk],
) -> None:
    talk = make(ok(expected=None, hint=None), yaml=QUIZ)
    await talk.say("퀴즈 내줘")
    r = await talk.say("아무거나")  # no answer, no expected: None == None is not a match
    assert r.prompt_source == "reprompt"


# ------------------------------------------------------------------ multi-turn filling rules

SHOP = """
name: shop
invocation: 과일가게
entities:
  FRUIT: {values: {사과: [], 배: []}}
  COLOR: {values: {빨강: [], 노랑: []}}
  CITY: {values: {서울: [], 부산: []}}
intents:
  ask.shop:
    examples: ["과일 골라줘", "[사과](FRUIT) 골라줘"]
actions:
  shop.start:
    trigger: {intent: ask.shop}
    parameters:
      fruit: {type: FRUIT, slot_filling_only: [COLOR]}
      city: {type: CITY}
    response:
      type: wait
      prompts: ["무엇을 어디로 보낼까요?"]
    branches:
      - when: {equals: {fruit: 배}}
        action: shop.pear
      - when: {exists: city}
        action: shop.city
      - when: {exists: fruit}
        action: shop.fruit
    reprompts: [그만할게요., 과일이나 도시를 말씀해 주세요.]
  shop.pear:
    response:
      type: wait
      prompts: ["배를 골랐어요. 더 필요하세요?"]
  shop.city:
    response: {prompts: ["{{city}}로 보낼게요."]}
  shop.fruit:
    response: {prompts: ["{{fruit}}를 골랐어요."]}
"""


async def test_the_next_utterance_replaces_a_value_the_first_one_gave(
    make: Callable[..., Talk],
) -> None:
    talk = make(yaml=SHOP)
    first = await talk.say("사과 골라줘")
    assert first.state.params["fruit"] == "사과"
    assert first.state.waiting == ListenWait("shop.start")
    r = await talk.say("배")
    assert r.actions == ["shop.pear"]
    assert (r.prompt, r.prompt_type) == ("배를 골랐어요. 더 필요하세요?", "wait")
    assert r.state.waiting is None and r.state.active


async def test_every_utterance_parameter_of_a_multi_turn_action_can_be_filled(
    make: Callable[..., Talk],
) -> None:
    talk = make(yaml=SHOP)
    await talk.say("과일 골라줘")
    r = await talk.say("부산")  # the second parameter, city
    assert (r.actions, r.prompt) == (["shop.city"], "부산로 보낼게요.")


async def test_slot_filling_only_mappings_do_not_fill_a_multi_turn_answer(
    make: Callable[..., Talk],
) -> None:
    talk = make(yaml=SHOP)
    await talk.say("과일 골라줘")
    r = await talk.say("빨강")  # COLOR maps to fruit only while slot filling
    assert [e.type for e in r.entities] == ["COLOR"]
    assert (r.prompt, r.prompt_source) == ("과일이나 도시를 말씀해 주세요.", "reprompt")
    assert r.state.failures == 1
    r2 = await talk.say("노랑")
    assert (r2.prompt, r2.prompt_type) == ("그만할게요.", "end")
    assert r2.state.failures == 2  # consecutive failed turns add up


# ------------------------------------------------------------------ confirming a corrected value


def fuzzy_city(text: str = "서을", value: str = "서울") -> EntityMatch:
    return EntityMatch("CITY", "CITY", text, value, 0, len(text), 0.6, "fuzzy")


async def test_yes_runs_the_intent_with_the_confirmed_values() -> None:
    scripted = Scripted(ok(weather="맑음"))
    nlu = Recording(NluResult("ask.weather", 0.7, [fuzzy_city()]))
    engine = DialogEngine(parse_definition(PLAY), scripted, recognizer=nlu)
    ask = await engine.turn(engine.new_state(), "서을 날씨 알려줘")
    assert (ask.prompt_source, ask.prompt_type) == ("confirm", "wait")
    assert scripted.calls == []
    yes = await engine.turn(ask.state, "네")
    assert (yes.intent, yes.score) == ("ask.weather", 0.7)
    assert [(e.text, e.value, e.confidence, e.source) for e in yes.entities] == [
        ("서을", "서울", 1.0, "confirmed")
    ]
    assert scripted.calls[0].params["city"] == "서울"
    assert yes.prompt == "서울 날씨는 맑음예요."


async def test_no_while_slot_filling_keeps_waiting_for_the_slot() -> None:
    nlu = Recording(NluResult("order.fruit", 1.0))
    engine = DialogEngine(parse_definition(PLAY), recognizer=nlu)
    first = await engine.turn(engine.new_state(), "과일 주문")
    assert first.state.waiting == SlotWait("answer.fruit", "fruit", 1)
    fruit = EntityMatch("FRUIT", "FRUIT", "사가", "사과", 0, 2, 0.6, "fuzzy")
    nlu.result = NluResult(None, 0.0, [fruit])
    ask = await engine.turn(first.state, "사가")
    assert ask.prompt_source == "confirm"
    no = await engine.turn(ask.state, "아니요")
    assert no.intent is None
    assert (no.prompt, no.prompt_type, no.prompt_source) == (
        "알겠어요. 다시 말씀해 주세요.",
        "wait",
        "confirm",
    )
    assert no.state.waiting == SlotWait("answer.fruit", "fruit", 1)
    assert no.state.active and not no.session_ended
    nlu.result = NluResult(None, 0.0, [EntityMatch("FRUIT", "FRUIT", "배", "배", 0, 1)])
    done = await engine.turn(no.state, "배")
    assert done.prompt == "배 주문했어요."


async def test_rewind_of_a_prompt_without_a_type_ends(make: Callable[..., Talk]) -> None:
    """A stored state from before prompt types were kept has a last prompt without a type:
    it is replayed as an end prompt."""
    talk = make(audio_player=False)
    talk.state.last_prompt = "안녕히 가세요."
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("안녕히 가세요.", "end", "rewind")
    assert r.session_ended


async def test_a_play_directive_without_an_audio_item_still_plays(
    make: Callable[..., Talk],
) -> None:
    answers = [
        CallAnswer(result_code="OK", directives=[play_directive({"token": "t1"})]),
        CallAnswer(result_code="OK", directives=[{"type": "AudioPlayer.Play"}]),
    ]
    device = Device(make(*answers, yaml=EVENTS))
    await device.send("노래 틀어줘")
    r = await device.send("노래 틀어줘")
    audio = r.device.audio
    assert (audio.player_activity, audio.token, audio.offset_in_milliseconds) == (
        "PLAYING",
        "t1",
        0,
    )


# ------------------------------------------------------------------ exception wait, more turns

THREE_TRIES = PLAY.replace(
    "          - 어느 도시요?\n",
    "          - 어느 도시요?\n          - 도시를 알려 주세요.\n",
)


async def test_each_failed_exception_reply_walks_the_stack_and_counts(
    make: Callable[..., Talk],
) -> None:
    talk = make(CallAnswer(result_code="NO_CITY"), yaml=THREE_TRIES)
    r1 = await talk.say("서울 날씨 알려줘")
    assert (r1.prompt, r1.state.waiting) == (
        "도시를 알려 주세요.",
        ExceptionWait("answer.weather", "NO_CITY", 1),
    )
    assert r1.warnings == []  # the code has prompts
    r2 = await talk.say("사과")  # not a CITY: a failed reply
    assert r2.calls == []
    assert (r2.prompt, r2.prompt_type, r2.prompt_source) == ("어느 도시요?", "wait", "exception")
    assert r2.state.waiting == ExceptionWait("answer.weather", "NO_CITY", 2)
    assert r2.state.failures == 1 and r2.state.active
    r3 = await talk.say("배")
    assert (r3.prompt, r3.prompt_type) == ("도시를 몰라서 끝낼게요.", "end")
    assert r3.state.failures == 2 and r3.state.waiting is None


async def test_max_failures_cuts_an_exception_wait_short(make: Callable[..., Talk]) -> None:
    talk = make(CallAnswer(result_code="NO_CITY"), yaml=THREE_TRIES, max_failures=1)
    await talk.say("서울 날씨 알려줘")
    r = await talk.say("사과")  # one failed reply is the limit: the end prompt, not the next
    assert (r.prompt, r.prompt_type) == ("도시를 몰라서 끝낼게요.", "end")
    assert r.session_ended


async def test_a_recall_that_answers_ok_leaves_the_exception_wait(
    make: Callable[..., Talk],
) -> None:
    waits = PLAY.replace(
        '    response:\n      prompts: ["{{city}} 날씨는 {{weather}}예요."]',
        '    response:\n      type: wait\n      prompts: ["{{city}} 날씨는 {{weather}}예요."]',
    )
    assert waits != PLAY
    talk = make(CallAnswer(result_code="NO_CITY"), ok(weather="흐림"), yaml=waits)
    await talk.say("서울 날씨 알려줘")
    r = await talk.say("부산")
    assert (r.prompt, r.prompt_type) == ("부산 날씨는 흐림예요.", "wait")
    assert r.state.waiting is None and r.state.active and r.state.failures == 0


async def test_slot_filling_only_mappings_do_not_answer_an_exception_wait(
    make: Callable[..., Talk],
) -> None:
    only = PLAY.replace(
        "      city: {type: CITY}\n", "      city: {type: CITY, slot_filling_only: [FRUIT]}\n"
    )
    assert only != PLAY
    talk = make(CallAnswer(result_code="NO_CITY"), yaml=only)
    await talk.say("서울 날씨 알려줘")
    r = await talk.say("사과")
    assert r.calls == []
    assert (r.prompt, r.prompt_type) == ("도시를 몰라서 끝낼게요.", "end")


# ------------------------------------------------------------------ more stop and intent inputs


async def test_a_custom_stop_action_starts_with_its_parameters_cleared(
    make: Callable[..., Talk],
) -> None:
    with_param = MUSIC.replace(
        "  song.stop:\n    trigger: {intent: NUGU.INTENT.stop}\n",
        "  song.stop:\n    trigger: {intent: NUGU.INTENT.stop}\n"
        "    parameters:\n      title: {type: SONG}\n",
    ).replace("intents:\n", "entities:\n  SONG: {values: {봄노래: []}}\nintents:\n")
    assert with_param.count("SONG") == 2
    talk = make(yaml=with_param)
    r = await talk.say(Intent("NUGU.INTENT.stop", {"title": "봄노래"}))
    assert r.actions == ["song.stop"]
    assert "title" not in r.state.params  # a stop carries no values into the action
    assert r.prompt == "노래를 멈출게요." and r.session_ended


async def test_slots_of_an_unknown_intent_are_only_entities_by_type(
    make: Callable[..., Talk],
) -> None:
    """A global utterance parameter does not take a slot of an intent the play does not
    know (there is no action to fill): the slot is ignored with a warning."""
    global_city = PLAY.replace(
        "parameters:\n  brand:", "parameters:\n  home: {type: CITY}\n  brand:"
    )
    assert global_city != PLAY
    r = await make(yaml=global_city).say(Intent("CLOVA.UnknownIntent", {"home": "부산"}))
    assert r.entities == []
    assert r.warnings == ["slot 'home' is neither a parameter of None nor an entity type: ignored"]
    assert r.prompt_source == "fallback"


async def test_an_event_without_a_token_and_no_action_only_warns(
    make: Callable[..., Talk],
) -> None:
    r = await make().say(DeviceEvent("Display.ElementSelected"))
    assert r.event == {"type": "Display.ElementSelected"}
    assert r.warnings == [
        "no action has the trigger event Display.ElementSelected; nothing happens"
    ]
    assert r.prompt is None and r.state.sessions == 0


@pytest.mark.parametrize("listened", [True, False])
async def test_an_event_of_another_interface_does_not_move_the_player(
    make: Callable[..., Talk], listened: bool
) -> None:
    """A Display event's token names a card, not the song: the AudioPlayer context of the
    next request must keep the song's token (a bug found by these tests: it took it)."""
    yaml = EVENTS.replace("AudioPlayer.PlaybackStarted", "Display.ElementSelected")
    device = Device(make(CallAnswer(result_code="OK"), yaml=yaml if listened else EVENTS))
    device.device.audio.token = "t5"
    device.device.audio.offset_in_milliseconds = 700
    fields = {"token": "card-1", "offsetInMilliseconds": 3}
    r = await device.send(DeviceEvent("Display.ElementSelected", fields))
    assert r.event == {"type": "Display.ElementSelected", **fields}
    assert r.actions == (["song.started"] if listened else [])
    audio = r.device.audio
    assert (audio.player_activity, audio.token, audio.offset_in_milliseconds) == (
        "IDLE",
        "t5",
        700,
    )


async def test_the_same_code_after_a_recall_goes_on_down_the_stack(
    make: Callable[..., Talk],
) -> None:
    talk = make(
        CallAnswer(result_code="NO_CITY"), CallAnswer(result_code="NO_CITY"), yaml=THREE_TRIES
    )
    await talk.say("서울 날씨 알려줘")
    r = await talk.say("부산")  # understood, called again, the same code
    assert [c.result_code for c in r.calls] == ["NO_CITY"]
    assert (r.prompt, r.prompt_type) == ("어느 도시요?", "wait")
    assert r.state.waiting == ExceptionWait("answer.weather", "NO_CITY", 2)


THREE_SLOT_PROMPTS = PLAY.replace(
    "          - 어떤 과일이요?\n",
    "          - 어떤 과일이요?\n          - 과일 이름을 말씀해 주세요.\n",
)


async def test_failed_slot_replies_count_and_the_end_prompt_closes_the_wait(
    make: Callable[..., Talk],
) -> None:
    talk = make(yaml=THREE_SLOT_PROMPTS)
    r1 = await talk.say("과일 주문")
    assert r1.prompt == "과일 이름을 말씀해 주세요."
    r2 = await talk.say("서울")  # a CITY: not the slot's type
    assert r2.actions == ["answer.fruit"]
    assert (r2.prompt, r2.state.waiting) == ("어떤 과일이요?", SlotWait("answer.fruit", "fruit", 2))
    r3 = await talk.say("부산")
    assert (r3.prompt, r3.prompt_type, r3.prompt_source) == (
        "과일을 몰라서 끝낼게요.",
        "end",
        "slot",
    )
    assert r3.state.failures == 2
    assert r3.state.waiting is None and r3.session_ended


# ------------------------------------------------------------------ when the engine asks to confirm


async def test_asking_to_confirm_counts_as_a_failed_turn() -> None:
    two = PLAY.replace(
        "fallback: [잘 모르겠어요.]", "fallback: [잘 모르겠어요., 다시 말씀해 주세요.]"
    )
    nlu = Recording(NluResult(None, 0.0))
    engine = DialogEngine(parse_definition(two), recognizer=nlu, settings=EngineSettings(seed=1))
    first = await engine.turn(engine.new_state(), "음")
    assert (first.prompt_source, first.prompt_type, first.state.failures) == ("fallback", "wait", 1)
    nlu.result = NluResult("ask.weather", 0.8, [fuzzy_city()])
    ask = await engine.turn(first.state, "서을 날씨")
    assert ask.prompt_source == "confirm"
    assert ask.state.failures == 2
    assert (ask.intent, ask.score) == ("ask.weather", 0.8)


async def test_play_builder_never_asks_to_confirm_a_new_intent() -> None:
    """The Play Builder test chat has no confirm step: a corrected value is used as read."""
    scripted = Scripted(ok(weather="맑음"))
    nlu = Recording(NluResult("ask.weather", 0.8, [fuzzy_city()]))
    settings = EngineSettings(seed=1, play_builder=True)
    engine = DialogEngine(parse_definition(PLAY), scripted, recognizer=nlu, settings=settings)
    r = await engine.turn(engine.new_state(), "서을 날씨")
    assert r.prompt_source == "response"
    assert scripted.calls[0].params["city"] == "서울"


async def test_a_corrected_value_in_a_multi_turn_reply_is_confirmed() -> None:
    """In a multi-turn wait the root's parameters count too (``fruit`` is the root's)."""
    nlu = Recording(NluResult("ask.shop", 1.0))
    engine = DialogEngine(parse_definition(SHOP), recognizer=nlu, settings=EngineSettings(seed=1))
    first = await engine.turn(engine.new_state(), "과일 골라줘")
    assert first.state.waiting == ListenWait("shop.start")
    fruit = EntityMatch("FRUIT", "FRUIT", "베", "배", 0, 1, 0.6, "fuzzy")
    nlu.result = NluResult(None, 0.0, [fruit])
    ask = await engine.turn(first.state, "베")
    assert ask.prompt_source == "confirm"
    yes = await engine.turn(ask.state, "네")
    assert yes.prompt == "배를 골랐어요. 더 필요하세요?"


async def test_accept_mode_logs_what_it_used(caplog: pytest.LogCaptureFixture) -> None:
    nlu = Recording(NluResult("ask.weather", 0.8, [fuzzy_city()]))
    settings = EngineSettings(seed=1, nlu_uncertain="accept")
    engine = DialogEngine(
        parse_definition(PLAY), Scripted(ok(weather="비")), recognizer=nlu, settings=settings
    )
    with caplog.at_level(logging.INFO, logger="voicehook.dialog"):
        r = await engine.turn(engine.new_state(), "서을 날씨")
    assert r.prompt == "서울 날씨는 비예요."
    assert [rec.getMessage() for rec in caplog.records if rec.name == "voicehook.dialog"] == [
        "nlu: used without asking: [] []"
    ]


async def test_reask_mode_asks_again_and_logs_the_doubts(caplog: pytest.LogCaptureFixture) -> None:
    scripted = Scripted()
    nlu = Recording(NluResult("ask.weather", 0.8, [fuzzy_city(), fuzzy_city("부선", "부산")]))
    settings = EngineSettings(seed=1, nlu_uncertain="reask")
    engine = DialogEngine(parse_definition(PLAY), scripted, recognizer=nlu, settings=settings)
    with caplog.at_level(logging.INFO, logger="voicehook.dialog"):
        r = await engine.turn(engine.new_state(), "서을 부선 날씨")
    assert (r.prompt_type, r.prompt_source) == ("wait", "confirm")
    assert r.prompt is not None and r.prompt.endswith("다시 말씀해 주세요.")
    assert r.state.waiting is None and r.state.active and scripted.calls == []
    assert [rec.getMessage() for rec in caplog.records if rec.name == "voicehook.dialog"] == [
        "nlu: asked the user (reask) about 서을→서울, 부선→부산, 부선→None; "
        "intent ask.weather (0.80)"
    ]


# ------------------------------------------------------------------ request types, stored states

RELAY = """
name: relay
invocation: 길찾기
entities:
  CITY: {values: {서울: [], 부산: []}}
  COUNTRY: {values: {한국: [], 일본: []}}
intents:
  ask.route:
    examples: ["[서울](CITY) 가는 길", "[한국](COUNTRY) 가는 길", "가는 길 알려줘"]
actions:
  route.ask:
    trigger: {intent: ask.route}
    backend: true
    parameters:
      place: {type: [CITY, COUNTRY]}
    common: route.more
  route.more:
    backend: true
    parameters:
      place: backend
    response:
      prompts: ["{{place}} 가는 길이에요."]
"""


@pytest.mark.parametrize(
    ("text", "place_type"),
    [
        ("한국 가는 길", "COUNTRY"),  # the type that filled it, not the first mapped
        ("가는 길 알려줘", "CITY"),  # empty: the first mapped type
    ],
)
async def test_request_types_follow_the_spec(
    make: Callable[..., Talk], text: str, place_type: str
) -> None:
    """§2.2: an utterance parameter's type is its entity type; a backend parameter's type is
    null, even when an earlier action of the turn filled the same name from the utterance."""
    scripted = Scripted(ok(), ok())
    r = await make(yaml=RELAY, caller=scripted).say(text)
    assert [c.action for c in scripted.calls] == ["route.ask", "route.more"]
    assert scripted.calls[0].param_types == {"place": place_type}
    assert scripted.calls[1].param_types == {"place": None}
    assert r.prompt_source == "response"


async def test_a_stored_wait_survives_a_play_with_fewer_prompts(
    make: Callable[..., Talk],
) -> None:
    """A session stored by the previous version of a play (three slot prompts, two said)
    goes on under a version with two prompts: the next failure says the end prompt."""
    old = make(yaml=THREE_SLOT_PROMPTS)
    await old.say("과일 주문")
    r = await old.say("서울")
    assert r.state.waiting == SlotWait("answer.fruit", "fruit", 2)
    new = make()
    new.state = r.state
    done = await new.say("부산")
    assert (done.prompt, done.prompt_type) == ("과일을 몰라서 끝낼게요.", "end")


async def test_the_directive_warnings_word_for_word(make: Callable[..., Talk]) -> None:
    ends = await make(yaml=MUSIC).say("노래 틀어줘")
    assert ends.warnings == [
        "a wait prompt came with directives: the session ends (§5.1); set "
        "allow_wait_with_directives: true for Play Builder 1.9.0 behaviour"
    ]
    assert ends.prompt_type == "end"
    kept = await make(yaml=MUSIC, allow_wait_with_directives=True).say("노래 틀어줘")
    assert kept.warnings == [
        "a wait prompt with directives kept the session open "
        "(allow_wait_with_directives; NUGU docs §5.1 say directives end it)"
    ]
    assert kept.prompt_type == "wait" and kept.state.active


async def test_undeclared_output_keys_are_skipped_wherever_they_come(
    make: Callable[..., Talk],
) -> None:
    talk = make(CallAnswer(result_code="OK", output={"extra": "무시", "weather": "눈"}))
    r = await talk.say("서울 날씨 알려줘")
    assert r.prompt == "서울 날씨는 눈예요."
    assert "extra" not in r.state.params


async def test_the_device_type_setting_goes_into_the_request(make: Callable[..., Talk]) -> None:
    scripted = Scripted(ok(weather="맑음"))
    await make(caller=scripted, device_type="tv").say("서울 날씨 알려줘")
    assert scripted.calls[0].device_type == "tv"


class FakeClock:
    """``time.perf_counter`` for the engine: 10 s, then 12.3456 ms later."""

    def __init__(self) -> None:
        self.reads = [10.0, 10.0123456]

    def perf_counter(self) -> float:
        return self.reads.pop(0)


async def test_the_call_time_is_measured_when_the_caller_gives_none(
    make: Callable[..., Talk], monkeypatch: pytest.MonkeyPatch
) -> None:
    talk = make(ok(weather="맑음"), CallAnswer(result_code="OK", elapsed_ms=7.5))
    monkeypatch.setattr("voicehook.dialog.engine.time", FakeClock())
    r = await talk.say("서울 날씨 알려줘")
    (call,) = r.calls
    assert call.elapsed_ms == 12.35 and type(call.elapsed_ms) is float
    monkeypatch.setattr("voicehook.dialog.engine.time", FakeClock())
    again = await talk.say("부산 날씨 알려줘")
    assert again.calls[0].elapsed_ms == 7.5  # the caller's own measure wins


async def test_an_action_configurable_without_a_value_keeps_the_play_value(
    make: Callable[..., Talk],
) -> None:
    shadow = PLAY.replace(
        "      unit: {value: celsius}\n",
        "      unit: {value: celsius}\n      brand: {kind: configurable}\n",
    )
    assert shadow != PLAY
    scripted = Scripted(ok(weather="맑음"))
    await make(yaml=shadow, caller=scripted).say("서울 날씨 알려줘")
    assert scripted.calls[0].params["brand"] == "모서리"
    assert scripted.calls[0].params["unit"] == "celsius"


async def test_a_new_request_in_the_session_forgets_the_old_entity_type(
    make: Callable[..., Talk],
) -> None:
    waits = RELAY.replace(
        '      prompts: ["{{place}} 가는 길이에요."]',
        '      type: wait\n      prompts: ["{{place}} 가는 길이에요."]',
    )
    assert waits != RELAY
    scripted = Scripted(ok(), ok(), ok(), ok())
    talk = make(yaml=waits, caller=scripted)
    first = await talk.say("한국 가는 길")
    assert first.state.active and scripted.calls[0].param_types == {"place": "COUNTRY"}
    await talk.say("가는 길 알려줘")  # the same session, no place this time
    assert scripted.calls[2].action == "route.ask"
    assert scripted.calls[2].params == {"place": None}
    assert scripted.calls[2].param_types == {"place": "CITY"}


async def test_a_required_parameter_without_prompts_does_not_hide_the_next_one(
    make: Callable[..., Talk],
) -> None:
    def no_fruit_prompts(definition: PlayDefinition) -> PlayDefinition:
        act = definition.actions["send.fruit"]
        fruit = msgspec.structs.replace(act.parameters["fruit"], prompts=())
        return replace_action(
            definition, "send.fruit", parameters={**act.parameters, "fruit": fruit}
        )

    r = await make(yaml=TWO_SLOTS, edit=no_fruit_prompts).say("과일 보내줘")
    assert r.violations == ["required parameter 'fruit' has no prompts"]
    assert (r.prompt, r.state.waiting) == ("어디로 보낼까요?", SlotWait("send.fruit", "city", 1))


# ------------------------------------------------------------------ how entities fill parameters

ROUTE = """
name: route
invocation: 길
entities:
  CITY: {values: {서울: [], 부산: [], 대전: []}}
  COUNTRY: {values: {한국: [], 일본: []}}
intents:
  go.route:
    examples: ["[서울](CITY:from)에서 [부산](CITY:to)까지"]
  pick.place:
    examples: ["[서울](CITY) 갈래"]
actions:
  route.go:
    trigger: {intent: go.route}
    parameters:
      origin: {type: "CITY:from"}
      dest: {type: "CITY:to"}
    response:
      prompts: ["{{origin}}에서 {{dest}}까지요."]
  place.pick:
    trigger: {intent: pick.place}
    parameters:
      place: {type: [CITY, COUNTRY]}
    response:
      type: wait
      prompts: ["{{place}} 맞아요?"]
    branches:
      - when: {equals: {place: 일본}}
        action: place.japan
      - default: place.other
  place.japan:
    response: {prompts: [일본으로 정했어요.]}
  place.other:
    response: {prompts: ["{{place}}로 정했어요."]}
"""


def city(value: str, role: str = "CITY") -> EntityMatch:
    return EntityMatch("CITY", role, value, value, 0, len(value))


@pytest.mark.parametrize(
    ("entities", "origin", "dest"),
    [
        ([city("서울", "from"), city("부산")], "서울", "부산"),  # a role, then a bare type
        ([city("부산")], "부산", None),  # one entity fills one parameter
        ([city("대전", "via")], None, None),  # a role no mapping has: not used
        ([city("부산", "to"), city("서울", "from")], "서울", "부산"),
    ],
)
async def test_roles_decide_which_parameter_an_entity_fills(
    entities: list[EntityMatch], origin: str | None, dest: str | None
) -> None:
    nlu = Recording(NluResult("go.route", 1.0, entities))
    engine = DialogEngine(parse_definition(ROUTE), recognizer=nlu, settings=EngineSettings(seed=1))
    r = await engine.turn(engine.new_state(), "길 찾아줘")
    assert (r.state.params.get("origin"), r.state.params.get("dest")) == (origin, dest)


async def test_a_multi_turn_reply_of_another_mapped_type_replaces_the_value() -> None:
    nlu = Recording(NluResult("pick.place", 1.0, [city("서울")]))
    engine = DialogEngine(parse_definition(ROUTE), recognizer=nlu, settings=EngineSettings(seed=1))
    first = await engine.turn(engine.new_state(), "서울 갈래")
    assert (first.prompt, first.state.param_types) == ("서울 맞아요?", {"place": "CITY"})
    japan = EntityMatch("COUNTRY", "COUNTRY", "일본", "일본", 0, 2)
    nlu.result = NluResult(None, 0.0, [japan])
    r = await engine.turn(first.state, "일본")
    assert (r.actions, r.prompt) == (["place.japan"], "일본으로 정했어요.")


async def test_a_later_parameter_is_filled_when_an_earlier_one_is_not() -> None:
    nlu = Recording(NluResult("send.fruit", 1.0, [city("부산")]))
    engine = DialogEngine(
        parse_definition(TWO_SLOTS), recognizer=nlu, settings=EngineSettings(seed=1)
    )
    r = await engine.turn(engine.new_state(), "부산으로 보내줘")
    assert r.state.params.get("city") == "부산"
    assert r.state.waiting == SlotWait("send.fruit", "fruit", 1)


async def test_an_exception_reply_fills_what_it_can_when_one_value_is_refused() -> None:
    """``place`` was filled by a CITY; a COUNTRY does not replace it (same-type rule), but
    the FRUIT in the same reply still fills ``fruit``, so the backend is called again."""
    yaml = """
name: trip
invocation: 여행
entities:
  CITY: {values: {서울: []}}
  COUNTRY: {values: {일본: []}}
  FRUIT: {values: {사과: []}}
intents:
  plan.trip:
    examples: ["[서울](CITY) 여행"]
actions:
  trip.plan:
    trigger: {intent: plan.trip}
    backend: true
    parameters:
      place: {type: [CITY, COUNTRY]}
      fruit: {type: FRUIT}
    exceptions:
      MORE:
        prompts: [끝낼게요., 더 알려 주세요.]
    response:
      prompts: ["{{place}}에서 {{fruit}}요."]
"""
    nlu = Recording(NluResult("plan.trip", 1.0, [city("서울")]))
    scripted = Scripted(CallAnswer(result_code="MORE"), ok())
    engine = DialogEngine(parse_definition(yaml), scripted, recognizer=nlu)
    first = await engine.turn(engine.new_state(), "서울 여행")
    assert first.state.waiting == ExceptionWait("trip.plan", "MORE", 1)
    japan = EntityMatch("COUNTRY", "COUNTRY", "일본", "일본", 0, 2)
    apple = EntityMatch("FRUIT", "FRUIT", "사과", "사과", 3, 5)
    nlu.result = NluResult(None, 0.0, [japan, apple])
    r = await engine.turn(first.state, "일본 사과")
    assert len(scripted.calls) == 2
    assert scripted.calls[1].params == {"place": "서울", "fruit": "사과"}
    assert r.prompt == "서울에서 사과요."


async def test_a_single_slot_prompt_ends_without_a_wait(make: Callable[..., Talk]) -> None:
    one = PLAY.replace("          - 어떤 과일이요?\n", "")
    assert one != PLAY
    r = await make(yaml=one).say("과일 주문")
    assert (r.prompt, r.prompt_type) == ("과일을 몰라서 끝낼게요.", "end")
    assert r.state.waiting is None and r.session_ended


async def test_an_exception_reply_replaces_a_value_the_backend_gave() -> None:
    """A value from a backend's output has no entity type; the user's CITY replaces it."""
    yaml = """
name: hop
invocation: 두단계
entities:
  CITY: {values: {서울: [], 부산: []}}
intents:
  ask.hop:
    examples: ["날씨 알려줘"]
actions:
  hop.first:
    trigger: {intent: ask.hop}
    backend: true
    parameters:
      city: {type: CITY}
    common: hop.second
  hop.second:
    backend: true
    parameters:
      city: {type: CITY}
    exceptions:
      AGAIN:
        prompts: [끝낼게요., 다른 도시를 말씀해 주세요.]
    response:
      prompts: ["{{city}} 날씨예요."]
"""
    nlu = Recording(NluResult("ask.hop", 1.0))
    answers = (ok(city="부산"), CallAnswer(result_code="AGAIN"), ok())
    engine = DialogEngine(parse_definition(yaml), Scripted(*answers), recognizer=nlu)
    first = await engine.turn(engine.new_state(), "날씨 알려줘")
    assert first.state.waiting == ExceptionWait("hop.second", "AGAIN", 1)
    assert first.state.params["city"] == "부산" and "city" not in first.state.param_types
    nlu.result = NluResult(None, 0.0, [city("서울")])
    r = await engine.turn(first.state, "서울")
    assert r.prompt == "서울 날씨예요."


async def test_a_prompt_uses_the_play_filters(make: Callable[..., Talk]) -> None:
    filtered = PLAY.replace(
        "actions:\n",
        "filters:\n  SKY:\n    normalize: {맑음: [clear, sunny]}\nactions:\n",
        1,
    ).replace("{{weather}}예요.", "{{weather=SKY}}예요.")
    assert filtered.count("SKY") == 2
    r = await make(ok(weather="sunny"), yaml=filtered).say("서울 날씨 알려줘")
    assert r.violations == []
    assert r.prompt == "서울 날씨는 맑음예요."


async def test_play_builder_does_not_know_built_in_intents(make: Callable[..., Talk]) -> None:
    talk = make(play_builder=True)
    await talk.say("모서리")
    r = await talk.say(Intent("NUGU.INTENT.stop"))
    assert r.intent is None
    assert r.warnings == ["Play Builder test chat does not recognise NUGU.INTENT.stop: fallback"]
    assert r.prompt_source == "fallback"


async def test_a_recognised_intent_answers_the_slot_behind_a_confirm_question() -> None:
    nlu = Recording(NluResult("order.fruit", 1.0))
    engine = DialogEngine(parse_definition(PLAY), recognizer=nlu, settings=EngineSettings(seed=1))
    first = await engine.turn(engine.new_state(), "과일 주문")
    fruit = EntityMatch("FRUIT", "FRUIT", "사가", "사과", 0, 2, 0.6, "fuzzy")
    nlu.result = NluResult(None, 0.0, [fruit])
    ask = await engine.turn(first.state, "사가")
    assert ask.prompt_source == "confirm"
    r = await engine.turn(ask.state, Intent("CLOVA.SlotAnswer", {"fruit": "배"}))
    assert r.prompt == "배 주문했어요."


async def test_seeded_session_ids_are_version_4_uuids(make: Callable[..., Talk]) -> None:
    r = await make().say("모서리")
    assert uuid.UUID(r.state.session_id).version == 4
    scoped = DialogEngine(
        parse_definition(PLAY), settings=EngineSettings(seed=5), session_scope="방-1"
    )
    s = await scoped.turn(scoped.new_state(), "모서리")
    assert uuid.UUID(s.state.session_id).version == 4
    assert s.state.session_id != r.state.session_id


async def test_a_seed_makes_the_random_prompt_choice_repeatable() -> None:
    """Ordinary response prompts are picked at random (§7.7); with ``seed`` the picks repeat."""
    many = PLAY.replace(
        "      prompts: [세 시예요.]",
        "      prompts: [한 시예요., 두 시예요., 세 시예요., 네 시예요., 다섯 시예요., "
        "여섯 시예요., 일곱 시예요., 여덟 시예요.]",
    )
    assert many != PLAY

    async def picks(seed: int) -> list[str | None]:
        engine = DialogEngine(
            parse_definition(many), settings=EngineSettings(seed=seed), tokenizer=TOKENIZER
        )
        state, out = engine.new_state(), []
        for _ in range(12):
            r = await engine.turn(state, "몇 시야")
            assert (r.kind, r.text) == ("user", "몇 시야")
            state = r.state
            out.append(r.prompt)
        return out

    first = await picks(11)
    assert first == await picks(11)
    assert len(set(first)) > 1


async def test_an_exception_reply_does_not_use_slot_filling_only_mappings() -> None:
    """An empty parameter whose FRUIT mapping is for slot filling only stays empty in an
    exception wait: the reply "사과" fills nothing and the end prompt is said."""
    yaml = PLAY.replace(
        "      city: {type: CITY}\n",
        "      city: {type: CITY}\n      pick: {type: CITY, slot_filling_only: [FRUIT]}\n",
    )
    assert yaml != PLAY
    nlu = Recording(NluResult("ask.weather", 1.0, [city("서울")]))
    scripted = Scripted(CallAnswer(result_code="NO_CITY"), ok(weather="맑음"))
    engine = DialogEngine(parse_definition(yaml), scripted, recognizer=nlu)
    first = await engine.turn(engine.new_state(), "서울 날씨 알려줘")
    assert first.state.waiting == ExceptionWait("answer.weather", "NO_CITY", 1)
    apple = EntityMatch("FRUIT", "FRUIT", "사과", "사과", 0, 2)
    nlu.result = NluResult(None, 0.0, [apple])
    r = await engine.turn(first.state, "사과")
    assert len(scripted.calls) == 1
    assert (r.prompt, r.prompt_type) == ("도시를 몰라서 끝낼게요.", "end")
