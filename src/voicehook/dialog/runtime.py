"""The dialog engine with its per-session state kept in a store.

The engine itself is stateless: each turn takes a :class:`DialogState` and returns the next
one. NUGU's Dialog Manager keeps that state on the platform side. Other channels (CLOVA, Bot
Framework) do not, so the state must live in the store, and the next turn may run in another
process or on another machine::

    runtime = DialogRuntime(engine, store, ttl=3600)
    result = await runtime.turn("대화-1", UserText("서울 날씨 알려줘"))
    print(result.prompt)

Each turn loads the state, runs the engine and saves the new state with the version it read
(optimistic concurrency). When another process saved the same session in between:

- no backend call was made in the turn: the whole turn runs again on the fresh state
  (the engine is then a pure function, so running it twice is harmless);
- a backend call was made: the turn is not run again (the backend may have done something
  that must not happen twice). :class:`DialogConflict` is raised. It carries the result,
  whose state was **not** saved; the store keeps the other process's state.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import msgspec

from voicehook.dialog.engine import DialogEngine, TurnInput, TurnResult, UserText
from voicehook.dialog.session import DeviceState, DialogState
from voicehook.store import ConflictError, Store

__all__ = ["DialogConflict", "DialogRuntime"]

logger = logging.getLogger("voicehook.dialog")


class DialogConflict(Exception):
    """The session's state changed in the store during a turn that called the backend.

    ``result`` is the turn as it ran (what the user would hear); its state was not saved.
    """

    def __init__(self, session_id: str, result: TurnResult) -> None:
        self.session_id = session_id
        self.result = result
        super().__init__(
            f"dialog session {session_id!r} was changed by another request during a turn that "
            "called the backend; the turn was not saved and not repeated"
        )


class _Lock:
    __slots__ = ("lock", "users")

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.users = 0


class DialogRuntime:
    """Runs engine turns for many sessions, with each session's state in ``store``.

    - ``ttl``: seconds a session's state lives after its last turn (None: until deleted).
    - ``prefix``: the store key is ``{prefix}{session_id}``; by default
      ``dialog:{play name}:``.
    - ``retries``: how often a turn without backend calls runs again after a conflict.

    Turns of one session in this process run one after another (a lock per session), so
    conflicts come only from other processes.
    """

    def __init__(
        self,
        engine: DialogEngine,
        store: Store,
        *,
        ttl: float | None,
        prefix: str | None = None,
        retries: int = 8,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        self.engine = engine
        self.store = store
        self.ttl = ttl
        self.prefix = f"dialog:{engine.definition.name}:" if prefix is None else prefix
        self.retries = retries
        self._locks: dict[str, _Lock] = {}

    def key(self, session_id: str) -> str:
        """The store key of a session."""
        if not session_id:
            raise ValueError("a dialog session id must not be empty")
        return self.prefix + session_id

    async def load(self, session_id: str) -> tuple[DialogState, int | None]:
        """The session's state and its store version (a new state and None if none)."""
        entry = await self.store.get(self.key(session_id))
        if entry is None:
            return self.engine.new_state(), None
        try:
            return msgspec.convert(entry.value, DialogState), entry.version
        except msgspec.ValidationError as exc:
            # Written by another voicehook version, or by hand: start over, but say so.
            logger.warning(
                "dialog session %r: stored state is not readable (%s); starting a new one",
                session_id,
                exc,
            )
            return self.engine.new_state(), entry.version

    async def state(self, session_id: str) -> DialogState:
        """The session's current state (a new state when none is stored)."""
        return (await self.load(session_id))[0]

    async def forget(self, session_id: str) -> bool:
        """Delete the session's state. Returns False when there was none."""
        return await self.store.delete(self.key(session_id))

    async def turn(
        self,
        session_id: str,
        user_input: TurnInput | str,
        *,
        user_key: str | None = None,
        channel: str = "nugu",
        device: DeviceState | None = None,
    ) -> TurnResult:
        """Run one turn of ``session_id`` and save the new state.

        ``device`` is the device's state as the channel reports it (CLOVA's AudioPlayer
        context); it is not stored: the device, not the conversation, owns it.

        The session id is the channel's conversation id: the play sees it as
        ``req.session.id``. ``user_key`` and ``channel`` reach the handlers as
        ``req.user_key`` and ``req.channel``.

        Raises :class:`DialogConflict` (see the module doc), ``StoreUnavailable`` when the
        store is down (before the turn runs, or after it when the save fails).
        """
        if isinstance(user_input, str):
            user_input = UserText(user_input)
        key = self.key(session_id)
        holder = self._locks.get(session_id)
        if holder is None:
            holder = self._locks[session_id] = _Lock()
        holder.users += 1
        try:
            async with holder.lock:
                return await self._turn(session_id, key, user_input, user_key, channel, device)
        finally:
            holder.users -= 1
            if holder.users == 0:
                del self._locks[session_id]

    async def _turn(
        self,
        session_id: str,
        key: str,
        user_input: TurnInput,
        user_key: str | None,
        channel: str,
        device: DeviceState | None,
    ) -> TurnResult:
        attempt = 0
        while True:
            state, version = await self.load(session_id)
            result = await self.engine.turn(
                state,
                user_input,
                device=device,
                session_id=session_id,
                user_key=user_key,
                channel=channel,
            )
            value: Any = msgspec.to_builtins(result.state)
            try:
                await self.store.put(key, value, version=version, ttl=self.ttl)
            except ConflictError:
                if result.calls:
                    raise DialogConflict(session_id, result) from None
                if attempt >= self.retries:
                    raise
                attempt += 1
                continue
            return result
