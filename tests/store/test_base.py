"""The store interface helpers: update() retries, errors, argument checks."""

from __future__ import annotations

import asyncio
import pickle
from pathlib import Path
from typing import Any

import pytest

from voicehook.store import (
    ConflictError,
    Entry,
    MemoryStore,
    RedisStore,
    SQLiteStore,
    Store,
    StoreError,
    StoreUnavailable,
    update,
)
from voicehook.store.base import check_key, check_ttl, check_version


class YieldingStore(MemoryStore):
    """A MemoryStore that lets other tasks run inside get and put, like a real backend."""

    async def get(self, key: str) -> Entry | None:
        await asyncio.sleep(0)
        return await super().get(key)

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        await asyncio.sleep(0)
        return await super().put(key, value, version=version, ttl=ttl)


class MeddlingStore(MemoryStore):
    """Another writer changes the key between our get and our put, ``times`` times."""

    def __init__(self, times: int) -> None:
        super().__init__()
        self.times = times

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        if self.times > 0:
            self.times -= 1
            current = await self.get(key)
            await super().put(key, "meddled", version=None if current is None else current.version)
        return await super().put(key, value, version=version, ttl=ttl)


async def test_update_creates_then_modifies() -> None:
    store = MemoryStore()
    assert await update(store, "방문", lambda n: n + 1, default=0) == Entry(1, 1)
    assert await update(store, "방문", lambda n: n + 1, default=0) == Entry(2, 2)
    assert await store.get("방문") == Entry(2, 2)


async def test_update_retries_after_conflicts_and_rereads() -> None:
    store = MeddlingStore(times=3)
    seen: list[Any] = []

    def fn(value: Any) -> str:
        seen.append(value)
        return "mine"

    entry = await update(store, "k", fn, retries=3)
    assert entry == Entry("mine", 4)
    # The first call saw no entry; each retry saw the other writer's value.
    assert seen == [None, "meddled", "meddled", "meddled"]


async def test_update_gives_up_after_retries() -> None:
    store = MeddlingStore(times=10)
    with pytest.raises(ConflictError) as info:
        await update(store, "k", lambda v: "mine", retries=2)
    assert info.value.key == "k"
    assert store.times == 7  # 3 attempts, each met by a meddling write


async def test_update_accepts_async_functions_and_ttl() -> None:
    store = MemoryStore()

    async def fn(value: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(0)
        value["turns"] = value.get("turns", 0) + 1
        return value

    assert await update(store, "s", fn, default={}, ttl=30) == Entry({"turns": 1}, 1)


async def test_update_does_not_mutate_the_default() -> None:
    store = MeddlingStore(times=0)
    default: dict[str, list[int]] = {"items": []}

    def fn(value: dict[str, list[int]]) -> dict[str, list[int]]:
        value["items"].append(1)
        return value

    await update(store, "a", fn, default=default)
    await update(store, "b", fn, default=default)
    assert default == {"items": []}
    assert await store.get("b") == Entry({"items": [1]}, 1)


async def test_concurrent_updates_with_interleaving_lose_nothing() -> None:
    store = YieldingStore()
    n = 30
    await asyncio.gather(
        *(update(store, "c", lambda v: v + 1, default=0, retries=n) for _ in range(n))
    )
    assert await store.get("c") == Entry(n, n)


async def test_update_rejects_negative_retries() -> None:
    with pytest.raises(ValueError):
        await update(MemoryStore(), "k", lambda v: v, retries=-1)


def test_conflict_error_message_and_pickling() -> None:
    err = ConflictError("세션:1", 3, 5)
    assert str(err) == "version conflict on key '세션:1': expected version 3, found version 5"
    assert str(ConflictError("k", None, 2)) == (
        "version conflict on key 'k': expected no entry (create), found version 2"
    )
    copy = pickle.loads(pickle.dumps(err))  # noqa: S301 (our own bytes)
    assert (copy.key, copy.expected, copy.actual) == ("세션:1", 3, 5)
    assert isinstance(err, StoreError) and issubclass(StoreUnavailable, StoreError)


@pytest.mark.parametrize(("key", "error"), [(1, TypeError), (b"k", TypeError), ("", ValueError)])
def test_bad_keys(key: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_key(key)


@pytest.mark.parametrize(
    ("ttl", "error"),
    [
        (0, ValueError),
        (-1.0, ValueError),
        (float("inf"), ValueError),
        (True, TypeError),
        ("5", TypeError),
    ],
)
def test_bad_ttls(ttl: Any, error: type[Exception]) -> None:
    with pytest.raises(error):
        check_ttl(ttl)


def test_good_ttl_and_version() -> None:
    assert check_ttl(2) == 2.0 and check_ttl(None) is None
    assert check_version(None) is None and check_version(7) == 7
    with pytest.raises(TypeError):
        check_version(True)


def test_backends_satisfy_the_protocol(tmp_path: Path) -> None:
    for store in (MemoryStore(), SQLiteStore(tmp_path / "x.db"), RedisStore()):
        assert isinstance(store, Store)
    # Construction did no I/O.
    assert not (tmp_path / "x.db").exists()
