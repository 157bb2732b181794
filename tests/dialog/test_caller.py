"""The engine's action callers: in process (PlayCaller) and NUGU JSON (NuguCaller), and
recognised input (Intent) with channel-supplied session ids and user keys."""

from __future__ import annotations

from typing import Any

import pytest

from voicehook.dialog.caller import ActionCall, PlayCaller
from voicehook.dialog.engine import DialogEngine, EngineSettings, Intent
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.play import ActionRequest, AppContext, Play, PlayError, parse_definition
from voicehook.store import MemoryStore

PLAY_YAML = """
name: pizza
failure_prompt: "주문을 처리할 수 없어요."
intents:
  order.pizza:
    examples:
      - "[페퍼로니](PIZZA) 피자 주문해 줘"
      - "피자 주문"
entities:
  PIZZA: {values: {페퍼로니: [페페로니], 불고기: []}}
actions:
  order.pizza:
    trigger: {intent: order.pizza}
    backend: true
    parameters:
      pizza: {type: PIZZA, required: true, prompts: ["어떤 피자요?", "피자 이름을 말해 주세요."]}
      count: backend
      who: backend
    response: {type: end, prompts: ["{{pizza}} 피자 {{count}}판 주문했어요. {{who}}"]}
    exceptions:
      SOLD_OUT: {prompts: ["죄송해요.", "{{pizza}}는 다 팔렸어요. 다른 피자를 말해 주세요."]}
"""

DEFINITION = parse_definition(PLAY_YAML)


def make_play(seen: list[ActionRequest]) -> Play:
    play = Play(DEFINITION)

    @play.action("order.pizza")
    async def order(req: ActionRequest) -> dict[str, Any]:
        seen.append(req)
        if req.params["pizza"] == "불고기":
            raise PlayError("SOLD_OUT")
        state = await req.session_state()
        state["orders"] = state.get("orders", 0) + 1
        return {"count": state["orders"], "who": f"{req.channel}:{req.user_key}"}

    return play


@pytest.fixture
async def app() -> Any:
    store = MemoryStore()
    yield AppContext("pizza", store=store)
    await store.aclose()


async def test_play_caller_calls_the_handler_in_process(app: AppContext) -> None:
    seen: list[ActionRequest] = []
    caller = PlayCaller(make_play(seen), app)
    answer = await caller.call(
        ActionCall(
            action="order.pizza",
            params={"pizza": "페퍼로니", "count": None, "who": None},
            session_id="s-1",
            is_new=True,
            user_key="user-9",
            channel="clova",
        ),
        timeout=1.0,
    )
    assert answer.error is None
    assert answer.result_code == "OK"
    assert answer.output == {"pizza": "페퍼로니", "count": "1", "who": "clova:user-9"}
    (req,) = seen
    assert req.session.id == "s-1" and req.session.is_new
    assert req.channel == "clova" and req.user_key == "user-9"
    assert req.raw == b""  # no JSON was built


async def test_play_caller_reports_a_declared_code_and_a_failure(app: AppContext) -> None:
    play = make_play([])
    caller = PlayCaller(play, app)
    sold = await caller.call(
        ActionCall(action="order.pizza", params={"pizza": "불고기"}, session_id="s"), timeout=1
    )
    assert (sold.result_code, sold.error) == ("SOLD_OUT", None)
    # No store: the handler's session_state() raises, and that is the failure code.
    bare = await PlayCaller(play).call(
        ActionCall(action="order.pizza", params={"pizza": "페퍼로니"}, session_id="s"), timeout=1
    )
    assert bare.result_code == "BACKEND_ERROR" and bare.error is not None


async def test_play_caller_applies_the_engine_timeout(app: AppContext) -> None:
    play = Play(DEFINITION)

    @play.action("order.pizza")
    async def slow(req: ActionRequest) -> None:
        import asyncio

        await asyncio.sleep(5)

    answer = await PlayCaller(play, app).call(
        ActionCall(action="order.pizza", params={"pizza": "x"}), timeout=0.1
    )
    assert answer.result_code == "BACKEND_TIMEOUT"
    assert answer.error is not None and "0.1 s" in answer.error


def engine_for(seen: list[ActionRequest], app: AppContext) -> DialogEngine:
    return DialogEngine(
        DEFINITION,
        PlayCaller(make_play(seen), app),
        settings=EngineSettings(seed=3),
        tokenizer=SimpleTokenizer(),
    )


async def test_engine_in_process_with_text(app: AppContext) -> None:
    seen: list[ActionRequest] = []
    engine = engine_for(seen, app)
    r1 = await engine.turn(engine.new_state(), "피자 주문", session_id="conv-1", user_key="u1")
    assert r1.prompt_type == "wait" and r1.prompt_source == "slot"
    assert r1.state.session_id == "conv-1"
    r2 = await engine.turn(r1.state, "페퍼로니", user_key="u1", channel="botframework")
    assert r2.prompt == "페퍼로니 피자 1판 주문했어요. botframework:u1"
    assert r2.session_ended and r2.calls[0].outcome == "ok"
    assert seen[0].session.id == "conv-1"
    # The call as the engine asked it (no NUGU JSON on this path).
    assert r2.calls[0].request["channel"] == "botframework"


async def test_recognised_intent_skips_the_nlu_and_fills_slots(app: AppContext) -> None:
    seen: list[ActionRequest] = []
    engine = engine_for(seen, app)
    r = await engine.turn(
        engine.new_state(), Intent("order.pizza", {"pizza": "페퍼로니"}), session_id="c"
    )
    assert r.intent == "order.pizza" and r.text is None
    assert r.prompt == "페퍼로니 피자 1판 주문했어요. nugu:None"


async def test_recognised_intent_in_slot_filling_and_exception_wait(app: AppContext) -> None:
    engine = engine_for([], app)
    r1 = await engine.turn(engine.new_state(), Intent("order.pizza"), session_id="c")
    assert r1.prompt_source == "slot"
    # A slot named by entity type answers the slot prompt.
    r2 = await engine.turn(r1.state, Intent("order.pizza", {"PIZZA": "불고기"}))
    assert r2.prompt_source == "exception" and r2.prompt_type == "wait"
    assert r2.prompt == "불고기는 다 팔렸어요. 다른 피자를 말해 주세요."
    r3 = await engine.turn(r2.state, Intent("order.pizza", {"pizza": "페퍼로니"}))
    assert r3.prompt == "페퍼로니 피자 1판 주문했어요. nugu:None"


async def test_unknown_slots_are_reported_not_guessed(app: AppContext) -> None:
    engine = engine_for([], app)
    r = await engine.turn(engine.new_state(), Intent("order.pizza", {"size": "large"}))
    assert any("slot 'size'" in w for w in r.warnings)
    assert r.prompt_source == "slot"


async def test_built_in_stop_as_a_recognised_intent(app: AppContext) -> None:
    engine = engine_for([], app)
    r1 = await engine.turn(engine.new_state(), Intent("order.pizza"), session_id="c")
    r2 = await engine.turn(r1.state, Intent("NUGU.INTENT.stop"))
    assert r2.session_ended and r2.prompt_source == "exit"
