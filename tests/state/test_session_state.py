"""Session and user state for handlers: loading, saving, scoping and conflicts.

Every test goes through the real ASGI path (``NuguTestClient``): routing, decoding, the
handler, the save at the end of the turn, and encoding.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.state.conftest import CountingStore, counter_play, private_profile
from voicehook.store import MemoryStore
from voicehook.testing import NuguTestClient

SID = "85964e40-cf9c-4eae-841b-d736d5ef9060"


async def test_state_is_not_loaded_unless_asked() -> None:
    store = CountingStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        answer = await client.call("noop", session_id=SID)
    assert answer.result_code == "OK"
    assert (store.gets, store.puts) == (0, 0)


async def test_state_read_but_not_changed_is_not_written() -> None:
    store = CountingStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        answer = await client.call("peek", session_id=SID)
        assert answer.output["n"] == "0"
    assert (store.gets, store.puts) == (1, 0)


async def test_changed_state_is_written_once_per_turn() -> None:
    store = CountingStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        for expected in ("1", "2", "3"):
            answer = await client.call("bump", session_id=SID)
            assert answer.result_code == "OK"
            assert answer.output["n"] == expected
    assert (store.gets, store.puts) == (3, 3)
    entry = await store.inner.get(f"session:counter:{SID}")
    assert entry is not None
    assert entry.value == {"n": 3}
    assert entry.version == 3


async def test_state_is_scoped_by_play_and_session() -> None:
    store = MemoryStore()
    async with (
        NuguTestClient(counter_play("퀴즈"), store=store) as quiz,
        NuguTestClient(counter_play("날씨"), store=store) as weather,
    ):
        await quiz.call("bump", session_id="세션-1")
        await quiz.call("bump", session_id="세션-1")
        await quiz.call("bump", session_id="세션-2")
        await weather.call("bump", session_id="세션-1")
        assert (await quiz.call("peek", session_id="세션-1")).output["n"] == "2"
        assert (await quiz.call("peek", session_id="세션-2")).output["n"] == "1"
        assert (await weather.call("peek", session_id="세션-1")).output["n"] == "1"
        assert (await weather.call("peek", session_id="세션-3")).output["n"] == "0"
    for key, n in (
        ("session:퀴즈:세션-1", 2),
        ("session:퀴즈:세션-2", 1),
        ("session:날씨:세션-1", 1),
    ):
        entry = await store.get(key)
        assert entry is not None and entry.value == {"n": n}, key


async def test_a_request_without_session_id_gets_no_shared_state() -> None:
    store = CountingStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        answer = await client.call("bump", session_id="")
    # A 400, not a handler failure (issue 9): the request lacks what the action needs.
    assert answer.status == 400 and answer.json["error"]["code"] == "missing_session_id"
    assert store.puts == 0


async def test_user_state_follows_the_user_key_across_sessions() -> None:
    store = MemoryStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        for i, sid in enumerate(("s-1", "s-2", "s-3"), start=1):
            profile = private_profile("user.0.김")
            answer = await client.call("visit", session_id=sid, profile=profile)
            assert answer.output == {"visits": str(i), "user": "user.0.김"}
        other = await client.call("visit", session_id="s-1", profile=private_profile("user.0.이"))
        assert other.output["visits"] == "1"
    entry = await store.get("user:counter:user.0.김")
    assert entry is not None and entry.value == {"visits": 3}


@pytest.mark.parametrize(
    "profile", [None, {}, {"privatePlay": {}}, {"privatePlay": {"userKey": ""}}]
)
async def test_user_state_is_none_without_a_user_key(profile: dict[str, object] | None) -> None:
    store = CountingStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        answer = await client.call("visit", session_id=SID, profile=profile)
    assert answer.result_code == "OK"
    assert answer.output == {"visits": "0", "user": "none"}
    assert (store.gets, store.puts) == (0, 0)


async def test_a_failed_handler_does_not_save_its_changes() -> None:
    store = CountingStore()
    async with NuguTestClient(counter_play(), store=store) as client:
        await client.call("bump", session_id=SID)
        answer = await client.call("boom", session_id=SID)
        assert answer.result_code == "BACKEND_ERROR"
        assert (await client.call("peek", session_id=SID)).output["n"] == "1"
    assert store.puts == 1


async def test_concurrent_write_between_load_and_save_is_a_conflict(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = CountingStore()
    client = NuguTestClient(counter_play(), store=store)
    resources = client.app.context.resources
    resources.loaded, resources.go_on = asyncio.Event(), asyncio.Event()
    async with client:
        await client.call("bump", session_id=SID)  # n = 1, version 1
        slow = asyncio.create_task(client.call("slow_bump", session_id=SID))
        await asyncio.wait_for(resources.loaded.wait(), 2)  # slow_bump loaded version 1
        fast = await client.call("bump", session_id=SID)  # another turn writes n = 2
        assert fast.result_code == "OK" and fast.output["n"] == "2"
        resources.go_on.set()
        with caplog.at_level(logging.ERROR, logger="voicehook.play"):
            answer = await asyncio.wait_for(slow, 2)
    assert answer.result_code == "BACKEND_ERROR"
    assert any("could not save state" in r.getMessage() for r in caplog.records)
    entry = await store.inner.get(f"session:counter:{SID}")
    assert entry is not None
    assert entry.value == {"n": 2}  # the other turn's write is kept, not overwritten (101)
    assert entry.version == 2


async def test_update_session_retries_and_loses_no_increment() -> None:
    # yield_on_get makes every read-modify-write interleave with the others.
    store = CountingStore(yield_on_get=True)
    turns = 40
    async with NuguTestClient(counter_play(), store=store) as client:
        answers = await asyncio.gather(
            *(client.call("atomic_bump", session_id=SID) for _ in range(turns))
        )
    assert [a.result_code for a in answers] == ["OK"] * turns
    assert sorted(int(a.output["n"] or 0) for a in answers) == list(range(1, turns + 1))
    entry = await store.inner.get(f"session:counter:{SID}")
    assert entry is not None and entry.value == {"n": turns}
    assert store.conflicts > 0, "the test did not create any conflict"


async def test_plain_session_state_under_the_same_race_reports_conflicts() -> None:
    # The same race with session_state(): no silent lost update. Every turn either
    # counted (OK) or answered the failure code.
    store = CountingStore(yield_on_get=True)
    turns = 20
    async with NuguTestClient(counter_play(), store=store) as client:
        answers = await asyncio.gather(*(client.call("bump", session_id=SID) for _ in range(turns)))
    ok = [a for a in answers if a.result_code == "OK"]
    failed = [a for a in answers if a.result_code == "BACKEND_ERROR"]
    assert len(ok) + len(failed) == turns
    assert failed, "expected conflicts"
    entry = await store.inner.get(f"session:counter:{SID}")
    assert entry is not None and entry.value == {"n": len(ok)}


async def test_session_state_gets_the_session_ttl() -> None:
    now = [1000.0]
    store = MemoryStore(clock=lambda: now[0])
    client = NuguTestClient(counter_play(), store=store)
    client.app.context.session_ttl = 60.0
    async with client:
        await client.call("bump", session_id=SID)
        now[0] += 59
        assert (await client.call("bump", session_id=SID)).output["n"] == "2"  # sliding
        now[0] += 59
        assert (await client.call("peek", session_id=SID)).output["n"] == "2"
        now[0] += 2
        assert (await client.call("peek", session_id=SID)).output["n"] == "0"  # expired


async def test_a_turn_that_answers_an_error_after_the_handler_keeps_no_changes() -> None:
    """Bad output (strict policy) or a bad directive fail the turn after the handler ran:
    the state it changed must not be saved either."""
    from voicehook import ActionRequest, Reply
    from voicehook.server import Settings

    play = counter_play()

    @play.action("bad_output", backend=["n"])
    async def bad_output(req: ActionRequest) -> dict[str, object]:
        state = await req.session_state()
        state["n"] = 50
        return {"n": 50}  # not a string: a handler error under the strict policy

    @play.action("bad_directive", backend=["n"])
    async def bad_directive(req: ActionRequest) -> Reply:
        state = await req.session_state()
        state["n"] = 60
        return Reply({"n": "60"}, directives=[{"no": "type"}])

    store = CountingStore()
    settings = Settings(output_policy="strict")
    async with NuguTestClient(play, settings, store=store) as client:
        assert (await client.call("bad_output", session_id=SID)).result_code == "BACKEND_ERROR"
        assert (await client.call("bad_directive", session_id=SID)).result_code == "BACKEND_ERROR"
    assert store.puts == 0
