"""Entity roles in slot filling and the exception wait (spec §7.4, §7.6).

The NLU guesses roles from the position in the utterance: a number alone is the first number.
In slot filling and in the exception wait, an entity of a mapped TYPE fills the parameter
whatever role was guessed; roles only tell entities of one utterance apart.
"""

from __future__ import annotations

from typing import Any

import pytest

from voicehook.dialog.engine import DialogEngine, EngineSettings, TurnResult
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.dialog.session import DialogState, ExceptionWait, SlotWait
from voicehook.nugu.caller import NuguCaller
from voicehook.play import ActionRequest, Play, PlayError, parse_definition
from voicehook.server.inprocess import InProcessBackend

PLAY_YAML = """\
name: roles
invocation: 역할 계산기
entities:
  OPERATOR:
    values:
      더하기: [플러스, 더해]
      빼기: [마이너스, 빼]
intents:
  ask.calc:
    examples:
      - "[3](BID_QT:first) [더하기](OPERATOR) [4](BID_QT:second)"
      - "[20](BID_QT:first)에서 [5](BID_QT:second)를 [빼](OPERATOR)"
      - "[2](BID_QT:first)랑 [2](BID_QT:second) [더해](OPERATOR) 줘"
  ask.square:
    examples:
      - "[3](BID_QT:base)의 제곱"
      - "[7](BID_QT:base) 제곱은 얼마야"
actions:
  answer.calc:
    trigger: {intent: ask.calc}
    backend: true
    parameters:
      first:
        type: BID_QT:first
        required: true
        prompts: [첫 숫자를 몰라서 끝낼게요., "어떤 숫자를 계산할까요?"]
      second:
        type: BID_QT:second
        required: true
        prompts: [둘째 숫자를 몰라서 끝낼게요., "어떤 숫자와 계산할까요?"]
      operator:
        type: OPERATOR
        required: true
        prompts: [계산 방법을 몰라서 끝낼게요., "무엇을 할까요?"]
      result: backend
    exceptions:
      TOO_LARGE:
        prompts: [너무 커서 끝낼게요., 너무 커요. 다른 숫자를 말해 주세요.]
    response:
      type: end
      prompts: ["{{first}} {{operator}} {{second}} = {{result}}"]
  answer.square:
    trigger: {intent: ask.square}
    backend: true
    parameters:
      base:
        type: BID_QT:base
        required: true
        prompts: [숫자를 몰라서 끝낼게요., "어떤 숫자를 제곱할까요?"]
      square: backend
    exceptions:
      TOO_LARGE:
        prompts: [너무 커서 끝낼게요., 너무 커요. 다른 숫자를 말해 주세요.]
    response:
      type: end
      prompts: ["{{base}}의 제곱은 {{square}}"]
"""

DEFINITION = parse_definition(PLAY_YAML)
TOKENIZER = SimpleTokenizer()


def _play() -> Play:
    play = Play(DEFINITION)

    @play.action("answer.calc")
    async def calc(req: ActionRequest) -> dict[str, Any]:
        a, b = int(req.params["first"]), int(req.params["second"])
        if max(a, b) > 1000:
            raise PlayError("TOO_LARGE")
        return {"result": str(a + b if req.params["operator"] == "더하기" else a - b)}

    @play.action("answer.square")
    async def square(req: ActionRequest) -> dict[str, Any]:
        base = int(req.params["base"])
        if base > 1000:
            raise PlayError("TOO_LARGE")
        return {"square": str(base * base)}

    return play


class Talk:
    def __init__(self) -> None:
        self.engine = DialogEngine(
            DEFINITION,
            NuguCaller(InProcessBackend(_play())),
            settings=EngineSettings(seed=1),
            tokenizer=TOKENIZER,
        )
        self.state: DialogState = self.engine.new_state()

    async def say(self, text: str) -> TurnResult:
        result = await self.engine.turn(self.state, text)
        self.state = result.state
        return result


@pytest.fixture
async def talk() -> Any:
    t = Talk()
    yield t
    await t.engine.aclose()


def sent(result: TurnResult) -> dict[str, Any]:
    """The values sent in the last backend call's ``action.parameters``."""
    params = result.calls[-1].request["action"]["parameters"]
    return {k: v["value"] for k, v in params.items()}


# --------------------------------------------------------------------------- slot filling


async def test_a_bare_number_fills_the_second_number_asked_for(talk: Talk) -> None:
    r = await talk.say("3 더하기")
    assert r.prompt == "어떤 숫자와 계산할까요?" and r.prompt_source == "slot"
    assert talk.state.waiting == SlotWait("answer.calc", "second", 1)
    r = await talk.say("5")
    assert [c.action for c in r.calls] == ["answer.calc"]
    assert sent(r) == {"first": "3", "second": "5", "operator": "더하기"}
    assert r.prompt == "3 더하기 5 = 8"
    # The NLU was told which role is asked for.
    assert [(e.type, e.role, e.value) for e in r.entities] == [("BID_QT", "second", "5")]


