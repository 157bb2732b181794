"""The dialog engine on uncertain typed input: confirm, re-ask, accept; plugged recognisers;
the Kiwi start-up warning."""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any

import msgspec
import pytest

from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import DialogEngine, EngineSettings, TurnResult, UserText
from voicehook.dialog.nlu import EntityMatch, NluResult, SimpleTokenizer
from voicehook.dialog.recognizer import (
    Doubt,
    Recognizer,
    confirm_prompt,
    load_recognizer,
    read_yes_no,
    reask_prompt,
    uncertain_entities,
    warn_if_no_kiwi,
)
from voicehook.dialog.session import ConfirmWait, DialogState, SlotWait, decode_state, encode_state
from voicehook.play import ActionRequest, Play, parse_definition

PLAY_YAML = """
name: typed
entities:
  LOCATION:
    values: {서울: [서울시], 부산: [], 대구: []}
intents:
  ask.weather:
    examples:
      - "[서울](LOCATION) 날씨 알려줘"
      - "[내일](BID_DT_DAY) [부산](LOCATION) 날씨 어때"
      - "날씨 알려줘"
  ask.weekday:
    examples:
      - "[2월](BID_DT_YMONTH) [14일](BID_DT_MDAY)은 무슨 요일이야"
      - "[내일](BID_DT_DAY) 무슨 요일이야"
actions:
  answer.weather:
    trigger: {intent: ask.weather}
    backend: true
    parameters:
      location:
        type: LOCATION
        required: true
        prompts:
          - 지역을 몰라서 끝낼게요.
          - 어느 지역 날씨를 알려드릴까요?
      day: {type: BID_DT_DAY}
    response:
      type: end
      prompts: ["{{location}} 날씨예요."]
  ask.weekday:
    trigger: {intent: ask.weekday}
    backend: true
    parameters:
      day: {type: BID_DT_DAY}
      month: {type: BID_DT_YMONTH}
      date: {type: BID_DT_MDAY}
    response:
      type: end
      prompts: ["요일이에요."]
"""
DEFINITION = parse_definition(PLAY_YAML)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []

    def play(self) -> Play:
        play = Play(DEFINITION)
        for name in ("answer.weather", "ask.weekday"):
            play.action(name)(self._handler)
        return play

    async def _handler(self, req: ActionRequest) -> dict[str, Any]:
        self.calls.append({"action": req.action, **req.params})
        return {}


def make(**settings: Any) -> tuple[DialogEngine, Recorder]:
    rec = Recorder()
    engine = DialogEngine(
        DEFINITION,
        PlayCaller(rec.play()),
        settings=EngineSettings(seed=1, **settings),
        tokenizer=SimpleTokenizer(),
    )
    return engine, rec


async def talk(engine: DialogEngine, *texts: str) -> list[TurnResult]:
    state = engine.new_state()
    out = []
    for text in texts:
        result = await engine.turn(state, UserText(text))
        state = result.state
        out.append(result)
    return out


async def test_a_typo_in_an_optional_date_is_confirmed_before_answering(
    caplog: pytest.LogCaptureFixture,
) -> None:
    engine, rec = make()
    with caplog.at_level(logging.INFO, logger="voicehook.dialog"):
        (ask,) = await talk(engine, "모래 대구 날씨")
    assert "asked the user (confirm) about 모래→모레; intent ask.weather" in caplog.text
    assert rec.calls == []
    assert ask.prompt_source == "confirm" and ask.prompt_type == "wait"
    assert ask.prompt == "'모래'를 '모레'로 알아들었어요. 맞으면 네, 아니면 다시 말씀해 주세요."
    assert isinstance(ask.state.waiting, ConfirmWait)
    assert ask.corrections == ["모래→모레"]
    day = next(e for e in ask.entities if e.type == "BID_DT_DAY")
    assert (day.text, day.value, day.source) == ("모래", "A_TOMORROW", "fuzzy")
    assert day.confidence < 1
    # the wait survives the store
    assert decode_state(encode_state(ask.state)) == ask.state

    _, yes = await talk(engine, "모래 대구 날씨", "네 ㅎㅎ")
    assert rec.calls[-1]["day"] == "A_TOMORROW" and rec.calls[-1]["location"] == "대구"
    assert yes.prompt == "대구 날씨예요."
    assert {e.source for e in yes.entities} == {"confirmed"}


