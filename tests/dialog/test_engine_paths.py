"""Dialog engine paths that no test or example reached before mutation testing found them.

Each test drives a small play of its own through :class:`DialogEngine` and names the mutant of
``dialog/engine.py`` it kills (docs/mutation-report.md): the exception wait's same-type rule,
slot-filling-only mappings, failed slot turns and ``max_failures``, rewind, custom exit and
fallback actions, and an action whose branches all fail.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest

from voicehook.dialog.caller import PlayCaller
from voicehook.dialog.engine import DialogEngine, EngineSettings, Intent, TurnResult
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.dialog.session import ExceptionWait, SlotWait
from voicehook.play import ActionRequest, Play, PlayDefinition, PlayError, parse_definition

TOKENIZER = SimpleTokenizer()

PLAY = """
name: paths
invocation: 길잡이
welcome: [길잡이예요.]
exit: [길잡이를 마칠게요.]
fallback:
  - 모르겠어요. 끝낼게요.
  - 다시 말씀해 주세요.
entities:
  CITY: {values: {서울: [], 부산: [], 대전: []}}
  COUNTRY: {values: {한국: [], 일본: []}}
  FRUIT: {values: {사과: [], 배: []}}
  COLOR: {values: {빨강: [], 노랑: []}}
intents:
  ask.route:
    examples:
      - "[서울](CITY) 가는 길"
      - "[한국](COUNTRY) 가는 길"
      - "가는 길 알려줘"
  order.fruit:
    examples:
      - "[사과](FRUIT) 주문"
      - "[빨강](COLOR) 주문"
      - "과일 주문"
  ask.branch:
    examples:
      - "갈림길 보여줘"
actions:
  answer.route:
    trigger: {intent: ask.route}
    backend: true
    parameters:
      place: {type: [CITY, COUNTRY]}
      route: backend
    exceptions:
      NO_ROUTE:
        prompts:
          - 길을 못 찾아서 끝낼게요.
          - 길이 없어요. 다른 곳을 말씀해 주세요.
    response:
      prompts: ["{{place}} 가는 길: {{route}}."]
  answer.fruit:
    trigger: {intent: order.fruit}
    parameters:
      fruit:
        type: FRUIT
        slot_filling_only: [COLOR]
        required: true
        prompts:
          - 과일을 몰라서 끝낼게요.
          - 어떤 과일이요?
          - 과일을 말씀해 주세요.
    response:
      prompts: ["{{fruit}} 주문했어요."]
  answer.branch:
    trigger: {intent: ask.branch}
    backend: true
    parameters:
      side: backend
    branches:
      - when: {equals: {side: 왼쪽}}
        action: branch.left
      - default: branch.other
  branch.left:
    response:
      prompts: [왼쪽이에요.]
  branch.other:
    response:
      prompts: [다른 쪽이에요.]
"""

CUSTOM = """
name: custom
invocation: 맞춤
welcome: [맞춤이에요.]
exit: [기본 종료예요.]
fallback: [기본 폴백이에요.]
intents:
  ask.time:
    examples: ["몇 시야"]
actions:
  answer.time:
    trigger: {intent: ask.time}
    response:
      type: wait
      prompts: [세 시예요.]
  NUGU.ACTION.exit:
    response:
      prompts: [맞춤 종료예요. 안녕히 가세요.]
  NUGU.ACTION.fallback:
    response:
      type: wait
      prompts: [맞춤 폴백이에요. 다시 말씀해 주세요.]
