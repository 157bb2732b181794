"""An in-process store: a dict. For tests, the simulator and single-process servers."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from voicehook.store.base import ConflictError, Entry, check_key, check_ttl, check_version
from voicehook.store.codec import decode, encode

__all__ = ["MemoryStore"]


class MemoryStore:
    """Keep entries in a dict of this process. Nothing survives a restart.

    Each operation runs without awaiting, so it is atomic for asyncio tasks of one event
    loop. Values are stored encoded: ``get`` always returns a fresh copy, and a value that
    is not JSON-safe is rejected here just as in the other backends.

    ``clock`` (seconds, monotonic) can be replaced in tests to expire entries without
    sleeping.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sweep_interval: float = 60.0,
    ) -> None:
        self._clock = clock
        self._sweep_interval = sweep_interval
        # key -> (encoded value, version, expires at (clock seconds) or None)
        self._data: dict[str, tuple[bytes, int, float | None]] = {}
        self._next_sweep = 0.0

    def __repr__(self) -> str:
        return f"MemoryStore(entries={len(self._data)})"

    async def open(self) -> None:
        """Nothing to open. Present for the :class:`~voicehook.store.Store` interface."""

    async def aclose(self) -> None:
        """Nothing to close. Entries are kept."""

    async def ping(self) -> None:
        """Always healthy."""

    def _live(self, key: str, now: float) -> tuple[bytes, int, float | None] | None:
        row = self._data.get(key)
        if row is not None and row[2] is not None and row[2] <= now:
            del self._data[key]
            return None
        return row

    async def get(self, key: str) -> Entry | None:
        """Return the live entry for ``key`` or ``None``."""
        check_key(key)
        row = self._live(key, self._clock())
        if row is None:
            return None
        return Entry(decode(row[0]), row[1])

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        """Conditional write; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        check_ttl(ttl)
        data = encode(value)
        now = self._clock()
        row = self._live(key, now)
        current = None if row is None else row[1]
        if current != version:
            raise ConflictError(key, version, current)
        new = 1 if current is None else current + 1
        self._data[key] = (data, new, None if ttl is None else now + ttl)
        if now >= self._next_sweep:
            self._sweep(now)
        return new

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        """Delete ``key``; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        row = self._live(key, self._clock())
        if version is not None:
            current = None if row is None else row[1]
            if current != version:
                raise ConflictError(key, version, current)
        if row is None:
            return False
        del self._data[key]
        return True

    def _sweep(self, now: float) -> None:
        expired = [k for k, r in self._data.items() if r[2] is not None and r[2] <= now]
        for k in expired:
            del self._data[k]
        self._next_sweep = now + self._sweep_interval