async def test_slot_filling_takes_the_type_whatever_role_came_with_it(talk: Talk) -> None:
    """An explicit other role (structured input keeps it) still fills the asked parameter."""
    await talk.say("3 더하기")
    r = await talk.say("intent=ask.calc BID_QT:first=9")
    assert [(e.role, e.value) for e in r.entities] == [("first", "9")]
    assert sent(r) == {"first": "3", "second": "9", "operator": "더하기"}
    assert r.prompt == "3 더하기 9 = 12"


async def test_slot_filling_prefers_the_asked_role_within_one_utterance(talk: Talk) -> None:
    await talk.say("3 더하기")
    r = await talk.say("intent=ask.calc BID_QT:first=9 BID_QT:second=4")
    assert sent(r)["second"] == "4"
    assert r.prompt == "3 더하기 4 = 7"


async def test_slot_filling_still_rejects_other_types(talk: Talk) -> None:
    await talk.say("3 더하기")
    r = await talk.say("intent=ask.calc OPERATOR=빼기")
    assert r.calls == []
    assert r.prompt == "둘째 숫자를 몰라서 끝낼게요." and r.session_ended


async def test_the_first_number_asked_for_takes_a_number_too(talk: Talk) -> None:
    r = await talk.say("intent=ask.calc OPERATOR=더하기 second=4")
    assert r.prompt == "어떤 숫자를 계산할까요?"
    r = await talk.say("intent=ask.calc BID_QT:second=6")
    assert sent(r) == {"first": "6", "second": "4", "operator": "더하기"}


async def test_slot_filling_with_a_role_from_another_intent(talk: Talk) -> None:
    r = await talk.say("제곱은 얼마야")
    assert r.prompt == "어떤 숫자를 제곱할까요?"
    r = await talk.say("12")
    assert sent(r) == {"base": "12"}
    assert r.prompt == "12의 제곱은 144"


# --------------------------------------------------------------------------- exception wait


async def test_exception_wait_takes_the_type_whatever_role_came_with_it(talk: Talk) -> None:
    r = await talk.say("2000의 제곱")
    assert r.result_codes == ["TOO_LARGE"]
    assert talk.state.waiting == ExceptionWait("answer.square", "TOO_LARGE", 1)
    r = await talk.say("intent=ask.square BID_QT:first=30")  # a role the action does not map
    assert sent(r) == {"base": "30"}
    assert r.prompt == "30의 제곱은 900"


async def test_exception_wait_with_a_bare_number(talk: Talk) -> None:
    await talk.say("2000의 제곱")
    r = await talk.say("30")
    assert r.prompt == "30의 제곱은 900"


async def test_exception_wait_keeps_roles_apart_within_one_utterance(talk: Talk) -> None:
    r = await talk.say("2000 더하기 1")
    assert r.result_codes == ["TOO_LARGE"]
    r = await talk.say("intent=ask.calc BID_QT:second=2 BID_QT:first=5")
    assert sent(r) == {"first": "5", "second": "2", "operator": "더하기"}
    assert r.prompt == "5 더하기 2 = 7"


async def test_exception_wait_without_a_number_ends(talk: Talk) -> None:
    await talk.say("2000의 제곱")
    r = await talk.say("intent=ask.square OPERATOR=빼기")
    assert r.calls == []
    assert r.prompt == "너무 커서 끝낼게요." and r.session_ended


# --------------------------------------------------------------------------- the NLU side


def test_nlu_gives_the_only_role_asked_for(talk: Talk) -> None:
    nlu = talk.engine.nlu
    guessed = [e.role for e in nlu.parse("5").entities]
    assert guessed in (["first"], ["base"])  # from the position in some intent's examples
    second = nlu.parse("5", expect_types=["BID_QT:second"])
    assert [(e.type, e.role, e.value) for e in second.entities] == [("BID_QT", "second", "5")]
    # Several roles asked for, or a bare type: the guessed role stays.
    both = nlu.parse("5", expect_types=["BID_QT:first", "BID_QT:second"])
    assert [e.role for e in both.entities] == guessed
    bare = nlu.parse("5", expect_types=["BID_QT", "BID_QT:second"])
    assert [e.role for e in bare.entities] == guessed
    # Several numbers: the roles tell them apart, as without expected types.
    two = nlu.parse("5 더하기 7", expect_types=["BID_QT:second"])
    assert [(e.role, e.value) for e in two.entities] == [("first", "5"), ("second", "7")]
    # Other types are still left out.
    assert nlu.parse("더하기", expect_types=["BID_QT:second"]).entities == []
