"""Fixtures for the session-state tests: a store that counts calls, a small play, Redis."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from tests._support.redis_server import RedisServer, require_redis_server
from voicehook import ActionRequest, Play
from voicehook.store import Entry, MemoryStore, Store


class CountingStore:
    """Wraps a store and counts gets and puts. ``yield_on_get`` lets other tasks run after
    each read, so concurrent turns really interleave between their read and their write."""

    def __init__(self, inner: Store | None = None, *, yield_on_get: bool = False) -> None:
        self.inner: Store = inner if inner is not None else MemoryStore()
        self.gets = 0
        self.puts = 0
        self.conflicts = 0
        self.yield_on_get = yield_on_get

    async def open(self) -> None:
        await self.inner.open()

    async def aclose(self) -> None:
        await self.inner.aclose()

    async def ping(self) -> None:
        await self.inner.ping()

    async def get(self, key: str) -> Entry | None:
        self.gets += 1
        entry = await self.inner.get(key)
        if self.yield_on_get:
            await asyncio.sleep(0)
        return entry

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        self.puts += 1
        try:
            return await self.inner.put(key, value, version=version, ttl=ttl)
        except Exception:
            self.conflicts += 1
            raise

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        return await self.inner.delete(key, version=version)


def counter_play(name: str = "counter") -> Play:
    """A play whose handlers use session and user state in different ways."""
    play = Play(name)

    @play.action("noop", backend=["n"])
    async def noop(req: ActionRequest) -> dict[str, str]:
        return {"n": "-"}

    @play.action("peek", backend=["n"])
    async def peek(req: ActionRequest) -> dict[str, object]:
        state = await req.session_state()
        return {"n": state.get("n", 0)}

    @play.action("bump", backend=["n"])
    async def bump(req: ActionRequest) -> dict[str, object]:
        state = await req.session_state()
        state["n"] = state.get("n", 0) + 1
        return {"n": state["n"]}

    @play.action("slow_bump", backend=["n"])
    async def slow_bump(req: ActionRequest) -> dict[str, object]:
        # Load, then wait for the test to let us go on: another turn writes meanwhile.
        state = await req.session_state()
        loaded: asyncio.Event = req.app.resources.loaded  # type: ignore[union-attr]
        go_on: asyncio.Event = req.app.resources.go_on  # type: ignore[union-attr]
        loaded.set()
        await go_on.wait()
        state["n"] = state.get("n", 0) + 100
        return {"n": state["n"]}

    @play.action("atomic_bump", backend=["n"])
    async def atomic_bump(req: ActionRequest) -> dict[str, object]:
        def inc(state: dict[str, Any]) -> dict[str, Any]:
            state["n"] = state.get("n", 0) + 1
            return state

        new = await req.update_session(inc)
        return {"n": new["n"]}

    @play.action("visit", backend=["visits", "user"])
    async def visit(req: ActionRequest) -> dict[str, object]:
        user = await req.user_state()
        if user is None:
            return {"visits": "0", "user": "none"}
        user["visits"] = user.get("visits", 0) + 1
        return {"visits": user["visits"], "user": req.user_key}

    @play.action("boom", backend=["n"])
    async def boom(req: ActionRequest) -> dict[str, object]:
        state = await req.session_state()
        state["n"] = 999
        raise RuntimeError("handler bug after changing the state")

    return play


def private_profile(user_key: str) -> dict[str, Any]:
    """``profile`` of a Private Play request."""
    return {"privatePlay": {"userKey": user_key, "deviceUniqueId": "dev-1"}}


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    require_redis_server()
    with RedisServer() as server:
        yield server