"""


class Talk:
    def __init__(self, engine: DialogEngine) -> None:
        self.engine = engine
        self.state = engine.new_state()

    async def say(self, text: str | Intent) -> TurnResult:
        result = await self.engine.turn(self.state, text)
        self.state = result.state
        return result


@pytest.fixture
async def make() -> AsyncIterator[Callable[..., Talk]]:
    engines: list[DialogEngine] = []

    def build(
        yaml: str = PLAY,
        answers: dict[str, list[Any]] | None = None,
        edit: Callable[[PlayDefinition], PlayDefinition] | None = None,
        **s: Any,
    ) -> Talk:
        definition = parse_definition(yaml)
        if edit is not None:
            definition = edit(definition)
        play = Play(definition)
        queues = answers or {}
        for name, action in definition.actions.items():
            if action.backend:

                def handler(req: ActionRequest, name: str = name) -> Any:
                    queue = queues.get(name) or [{}]
                    answer = queue.pop(0) if len(queue) > 1 else queue[0]
                    if isinstance(answer, str):
                        raise PlayError(answer)
                    return answer

                play.action(name)(handler)
        engine = DialogEngine(
            definition,
            PlayCaller(play),
            settings=EngineSettings(seed=3, **s),
            tokenizer=TOKENIZER,
        )
        engines.append(engine)
        return Talk(engine)

    yield build
    for engine in engines:
        await engine.aclose()


# ------------------------------------------------------------------ exception wait


async def test_exception_wait_replaces_a_parameter_only_with_the_same_type(
    make: Callable[..., Talk],
) -> None:
    """``place`` was filled by a CITY. While waiting on the exception, a COUNTRY does not
    replace it; another CITY does. Kills the mutant that drops the same-type rule."""
    talk = make(answers={"answer.route": ["NO_ROUTE", {"route": "직진"}]})
    r1 = await talk.say("서울 가는 길")
    assert r1.prompt == "길이 없어요. 다른 곳을 말씀해 주세요."
    assert r1.state.waiting == ExceptionWait("answer.route", "NO_ROUTE", 1)
    r2 = await talk.say("한국")  # a COUNTRY: not the type that filled place
    assert r2.calls == []
    assert (r2.prompt, r2.prompt_type) == ("길을 못 찾아서 끝낼게요.", "end")
    assert r2.state.params["place"] == "서울"


async def test_exception_wait_accepts_the_same_type_and_calls_again(
    make: Callable[..., Talk],
) -> None:
    talk = make(answers={"answer.route": ["NO_ROUTE", {"route": "직진"}]})
    await talk.say("서울 가는 길")
    r = await talk.say("부산")
    assert [c.action for c in r.calls] == ["answer.route"]
    assert r.prompt == "부산 가는 길: 직진."
    assert r.state.waiting is None


# ------------------------------------------------------------------ slot filling


async def test_slot_filling_only_mappings_are_ignored_outside_slot_filling(
    make: Callable[..., Talk],
) -> None:
    """COLOR fills ``fruit`` only while the engine waits for it. Kills the mutant that uses
    slot-filling-only mappings in the first utterance too."""
    talk = make()
    r1 = await talk.say("빨강 주문")
    assert r1.intent == "order.fruit"
    assert [e.type for e in r1.entities] == ["COLOR"]
    assert r1.prompt == "과일을 말씀해 주세요."
    assert r1.state.waiting == SlotWait("answer.fruit", "fruit", 1)
    assert "fruit" not in r1.state.params
    r2 = await talk.say("빨강")  # now, while slot filling, COLOR counts
    assert r2.prompt == "빨강 주문했어요."
    assert r2.state.waiting is None


async def test_a_regular_mapping_fills_in_the_first_utterance(make: Callable[..., Talk]) -> None:
    r = await make().say("사과 주문")
    assert r.prompt == "사과 주문했어요."
    assert r.state.params["fruit"] == "사과"


async def test_failed_slot_turns_walk_the_prompt_stack_to_the_end(
    make: Callable[..., Talk],
) -> None:
    talk = make()
    await talk.say("과일 주문")
    r2 = await talk.say("음")
    assert (r2.prompt, r2.prompt_type) == ("어떤 과일이요?", "wait")
    assert r2.state.waiting == SlotWait("answer.fruit", "fruit", 2)
    assert r2.state.failures == 1
    r3 = await talk.say("글쎄")
    assert (r3.prompt, r3.prompt_type) == ("과일을 몰라서 끝낼게요.", "end")
    assert r3.session_ended


async def test_failed_slot_turns_count_toward_max_failures(make: Callable[..., Talk]) -> None:
    """With ``max_failures: 1`` one failed slot turn jumps to the end prompt. Kills the
    mutant that does not count failed slot turns (it would ask again)."""
    talk = make(max_failures=1)
    r1 = await talk.say("과일 주문")
    assert r1.prompt_type == "wait"
    r2 = await talk.say("음")
    assert (r2.prompt, r2.prompt_type) == ("과일을 몰라서 끝낼게요.", "end")
    assert r2.session_ended


async def test_a_filled_slot_resets_the_failure_count(make: Callable[..., Talk]) -> None:
    talk = make(max_failures=2)
    await talk.say("과일 주문")
    r2 = await talk.say("음")
    assert r2.state.failures == 1
    r3 = await talk.say("배")
    assert r3.state.failures == 0 and r3.prompt == "배 주문했어요."


# ------------------------------------------------------------------ rewind


async def test_rewind_repeats_the_last_prompt_with_its_type(make: Callable[..., Talk]) -> None:
    """Kills mutants of ``_rewind``: another prompt, another type, or a fallback instead."""
    talk = make()
    first = await talk.say("길잡이")
    assert (first.prompt, first.prompt_type) == ("길잡이예요.", "wait")
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("길잡이예요.", "wait", "rewind")
    assert not r.session_ended and r.state.active
    assert r.state.failures == 0


async def test_rewind_repeats_a_fallback_prompt_too(make: Callable[..., Talk]) -> None:
    talk = make()
    await talk.say("길잡이")
    await talk.say("전혀 다른 말")
    r = await talk.say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("다시 말씀해 주세요.", "wait", "rewind")


async def test_rewind_before_anything_was_said_is_an_empty_wait(
    make: Callable[..., Talk],
) -> None:
    r = await make().say(Intent("NUGU.INTENT.rewind"))
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("", "wait", "rewind")
    assert not r.session_ended


# ------------------------------------------------------------------ custom exit and fallback


async def test_a_custom_exit_action_replaces_the_exit_prompts(make: Callable[..., Talk]) -> None:
    talk = make(CUSTOM)
    await talk.say("몇 시야")
    r = await talk.say(Intent("NUGU.INTENT.stop"))
    assert r.prompt == "맞춤 종료예요. 안녕히 가세요."
    assert r.session_ended and not r.state.active


async def test_a_custom_fallback_action_replaces_the_fallback_prompts(
    make: Callable[..., Talk],
) -> None:
    talk = make(CUSTOM)
    r = await talk.say("전혀 다른 말")
    assert r.intent is None
    assert (r.prompt, r.prompt_type) == ("맞춤 폴백이에요. 다시 말씀해 주세요.", "wait")
    assert r.state.failures == 1
    r2 = await talk.say("또 다른 말")
    assert r2.state.failures == 2  # a custom fallback still counts as a failed turn


async def test_without_custom_actions_the_prompt_lists_are_used(
    make: Callable[..., Talk],
) -> None:
    talk = make()
    r = await talk.say("전혀 다른 말")
    assert (r.prompt, r.prompt_type, r.prompt_source) == ("다시 말씀해 주세요.", "wait", "fallback")
    r2 = await talk.say(Intent("NUGU.INTENT.stop"))
    assert (r2.prompt, r2.prompt_type, r2.prompt_source) == ("길잡이를 마칠게요.", "end", "exit")


# ------------------------------------------------------------------ branches


def without_default(definition: PlayDefinition) -> PlayDefinition:
    """The loader refuses branches without a default, but a definition built in code can
    lack one; the engine must then fail the turn, not crash or stay silent."""
    act = definition.actions["answer.branch"]
    branches = tuple(b for b in act.branches if b.condition is not None)
    actions = {**definition.actions, act.name: msgspec.structs.replace(act, branches=branches)}
    return msgspec.structs.replace(definition, actions=actions)


async def test_no_branch_holds_and_no_default_is_a_violation(make: Callable[..., Talk]) -> None:
    """Kills the mutants of the "no branch holds" path (message, or silently succeeding)."""
    talk = make(answers={"answer.branch": [{"side": "오른쪽"}]}, edit=without_default)
    r = await talk.say("갈림길 보여줘")
    assert r.violations == ["action 'answer.branch': no branch holds and there is no default"]
    assert (r.prompt_source, r.prompt_type) == ("failure", "end")
    assert r.session_ended


@pytest.mark.parametrize(
    ("side", "prompt"), [("왼쪽", "왼쪽이에요."), ("오른쪽", "다른 쪽이에요.")]
)
async def test_the_first_branch_that_holds_is_taken(
    make: Callable[..., Talk], side: str, prompt: str
) -> None:
    talk = make(answers={"answer.branch": [{"side": side}]})
    r = await talk.say("갈림길 보여줘")
    assert r.violations == []
    assert r.prompt == prompt
