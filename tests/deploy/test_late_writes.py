"""A turn answered as failed leaves no state change behind, even when Redis resumes later.

The reported failure: Redis stopped (SIGSTOP) after a quiz turn read its state; the turn's
save waited, the turn answered the failure code, Redis resumed and ran the queued write, and
the next answer jumped two questions. Now every save carries the turn's deadline as a
"not after" time that Redis checks (docs/state.md, "No late writes").
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests._support.redis_server import RedisServer, require_redis_server
from voicehook import ActionRequest, Play
from voicehook.server import Settings
from voicehook.store import Entry, RedisStore
from voicehook.testing import NuguTestClient

pytestmark = pytest.mark.redis

SID = "퀴즈-세션-1"
KEY = f"session:quiz:{SID}"


@pytest.fixture
def server() -> Iterator[RedisServer]:
    require_redis_server()
    with RedisServer() as srv:
        yield srv


def quiz(stop_after_read: list[int]) -> Play:
    """``quiz.answer`` moves to the next question. When ``stop_after_read`` holds a pid,
    the handler stops that process (Redis) right after reading the state: mid-turn."""
    play = Play("quiz")

    @play.action("quiz.answer", backend=["number"])
    async def answer(req: ActionRequest) -> dict[str, object]:
        state = await req.session_state()
        state["number"] = state.get("number", 1) + 1
        if stop_after_read:
            os.kill(stop_after_read.pop(), signal.SIGSTOP)
        return {"number": state["number"]}

    @play.action("quiz.skip", backend=["number"])
    async def skip(req: ActionRequest) -> dict[str, object]:
        def next_question(state: dict[str, Any]) -> dict[str, Any]:
            state["number"] = state.get("number", 1) + 1
            if stop_after_read:  # between update_session's read and its write
                os.kill(stop_after_read.pop(), signal.SIGSTOP)
            return state

        state = await req.update_session(next_question)
        return {"number": state["number"]}

    return play


async def test_a_failed_turn_does_not_move_the_quiz_when_redis_resumes(
    server: RedisServer,
) -> None:
    store = RedisStore(server.url, prefix="late-turn:")
    stop: list[int] = []
    try:
        async with NuguTestClient(quiz(stop), Settings(deadline=1.0), store=store) as client:
            first = await client.call("quiz.answer", session_id=SID)
            assert (first.result_code, first.output["number"]) == ("OK", "2")

            stop.append(server.pid)
            started = time.monotonic()
            try:
                failed = await client.call("quiz.answer", session_id=SID)
                elapsed = time.monotonic() - started
            finally:
                os.kill(server.pid, signal.SIGCONT)
            # The save runs under the turn's deadline (issue 9, item 4): the timeout code.
            assert failed.result_code in ("BACKEND_ERROR", "BACKEND_TIMEOUT")
            assert elapsed < 2.0  # the save gave up at the turn's deadline (1 s)

            await asyncio.sleep(0.5)  # Redis runs the write that waited in its socket ...
            entry = await store.get(KEY)
            assert entry == Entry({"number": 2}, 1)  # ... and refuses it: past its deadline

            again = await client.call("quiz.answer", session_id=SID)
            assert (again.result_code, again.output["number"]) == ("OK", "3")  # not "4"
    finally:
        await store.aclose()


async def test_update_session_in_a_failed_turn_does_not_land_later(server: RedisServer) -> None:
    """The same with ``req.update_session``: its write carries the turn's deadline too."""
    store = RedisStore(server.url, prefix="late-update:")
    stop: list[int] = []
    try:
        async with NuguTestClient(quiz(stop), Settings(deadline=1.0), store=store) as client:
            first = await client.call("quiz.skip", session_id=SID)
            assert (first.result_code, first.output["number"]) == ("OK", "2")

            stop.append(server.pid)
            started = time.monotonic()
            try:
                failed = await client.call("quiz.skip", session_id=SID)
                elapsed = time.monotonic() - started
            finally:
                os.kill(server.pid, signal.SIGCONT)
            assert failed.result_code in ("BACKEND_ERROR", "BACKEND_TIMEOUT")
            assert elapsed < 2.0

            await asyncio.sleep(0.5)
            assert await store.get(KEY) == Entry({"number": 2}, 1)
            again = await client.call("quiz.skip", session_id=SID)
            assert (again.result_code, again.output["number"]) == ("OK", "3")
    finally:
        await store.aclose()
