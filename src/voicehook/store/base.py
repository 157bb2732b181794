"""The store interface: async key-value state with versions and TTL.

Every backend (memory, SQLite, Redis, or a third-party one) follows the same contract:

- ``get(key)`` returns an :class:`Entry` (``value`` and ``version``) or ``None``.
- ``put(key, value, version=..., ttl=...)`` is a conditional write (optimistic concurrency).
  ``version=None`` means "create: the key must not exist yet". An ``int`` means "the entry
  must currently be at exactly this version". Anything else raises :class:`ConflictError`.
  A new entry starts at version 1. Each successful write adds 1.
- ``ttl`` is in seconds and applies to this write. ``ttl=None`` means "never expires" (it also
  clears a TTL set by an earlier write). Expired entries are invisible: ``get`` returns
  ``None`` and ``put(version=None)`` may create the key again.
- Values are JSON-safe Python values (see :mod:`voicehook.store.codec`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import inspect
import math
import random
from collections.abc import Awaitable, Callable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol, runtime_checkable

import msgspec

__all__ = [
    "WRITE_DEADLINE",
    "ConflictError",
    "Entry",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "check_key",
    "check_ttl",
    "current_write_deadline",
    "update",
    "write_deadline",
]


class StoreError(Exception):
    """Base class of every error raised by a store."""


class ConflictError(StoreError):
    """A conditional write or delete did not match the entry's current version.

    ``expected`` is the version the caller asked for (``None`` = "must not exist").
    ``actual`` is the version found (``None`` = "no such entry"), when the backend knows it.
    """

    def __init__(self, key: str, expected: int | None, actual: int | None) -> None:
        self.key = key
        self.expected = expected
        self.actual = actual
        want = "no entry (create)" if expected is None else f"version {expected}"
        found = "no entry" if actual is None else f"version {actual}"
        super().__init__(f"version conflict on key {key!r}: expected {want}, found {found}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.key, self.expected, self.actual))


class StoreUnavailable(StoreError):
    """The store cannot be reached (server down, file not accessible, store closed)."""


class Entry(msgspec.Struct, frozen=True):
    """One stored value and its version."""

    value: Any
    version: int


@runtime_checkable
class Store(Protocol):
    """The async key-value store interface.

    Constructing a store does no I/O. ``open()`` connects; every other method opens the
    store lazily if needed. ``aclose()`` releases connections and threads.
    """

    async def open(self) -> None:
        """Connect / create files. Safe to call more than once."""
        ...

    async def get(self, key: str) -> Entry | None:
        """Return the live entry for ``key``, or ``None`` if missing or expired."""
        ...

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        """Write ``value`` if the entry is at ``version`` (``None``: must not exist).

        Returns the new version. Raises :class:`ConflictError` on a version mismatch.
        """
        ...

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        """Delete ``key``. Returns ``False`` if there was no live entry.

        With ``version``, the entry must be at that version, else :class:`ConflictError`
        (also when the entry does not exist).
        """
        ...

    async def ping(self) -> None:
        """Health check. Raises :class:`StoreUnavailable` when the store is down."""
        ...

    async def aclose(self) -> None:
        """Release resources. The store may be opened again afterwards."""
        ...


#: The write deadline of the running task (see :func:`write_deadline`); the play sets it
#: with ``set``/``reset`` on its hot path.
WRITE_DEADLINE: ContextVar[float | None] = ContextVar("voicehook_write_deadline", default=None)


@contextlib.contextmanager
def write_deadline(when: float | None) -> Iterator[None]:
    """Writes started in this block must not be applied after ``when``.

    ``when`` is a time on the running event loop's clock (``loop.time()``); ``None`` sets
    no deadline. A store that can enforce it (Redis) refuses a write that reaches the server
    later, and reports it as failed: a write reported as failed never shows up afterwards.
    The play sets this around the state save of a turn, with the turn's deadline::

        with write_deadline(loop.time() + 1.5):
            await store.put("세션:abc", {"단계": 2}, version=1)
    """
    token = WRITE_DEADLINE.set(when)
    try:
        yield
    finally:
        WRITE_DEADLINE.reset(token)


def current_write_deadline() -> float | None:
    """The deadline set by :func:`write_deadline` here, or ``None``."""
    return WRITE_DEADLINE.get()


def check_key(key: object) -> str:
    """Validate a key: a non-empty ``str``. Returns it unchanged."""
    if type(key) is not str:
        raise TypeError(f"store keys must be str, got {type(key).__name__}: {key!r}")
    if not key:
        raise ValueError("store keys must not be empty")
    return key


def check_ttl(ttl: float | None) -> float | None:
    """Validate a TTL in seconds: ``None`` or a finite number > 0."""
    if ttl is None:
        return None
    if isinstance(ttl, bool) or not isinstance(ttl, int | float):
        raise TypeError(f"ttl must be a number of seconds or None, got {ttl!r}")
    if not math.isfinite(ttl) or ttl <= 0:
        raise ValueError(f"ttl must be a finite number of seconds > 0, got {ttl!r}")
    return float(ttl)


def check_version(version: int | None) -> int | None:
    """Validate an expected version: ``None`` or an ``int`` >= 1."""
    if version is None:
        return None
    if type(version) is not int:
        raise TypeError(f"version must be an int or None, got {version!r}")
    if version < 1:
        raise ValueError(f"version must be >= 1, got {version}")
    return version


_IMMUTABLE = (str, int, float, bool, bytes)


async def update(
    store: Store,
    key: str,
    fn: Callable[[Any], Any] | Callable[[Any], Awaitable[Any]],
    *,
    default: Any = None,
    ttl: float | None = None,
    retries: int = 32,
) -> Entry:
    """Read-modify-write ``key`` with retry on version conflicts.

    ``fn`` gets the current value (``default`` if the key is missing or expired) and returns
    the new value. It may be a plain or an ``async`` function. It can run more than once, so
    it must not have side effects. Mutating its argument in place is fine: every ``get``
    returns a fresh copy.

    Returns the written :class:`Entry`. Raises :class:`ConflictError` after ``retries``
    failed attempts (``retries`` counts the retries, so ``fn`` runs at most
    ``retries + 1`` times).

    Example: count visits, one increment per request, safe across processes::

        entry = await update(store, "visits:사용자1", lambda n: n + 1, default=0)
    """
    if retries < 0:
        raise ValueError(f"retries must be >= 0, got {retries}")
    attempt = 0
    while True:
        current = await store.get(key)
        if current is not None:
            old = current.value
        elif default is None or type(default) in _IMMUTABLE:
            old = default
        else:
            old = copy.deepcopy(default)  # fn may mutate it; keep the caller's default intact
        new = fn(old)
        if inspect.isawaitable(new):
            new = await new
        try:
            version = await store.put(
                key, new, version=None if current is None else current.version, ttl=ttl
            )
        except ConflictError:
            if attempt >= retries:
                raise
            attempt += 1
            # Back off a little after the first quick retries so that many writers on one
            # hot key do not keep colliding in lock step.
            if attempt > 2:
                delay = min(0.05, 0.0005 * (2 ** min(attempt - 3, 8)))
                await asyncio.sleep(delay * random.random())
            continue
        return Entry(new, version)
