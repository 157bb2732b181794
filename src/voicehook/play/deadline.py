"""Per-call deadlines with one timer per event loop instead of one per call.

``asyncio.timeout`` allocates a Timeout object and a timer handle for every call, which is a
measurable part of the NUGU hot path. A handler's deadline does not need millisecond
precision, so :class:`DeadlineWatch` keeps the running calls in a dict and checks them with a
single repeating timer: registering and unregistering a call is a dict insert and delete.
A call is cancelled at most one tick (by default 1/20 of the deadline, at most 50 ms) after
its deadline.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Any


class DeadlineWatch:
    """Cancels the tasks of calls that run past their deadline. One per event loop.

    The protocol, kept inline in ``Play.call`` because it is on the hot path:

    - start: ``key = next(watch.ids)``; ``watch.due[key] = (task, loop.time() + deadline)``;
      ``watch.arm()`` when ``watch.handle`` is None;
    - finish: ``watch.due.pop(key, None)``; the deadline passed (and the task got a
      ``cancel()``) when ``key`` is in ``watch.expired``, which the caller then discards and
      answers with ``task.uncancel()``.
    """

    __slots__ = ("_tick", "due", "expired", "handle", "ids", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        tick = min(0.05, deadline / 20)
        self.loop = loop
        self._tick = tick
        self.due: dict[int, tuple[asyncio.Task[Any], float]] = {}
        self.expired: set[int] = set()
        self.handle: asyncio.TimerHandle | None = None
        self.ids = itertools.count()

    def arm(self) -> None:
        """Start the repeating check (it stops by itself when nothing is watched)."""
        self.handle = self.loop.call_later(self._tick, self._check)

    def _check(self) -> None:
        now = self.loop.time()
        due = self.due
        late = [key for key, (_, when) in due.items() if when <= now]
        for key in late:
            task, _ = due.pop(key)
            self.expired.add(key)
            task.cancel()
        self.handle = self.loop.call_later(self._tick, self._check) if due else None
