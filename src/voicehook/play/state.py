"""Session and user state for handlers, kept in the store.

NUGU sends a session id but no session attributes, so state that must survive from one turn
to the next (a playlist position, a quiz score) lives in the store. A handler asks for it::

    state = await req.session_state()
    state["score"] = state.get("score", 0) + 1      # saved after the turn, only if changed

Saving uses the version read at load time (optimistic concurrency). If another process wrote
the same state in between, the save fails with :class:`StateConflict` and the turn answers
the failure code: the write is reported, never silently lost. For counters and other updates
that may safely run again, ``await req.update_session(fn)`` retries on conflict instead.
"""

from __future__ import annotations

from typing import Any

import msgspec

from voicehook.store import ConflictError, Store, update

_encode = msgspec.json.Encoder(enc_hook=str).encode


class StateConflict(Exception):
    """The state changed in the store after this turn loaded it."""


class SessionState(dict[str, Any]):
    """A dict loaded from the store; :meth:`save` writes it back if it changed."""

    __slots__ = ("_key", "_snapshot", "_store", "_ttl", "_version")

    def __init__(
        self,
        store: Store,
        key: str,
        value: dict[str, Any] | None,
        version: int | None,
        ttl: float | None,
    ) -> None:
        super().__init__(value or {})
        self._store = store
        self._key = key
        self._version = version
        self._ttl = ttl
        self._snapshot = self._encode()

    def _encode(self) -> bytes:
        # Only to detect changes; the store encodes the value itself (and rejects values
        # that are not JSON-safe).
        return _encode(self)

    @property
    def key(self) -> str:
        return self._key

    @property
    def version(self) -> int | None:
        """The store version this state was loaded at (None: not stored yet)."""
        return self._version

    @property
    def changed(self) -> bool:
        return self._encode() != self._snapshot

    @classmethod
    async def load(cls, store: Store, key: str, ttl: float | None) -> SessionState:
        """Read the state at ``key`` (an empty state when there is none)."""
        entry = await store.get(key)
        if entry is None:
            return cls(store, key, None, None, ttl)
        value = entry.value if type(entry.value) is dict else {}
        return cls(store, key, value, entry.version, ttl)

    async def save(self) -> bool:
        """Write the state back if it changed. Returns True when it wrote.

        Raises :class:`StateConflict` when the entry changed in the store since it was
        loaded; the store keeps the other write.
        """
        current = _encode(self)
        if current == self._snapshot:
            return False
        try:
            self._version = await self._store.put(
                self._key, dict(self), version=self._version, ttl=self._ttl
            )
        except ConflictError as exc:
            raise StateConflict(
                f"state {self._key!r} was changed by another request during this turn"
            ) from exc
        self._snapshot = current
        return True


async def update_state(
    store: Store, key: str, fn: Any, ttl: float | None, retries: int = 16
) -> dict[str, Any]:
    """Read-modify-write a state dict with retries on conflict; returns the new value."""

    def apply(old: Any) -> Any:
        value = dict(old) if isinstance(old, dict) else {}
        result = fn(value)
        return value if result is None else result

    entry = await update(store, key, apply, default=None, ttl=ttl, retries=retries)
    return entry.value if isinstance(entry.value, dict) else {}
