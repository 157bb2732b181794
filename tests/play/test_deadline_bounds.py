"""The deadline's time bound, tightly: a call answers soon after its deadline, never before.

``test_call.py`` checks the timeout code; these check *when* it comes. Each test names the
mutant it kills (docs/mutation-report.md). The margins hold on a loaded machine: with a 0.2 s
deadline the tick is 10 ms, so the answer is due at about 0.21 s, and the bound is 0.35 s.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from voicehook.play import ActionRequest, Play, RuntimeSettings, parse_definition
from voicehook.play.deadline import EXPIRED, IN_TIME, DeadlineWatch

DEFINITION = """
name: test
actions:
  answer.slow:
    backend: true
    parameters:
      city: {type: CITY}
      result: backend
entities:
  CITY: {values: {서울: []}}
"""


def make_play(**settings: Any) -> Play:
    return Play(parse_definition(DEFINITION), settings=RuntimeSettings(**settings))


def request(play: Play, **params: Any) -> ActionRequest:
    spec = play.spec("answer.slow")
    assert spec is not None
    base = spec.new_params()
    base.update(params)
    return ActionRequest("answer.slow", base, request_id="rid-d")


async def test_a_slow_handler_is_answered_within_the_deadline_plus_a_tick() -> None:
    """Kills: the deadline doubled (answer at 0.4 s), the tick up to half a second (0.7 s),
    and a deadline halved or a check that fires early (answer before 0.2 s)."""
    play = make_play(deadline=0.2, timeout_code="TOO_SLOW")

    @play.action("answer.slow")
    async def slow(req: ActionRequest) -> None:
        await asyncio.sleep(5)

    start = time.monotonic()
    result = await play.call(request(play))
    elapsed = time.monotonic() - start
    assert result.result_code == "TOO_SLOW"
    assert result.error == "handler exceeded the 0.2 s deadline"
    assert 0.19 <= elapsed < 0.35, elapsed


async def test_a_blocking_sync_handler_is_answered_in_time_too() -> None:
    """The thread keeps running; the caller gets its answer at the deadline all the same."""
    play = make_play(deadline=0.2)

    @play.action("answer.slow")
    def blocking(req: ActionRequest) -> None:
        time.sleep(0.6)

    start = time.monotonic()
    result = await play.call(request(play))
    elapsed = time.monotonic() - start
    assert result.result_code == "BACKEND_TIMEOUT"
    assert 0.19 <= elapsed < 0.35, elapsed


async def test_a_handler_just_under_the_deadline_is_not_cut() -> None:
    """Kills: a deadline check that compares against the start (``when <= now`` with the
    deadline dropped) or cancels every watched call at the first tick."""
    play = make_play(deadline=0.5)

    @play.action("answer.slow")
    async def quick_enough(req: ActionRequest) -> dict[str, str]:
        await asyncio.sleep(0.1)
        return {"result": "됐어요"}

    result = await play.call(request(play))
    assert result.result_code == "OK"
    assert result.output["result"] == "됐어요"


async def test_calls_in_a_row_each_get_their_own_deadline() -> None:
    """The watch stops its timer when nothing is watched and re-arms for the next call.
    Kills: a timer that is not re-armed (the second slow call would never be cut)."""
    play = make_play(deadline=0.1)

    @play.action("answer.slow")
    async def slow(req: ActionRequest) -> None:
        await asyncio.sleep(5)

    for _ in range(3):
        start = time.monotonic()
        result = await asyncio.wait_for(play.call(request(play)), 2)
        assert result.result_code == "BACKEND_TIMEOUT"
        assert time.monotonic() - start < 0.3


async def test_one_slow_call_does_not_cut_a_quick_one_beside_it() -> None:
    play = make_play(deadline=0.2)
    gate: dict[str, float] = {"서울": 5.0}

    @play.action("answer.slow")
    async def handler(req: ActionRequest) -> dict[str, str]:
        await asyncio.sleep(gate.get(str(req.params["city"]), 0.05))
        return {"result": "끝"}

    slow, quick = await asyncio.gather(
        play.call(request(play, city="서울")), play.call(request(play, city="부산"))
    )
    assert slow.result_code == "BACKEND_TIMEOUT"
    assert quick.result_code == "OK"


@pytest.mark.parametrize(("deadline", "tick"), [(0.2, 0.01), (1.0, 0.05), (10.0, 0.05)])
async def test_the_tick_is_a_twentieth_of_the_deadline_at_most_50_ms(
    deadline: float, tick: float
) -> None:
    """Kills the tick mutants (``min`` → ``max``, ``/ 20`` → ``/ 21`` or ``* 20``, 0.05 → 0.5)
    exactly, without timing anything."""
    watch = DeadlineWatch(asyncio.get_running_loop(), deadline)
    assert watch._tick == pytest.approx(tick)


async def test_the_watch_stops_when_nothing_is_due_and_cancels_only_late_calls() -> None:
    loop = asyncio.get_running_loop()
    watch = DeadlineWatch(loop, 1.0)
    late = loop.create_task(asyncio.sleep(5))
    early = loop.create_task(asyncio.sleep(5))
    late_key = watch.start(late, -0.001)  # already past its deadline
    early_key = watch.start(early, 60)
    watch._check()
    assert watch.watching == 1  # only the early one is left
    assert watch._handle is not None  # still watching the early one
    await asyncio.sleep(0)
    assert late.cancelled() and not early.done()
    assert watch.stop(late_key) == EXPIRED
    assert watch.stop(early_key) == IN_TIME
    assert watch._handle is not None
    watch._handle.cancel()
    watch._check()
    assert watch._handle is None  # nothing left to watch: no timer
    early.cancel()