async def test_no_asks_again_and_another_utterance_is_a_new_request() -> None:
    engine, rec = make()
    _, no = await talk(engine, "서을 날씨", "아니")
    assert no.prompt == "알겠어요. 다시 말씀해 주세요."
    assert no.state.waiting is None and no.state.active
    assert rec.calls == []
    _, other = await talk(engine, "서을 날씨", "부산 날씨 알려줘")
    assert rec.calls[-1]["location"] == "부산"
    assert other.session_ended


async def test_a_date_not_understood_is_asked_again_not_answered_for_today() -> None:
    engine, rec = make()
    (ask,) = await talk(engine, "13/45 무슨 요일이야")
    assert rec.calls == []
    assert ask.prompt == "'13/45'를 잘 모르겠어요. 다시 말씀해 주세요."
    assert ask.unresolved == ["13/45"]
    (ok,) = await talk(engine, "7/4 무슨 요일이야")
    assert rec.calls[-1]["month"] == "7" and rec.calls[-1]["date"] == "4"
    assert ok.prompt_source == "response"


async def test_two_values_for_one_parameter_are_not_answered_for_one() -> None:
    engine, rec = make()
    (ask,) = await talk(engine, "부산 날씨랑 서울 날씨")
    assert rec.calls == []
    assert ask.prompt == "'부산', '서울' 중에 하나만 말씀해 주세요."
    (ok,) = await talk(engine, "서울 날씨")
    assert rec.calls[-1]["location"] == "서울"
    assert ok.session_ended


async def test_reask_mode_and_accept_mode(caplog: pytest.LogCaptureFixture) -> None:
    engine, rec = make(nlu_uncertain="reask")
    (ask,) = await talk(engine, "서을 날씨")
    assert ask.prompt == "'서을'을 잘 모르겠어요. 다시 말씀해 주세요."
    assert ask.state.waiting is None
    engine, rec = make(nlu_uncertain="accept")
    with caplog.at_level(logging.INFO, logger="voicehook.dialog"):
        (done,) = await talk(engine, "서을 날씨")
    assert rec.calls[-1]["location"] == "서울"
    assert done.corrections == ["서을→서울"]
    assert "used without asking: ['서을→서울']" in caplog.text


def test_nlu_uncertain_is_validated() -> None:
    with pytest.raises(ValueError, match="nlu_uncertain"):
        EngineSettings(nlu_uncertain="maybe")  # type: ignore[arg-type]


async def test_a_typo_while_slot_filling_is_confirmed_then_fills_the_slot() -> None:
    engine, rec = make()
    first, ask, yes = await talk(engine, "날씨 알려줘", "부선", "응")
    assert isinstance(first.state.waiting, SlotWait)
    assert ask.prompt == "'부선'을 '부산'으로 알아들었어요. 맞으면 네, 아니면 다시 말씀해 주세요."
    assert isinstance(ask.state.waiting, ConfirmWait)
    assert isinstance(ask.state.waiting.resume, SlotWait)
    assert rec.calls[-1]["location"] == "부산"
    assert yes.session_ended


async def test_stop_is_never_confirmed() -> None:
    engine, _ = make()
    _, stop = await talk(engine, "서을 날씨", "그만")
    assert stop.session_ended and stop.intent == "NUGU.INTENT.stop"


