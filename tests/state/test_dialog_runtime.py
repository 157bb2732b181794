"""DialogRuntime: the dialog engine with its per-session state in a store."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.state._pizza import make_play
from tests.state.conftest import CountingStore
from voicehook.dialog import DialogEngine
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.dialog.runtime import DialogConflict, DialogRuntime
from voicehook.dialog.session import ExceptionWait, SlotWait
from voicehook.nugu.caller import NuguCaller
from voicehook.server import InProcessBackend
from voicehook.store import ConflictError, MemoryStore


@pytest.fixture
async def engine() -> Any:
    play = make_play()
    # SimpleTokenizer: no 3-second Kiwi model load per test; enough for this small play.
    eng = DialogEngine(
        play.definition, NuguCaller(InProcessBackend(play)), tokenizer=SimpleTokenizer()
    )
    yield eng
    await eng.aclose()


async def test_slot_filling_carries_across_turns(engine: DialogEngine) -> None:
    store = MemoryStore()
    runtime = DialogRuntime(engine, store, ttl=600)
    first = await runtime.turn("대화-1", "피자 가게에서 불고기 피자 주문해 줘")
    assert first.prompt == "크기는 라지와 미디엄 중에 골라 주세요."
    assert first.calls == []
    saved = await runtime.state("대화-1")
    assert saved.waiting == SlotWait(action="pizza.order", param="size", spoken=1)
    assert saved.params["menu"] == "불고기"

    # A second runtime over the same store: what another process would see.
    other = DialogRuntime(engine, store, ttl=600)
    second = await other.turn("대화-1", "라지")
    assert second.prompt == "불고기 피자 라지, 주문 번호 101번으로 주문했어요."
    assert second.session_ended
    assert (await runtime.state("대화-1")).waiting is None


async def test_exception_wait_carries_across_turns(engine: DialogEngine) -> None:
    runtime = DialogRuntime(engine, MemoryStore(), ttl=None)
    first = await runtime.turn("s", "피자 가게에서 하와이안 피자 라지 하나")
    assert first.result_codes == ["SOLD_OUT"]
    assert first.prompt == "하와이안 라지는 다 팔렸어요. 다른 크기를 말씀해 주세요."
    assert (await runtime.state("s")).waiting == ExceptionWait("pizza.order", "SOLD_OUT", 1)
    second = await runtime.turn("s", "미디엄")
    assert second.result_codes == ["OK"]
    assert second.prompt is not None and second.prompt.startswith("하와이안 피자 미디엄")


async def test_sessions_are_separate_and_keys_are_prefixed(engine: DialogEngine) -> None:
    store = MemoryStore()
    runtime = DialogRuntime(engine, store, ttl=60)
    await runtime.turn("a", "피자 가게에서 불고기 피자 주문해 줘")
    await runtime.turn("b", "피자 가게에서 고구마 피자 주문해 줘")
    assert (await runtime.state("a")).params["menu"] == "불고기"
    assert (await runtime.state("b")).params["menu"] == "고구마"
    assert (await runtime.state("c")).turns == 0
    assert await store.get("dialog:pizza:a") is not None
    assert await runtime.forget("a") is True
    assert (await runtime.state("a")).turns == 0
    with pytest.raises(ValueError):
        await runtime.turn("", "안녕")


async def test_ttl_expires_the_session(engine: DialogEngine) -> None:
    now = [0.0]
    runtime = DialogRuntime(engine, MemoryStore(clock=lambda: now[0]), ttl=30)
    await runtime.turn("s", "피자 가게에서 불고기 피자 주문해 줘")
    now[0] = 31
    assert (await runtime.state("s")).waiting is None


class SneakyStore(CountingStore):
    """Before the first ``put`` of a key, another "process" writes that key."""

    def __init__(self) -> None:
        super().__init__()
        self.sneak = True

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        if self.sneak:
            self.sneak = False
            entry = await self.inner.get(key)
            other = dict(entry.value) if entry is not None else {}
            other["sessions"] = 41  # recognisable: the other process's write
            await self.inner.put(key, other, version=version, ttl=ttl)
        return await super().put(key, value, version=version, ttl=ttl)


async def test_conflict_without_backend_call_runs_the_turn_again(engine: DialogEngine) -> None:
    store = SneakyStore()
    runtime = DialogRuntime(engine, store, ttl=None)
    result = await runtime.turn("s", "피자 가게에서 불고기 피자 주문해 줘")  # slot prompt only
    assert result.calls == []
    assert store.conflicts == 1 and store.puts == 2
    state = await runtime.state("s")
    # The retry started from the other process's state and kept its change.
    assert state.sessions == 42
    assert state.waiting == SlotWait(action="pizza.order", param="size", spoken=1)


async def test_conflict_after_a_backend_call_is_reported(engine: DialogEngine) -> None:
    store = SneakyStore()
    store.sneak = False
    runtime = DialogRuntime(engine, store, ttl=None)
    await runtime.turn("s", "피자 가게에서 불고기 피자 주문해 줘")
    store.sneak = True
    with pytest.raises(DialogConflict) as info:
        await runtime.turn("s", "라지")  # calls the backend: must not run twice
    assert info.value.result.result_codes == ["OK"]
    assert info.value.result.prompt is not None and "101번" in info.value.result.prompt
    entry = await store.inner.get("dialog:pizza:s")
    assert entry is not None
    assert entry.value["sessions"] == 41  # the other write is kept
    assert entry.value["waiting"] is not None  # ... not overwritten by this turn's state


async def test_retries_are_bounded(engine: DialogEngine) -> None:
    class AlwaysConflict(CountingStore):
        async def put(self, key: str, value: Any, **kw: Any) -> int:
            self.puts += 1
            raise ConflictError(key, kw.get("version"), 99)

    store = AlwaysConflict()
    runtime = DialogRuntime(engine, store, ttl=None, retries=3)
    with pytest.raises(ConflictError):
        await runtime.turn("s", "피자 가게에서 불고기 피자 주문해 줘")
    assert store.puts == 4


async def test_concurrent_turns_in_one_process_do_not_conflict(engine: DialogEngine) -> None:
    store = CountingStore(yield_on_get=True)
    runtime = DialogRuntime(engine, store, ttl=None)
    results = await asyncio.gather(*(runtime.turn("s", "피자 가게 열어 줘") for _ in range(10)))
    assert store.conflicts == 0
    assert sorted(r.turn for r in results) == list(range(1, 11))
    assert (await runtime.state("s")).turns == 10
    assert runtime._locks == {}


async def test_unreadable_state_starts_over(engine: DialogEngine) -> None:
    store = MemoryStore()
    await store.put("dialog:pizza:s", {"turns": "많이"})
    runtime = DialogRuntime(engine, store, ttl=None)
    result = await runtime.turn("s", "피자 가게에서 불고기 피자 주문해 줘")
    assert result.turn == 1
    entry = await store.get("dialog:pizza:s")
    assert entry is not None and entry.version == 2
