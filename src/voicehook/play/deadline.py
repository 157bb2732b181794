"""Per-call deadlines with one timer per event loop instead of one per call.

``asyncio.timeout`` allocates a Timeout object and a timer handle for every call, which is a
measurable part of the NUGU hot path. A handler's deadline does not need millisecond
precision, so :class:`DeadlineWatch` keeps the running calls in a dict and checks them with a
single repeating timer: :meth:`~DeadlineWatch.start` and :meth:`~DeadlineWatch.stop` are a
dict insert and delete. A call is cancelled at most one tick (1/20 of the shortest deadline
seen, at most 50 ms) after its deadline.

A call that blocks the event loop (an ``async`` handler that computes for 10 s) cannot be
cancelled: the timer cannot run while it blocks. :meth:`~DeadlineWatch.stop` still reports
it as :data:`LATE`, so the answer is the timeout code, not a late OK.
"""

from __future__ import annotations

import asyncio
from typing import Any

__all__ = ["EXPIRED", "IN_TIME", "LATE", "DeadlineWatch"]

#: :meth:`DeadlineWatch.stop`: the call ended before its deadline.
IN_TIME = 0
#: The call ended after its deadline without being cancelled (it blocked the event loop).
LATE = 1
#: The deadline passed and the watch called ``task.cancel()``; the caller must answer
#: ``task.uncancel()`` (see :meth:`DeadlineWatch.outside_cancel`).
EXPIRED = 2

_MAX_TICK = 0.05


class DeadlineWatch:
    """Cancels the tasks of calls that run past their deadline. One per event loop.

    Usage::

        key = watch.start(task, deadline)
        ...                                  # the handler, the state save
        state = watch.stop(key)              # IN_TIME, LATE or EXPIRED
        watch.remaining(key)                 # seconds left while the call runs
    """

    __slots__ = ("_due", "_expired", "_handle", "_next", "_tick", "loop")

    def __init__(self, loop: asyncio.AbstractEventLoop, deadline: float = 1.0) -> None:
        self.loop = loop
        self._tick = min(_MAX_TICK, deadline / 20)
        self._due: dict[int, tuple[asyncio.Task[Any] | None, float]] = {}
        self._expired: set[int] = set()
        self._handle: asyncio.TimerHandle | None = None
        self._next = 0

    def start(self, task: asyncio.Task[Any] | None, deadline: float) -> int:
        """Watch a call of ``task`` that must end within ``deadline`` seconds; its key.

        ``task`` None (no running task) still records the deadline: :meth:`stop` then says
        whether it passed, but nothing is cancelled.
        """
        key = self._next = self._next + 1
        self._due[key] = (task, self.loop.time() + deadline)
        if self._handle is None:
            if deadline < self._tick * 20:
                self._tick = deadline / 20
            self._handle = self.loop.call_later(self._tick, self._check)
        return key

    def start_until(self, task: asyncio.Task[Any] | None, due: float) -> int:
        """:meth:`start` with the deadline as a ``loop.time()`` value (one clock read for
        the caller that needs the value too)."""
        key = self._next = self._next + 1
        self._due[key] = (task, due)
        if self._handle is None:
            self._handle = self.loop.call_later(self._tick, self._check)
        return key

    def stop(self, key: int) -> int:
        """Stop watching ``key``: :data:`IN_TIME`, :data:`LATE` or :data:`EXPIRED`."""
        entry = self._due.pop(key, None)
        if entry is None:
            if key in self._expired:
                self._expired.discard(key)
                return EXPIRED
            return IN_TIME
        return LATE if entry[1] <= self.loop.time() else IN_TIME

    def remaining(self, key: int) -> float:
        """Seconds left before ``key``'s deadline (0 when it passed or is not watched)."""
        entry = self._due.get(key)
        return 0.0 if entry is None else max(0.0, entry[1] - self.loop.time())

    @staticmethod
    def outside_cancel(task: asyncio.Task[Any] | None) -> bool:
        """After :data:`EXPIRED`: take back the watch's ``cancel()``; True when the task was
        also cancelled by someone else (the client went away, the server shuts down)."""
        return task is not None and task.uncancel() > 0

    @property
    def watching(self) -> int:
        """How many calls are being watched."""
        return len(self._due)

    def _check(self) -> None:
        now = self.loop.time()
        due = self._due
        late = [key for key, (task, when) in due.items() if when <= now and task is not None]
        for key in late:
            task, _ = due.pop(key)
            self._expired.add(key)
            task.cancel()  # type: ignore[union-attr]
        self._handle = self.loop.call_later(self._tick, self._check) if due else None
