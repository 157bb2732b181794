"""Bounded log output for client-controlled input (a leaf module: imports nothing).

- :func:`clip` shortens a client string (an action name, a path, a header) before it goes
  into a log line: a 1 MB action name must not make a 1 MB log line.
- :class:`LogLimiter` lets a repeated warning (every 4xx, every unknown action) through at
  most once per interval per kind, and says how many were held back. The metrics count
  every one of them, so nothing is lost by logging fewer lines.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["CLIP", "LogLimiter", "clip"]

#: Characters of a client string kept in a log line.
CLIP = 120


def clip(value: object, limit: int = CLIP) -> str:
    """``value`` as text of at most ``limit`` characters (plus a note of what was cut)."""
    text = value if isinstance(value, str) else str(value)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


class LogLimiter:
    """At most one log line per ``interval`` seconds for each key.

    ``allow(key)`` returns None when the line should be dropped, else how many lines of
    that key were dropped since the last one that went out (0 the first time)::

        held = limiter.allow(exc.code)
        if held is not None:
            logger.warning("rejected %s (%d more like it not logged)", exc.code, held)

    The number of keys is bounded (``max_keys``): past it, new keys share one slot.
    """

    __slots__ = ("_clock", "_held", "_interval", "_max_keys", "_next")

    def __init__(
        self,
        interval: float = 10.0,
        *,
        max_keys: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = interval
        self._max_keys = max_keys
        self._clock = clock
        self._next: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def allow(self, key: str) -> int | None:
        now = self._clock()
        nxt = self._next.get(key)
        if nxt is None and len(self._next) >= self._max_keys:
            key = "(other)"
            nxt = self._next.get(key)
        if nxt is not None and now < nxt:
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._next[key] = now + self._interval
        return self._held.pop(key, 0)