class FixedRecognizer:
    """An external NLU stand-in: always the same answer, and it records its calls."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Collection[str] | None]] = []

    def parse(self, text: str, *, expect_types: Collection[str] | None = None) -> NluResult:
        self.seen.append((text, expect_types))
        entity = EntityMatch("LOCATION", "LOCATION", "쎄울", "서울", 0, 2, 0.6, "fuzzy")
        return NluResult("ask.weather", 0.9, [entity])


def make_fixed(definition: Any) -> FixedRecognizer:
    return FixedRecognizer()


async def test_a_plugged_recognizer_is_used_and_its_doubts_are_confirmed() -> None:
    fixed = FixedRecognizer()
    assert isinstance(fixed, Recognizer)
    rec = Recorder()
    engine = DialogEngine(DEFINITION, PlayCaller(rec.play()), recognizer=fixed)
    state = DialogState()
    ask = await engine.turn(state, UserText("쎄울 날씨"))
    assert fixed.seen == [("쎄울 날씨", None)]
    assert ask.prompt_source == "confirm"
    done = await engine.turn(ask.state, UserText("맞아요"))
    assert rec.calls[-1]["location"] == "서울"
    assert done.session_ended


def test_the_recognizer_setting_loads_a_factory() -> None:
    got = load_recognizer(f"{__name__}:make_fixed", DEFINITION)
    assert isinstance(got, FixedRecognizer)
    engine = DialogEngine(DEFINITION, settings=EngineSettings(recognizer=f"{__name__}:make_fixed"))
    assert isinstance(engine.nlu, FixedRecognizer)
    with pytest.raises(ValueError, match="expected"):
        load_recognizer("no_colon", DEFINITION)
    with pytest.raises(ValueError, match="cannot be loaded"):
        load_recognizer(f"{__name__}:missing", DEFINITION)
    with pytest.raises(ValueError, match="parse"):
        load_recognizer("builtins:repr", DEFINITION)  # a str has no parse()


def test_turn_result_with_confidence_encodes() -> None:
    result = TurnResult(turn=1, kind="user", state=DialogState(), corrections=["서을→서울"])
    data = msgspec.json.decode(msgspec.json.encode(result))
    assert data["corrections"] == ["서을→서울"] and data["unresolved"] == []


@pytest.mark.parametrize(
    ("text", "want"),
    [
        *[("네", True), ("ㅇㅇ", True), ("맞아요!", True), ("ok", True), ("아니요", False)],
        *[("ㄴㄴ", False), ("no", False), ("부산", None), ("", None)],
    ],
)
def test_read_yes_no(text: str, want: bool | None) -> None:
    assert read_yes_no(text) is want


def test_prompts_choose_particles() -> None:
    assert confirm_prompt([Doubt("부선", "부산")]).startswith("'부선'을 '부산'으로 알아들었어요.")
    assert confirm_prompt([Doubt("서을", "서울")]).startswith("'서을'을 '서울'로")
    assert reask_prompt([Doubt("13/45", None)]) == "'13/45'를 잘 모르겠어요. 다시 말씀해 주세요."


def test_uncertain_entities_only_for_mapped_types() -> None:
    params = DEFINITION.action_parameters("answer.weather").values()
    fuzzy = EntityMatch("LOCATION", "LOCATION", "서을", "서울", 0, 2, 0.8, "fuzzy")
    other = EntityMatch("ANSWER", "ANSWER", "거북썬", "거북선", 3, 6, 0.8, "fuzzy")
    result = NluResult("ask.weather", 1.0, [fuzzy, other])
    assert uncertain_entities(result, params) == [Doubt("서을", "서울")]
    assert uncertain_entities(NluResult("x", 1.0, [], unresolved=["3/"]), []) == []


def test_warn_if_no_kiwi(monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    import importlib.util

    log = logging.getLogger("test.kiwi")
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "kiwipiepy" else real(name)
    )
    with caplog.at_level(logging.WARNING, logger="test.kiwi"):
        assert warn_if_no_kiwi(log) is True
    assert "kiwipiepy is not installed" in caplog.text
    assert "voicehook[korean]" in caplog.text
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object())
    caplog.clear()
    assert warn_if_no_kiwi(log) is False
    assert caplog.text == ""
