"""DeadlineWatch's bookkeeping on a loop whose clock the test moves (no waiting, no timing).

``test_deadline_bounds.py`` checks the deadline through real calls and a real clock. These
tests pin what a real clock cannot show exactly: the boundary (a call whose deadline is *now*
is late), the tick a short deadline gets, that one timer serves all calls, ``remaining`` and
``outside_cancel``. Each one fails on a mutant of ``play/deadline.py``
(docs/mutation-report.md, module ``deadline``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from voicehook.play.deadline import EXPIRED, IN_TIME, LATE, DeadlineWatch


class FakeTimer:
    def __init__(self, delay: float, callback: Callable[[], None]) -> None:
        self.delay = delay
        self.callback = callback


class FakeLoop:
    """``time()`` and ``call_later()`` only: the parts DeadlineWatch uses."""

    def __init__(self) -> None:
        self.now = 100.0
        self.timers: list[FakeTimer] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> FakeTimer:
        timer = FakeTimer(delay, callback)
        self.timers.append(timer)
        return timer

    def fire(self) -> None:
        """Run the newest timer's callback, as the loop would when it is due."""
        self.timers[-1].callback()


class FakeTask:
    def __init__(self) -> None:
        self.cancels = 0

    def cancel(self) -> bool:
        self.cancels += 1
        return True


def watch_on(loop: FakeLoop, deadline: float = 1.0) -> DeadlineWatch:
    return DeadlineWatch(cast(asyncio.AbstractEventLoop, loop), deadline)


def task() -> Any:
    return FakeTask()


def test_a_call_whose_deadline_is_now_is_cancelled_by_the_tick() -> None:
    loop = FakeLoop()
    watch = watch_on(loop)
    t = task()
    key = watch.start_until(t, 105.0)
    loop.now = 104.999
    loop.fire()
    assert t.cancels == 0
    loop.now = 105.0  # exactly the deadline: it has passed
    loop.fire()
    assert t.cancels == 1
    assert watch.stop(key) == EXPIRED
    assert watch.stop(key) == IN_TIME  # an expired key is reported once, then forgotten


def test_a_call_that_ends_at_its_deadline_uncancelled_is_late() -> None:
    """A call that blocked the loop past its deadline (no tick could run) is LATE."""
    loop = FakeLoop()
    watch = watch_on(loop)
    early, exact, after = (watch.start_until(task(), 105.0) for _ in range(3))
    loop.now = 104.5
    assert watch.stop(early) == IN_TIME
    loop.now = 105.0
    assert watch.stop(exact) == LATE
    loop.now = 106.0
    assert watch.stop(after) == LATE


def test_a_call_without_a_task_is_never_cancelled_but_can_be_late() -> None:
    loop = FakeLoop()
    watch = watch_on(loop)
    key = watch.start(None, 1.0)
    loop.now = 102.0
    loop.fire()
    assert watch.watching == 1
    assert watch.stop(key) == LATE


def test_one_timer_serves_every_call() -> None:
    loop = FakeLoop()
    watch = watch_on(loop)
    first = watch.start(task(), 5.0)
    assert [t.delay for t in loop.timers] == [0.05]
    second = watch.start_until(task(), 200.0)
    third = watch.start(task(), 9.0)
    assert len(loop.timers) == 1
    assert len({first, second, third}) == 3
    loop.fire()  # nothing is due: the timer is set again
    assert len(loop.timers) == 2 and watch.watching == 3


def test_start_until_starts_the_timer_when_none_runs() -> None:
    loop = FakeLoop()
    watch = watch_on(loop)
    watch.start_until(task(), 100.5)
    assert [t.delay for t in loop.timers] == [0.05]
    watch.start_until(task(), 100.7)
    assert len(loop.timers) == 1


@pytest.mark.parametrize(
    ("deadline", "tick"),
    [
        (0.2, 0.01),  # shorter than 20 ticks: a twentieth of it
        (1.0, 0.05),  # exactly 20 ticks: the tick stays
        (1.02, 0.05),  # a little longer: the tick stays
        (30.0, 0.05),
    ],
)
def test_the_first_call_sets_the_tick_for_a_short_deadline(deadline: float, tick: float) -> None:
    loop = FakeLoop()
    watch = watch_on(loop)
    t = task()
    watch.start(t, deadline)
    (timer,) = loop.timers
    assert timer.delay == pytest.approx(tick)
    loop.now += deadline
    loop.fire()  # the timer's callback is the check
    assert t.cancels == 1
    assert len(loop.timers) == 1  # nothing left to watch: no new timer


def test_remaining_counts_down_to_zero() -> None:
    loop = FakeLoop()
    watch = watch_on(loop)
    key = watch.start(task(), 2.5)
    assert watch.remaining(key) == pytest.approx(2.5)
    loop.now = 101.75
    assert watch.remaining(key) == pytest.approx(0.75)
    loop.now = 103.0
    assert watch.remaining(key) == 0.0
    watch.stop(key)
    assert watch.remaining(key) == 0.0  # not watched any more
    assert watch.remaining(12345) == 0.0


async def test_outside_cancel_tells_whether_someone_else_cancelled_too() -> None:
    async def sleeper() -> None:
        await asyncio.sleep(60)

    assert DeadlineWatch.outside_cancel(None) is False
    only_watch = asyncio.create_task(sleeper())
    only_watch.cancel()  # the watch's cancel
    assert DeadlineWatch.outside_cancel(only_watch) is False
    both = asyncio.create_task(sleeper())
    both.cancel()  # the watch's cancel
    both.cancel()  # the server shutting down
    assert DeadlineWatch.outside_cancel(both) is True
    for t in (only_watch, both):
        t.cancel()
        with pytest.raises(asyncio.CancelledError):
            await t
