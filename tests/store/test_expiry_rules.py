"""Expiry to the exact tick and the sweep schedule, with a fake clock (memory and SQLite),
and the exact argument errors every store gives (``check_key``, ``check_ttl``,
``check_version``).

An entry written with ``ttl`` at time ``t`` is gone *at* ``t + ttl``, not one tick later;
expired entries are deleted by a sweep at the first write ``sweep_interval`` seconds after the
previous sweep (memory: see ``repr``; SQLite: the rows in the file).
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from voicehook.store import ConflictError, Entry, MemoryStore, SQLiteStore
from voicehook.store.base import Store, check_key, check_ttl, check_version


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


Factory = Callable[[FakeClock], Store]


@pytest.fixture(params=["memory", "sqlite", "sqlite-thread"])
async def make(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Factory]:
    made: list[Store] = []

    def factory(clock: FakeClock) -> Store:
        store: Store
        if request.param == "memory":
            store = MemoryStore(clock=clock)
        else:
            inline = request.param == "sqlite"
            store = SQLiteStore(tmp_path / "s.db", clock=clock, inline=inline)
        made.append(store)
        return store

    yield factory
    for store in made:
        await store.aclose()


async def test_an_entry_is_gone_exactly_at_its_expiry_time(make: Factory) -> None:
    clock = FakeClock(1000.0)
    store = make(clock)
    await store.put("세션:1", "곧 만료", ttl=2.0)
    clock.now = 1001.999
    assert await store.get("세션:1") == Entry("곧 만료", 1)
    clock.now = 1002.0
    assert await store.get("세션:1") is None


async def test_at_its_expiry_time_an_entry_can_be_created_again(make: Factory) -> None:
    clock = FakeClock(1000.0)
    store = make(clock)
    await store.put("k", "old", ttl=2.0)
    clock.now = 1002.0
    with pytest.raises(ConflictError) as info:
        await store.put("k", "update", version=1)
    assert info.value.actual is None
    assert await store.put("k", "new") == 1
    assert await store.get("k") == Entry("new", 1)


async def test_at_its_expiry_time_an_entry_cannot_be_deleted(make: Factory) -> None:
    clock = FakeClock(1000.0)
    store = make(clock)
    await store.put("a", 1, ttl=2.0)
    await store.put("b", 1, ttl=2.0)
    clock.now = 1002.0
    assert await store.delete("a") is False
    with pytest.raises(ConflictError) as info:
        await store.delete("b", version=1)
    assert (info.value.expected, info.value.actual) == (1, None)


def test_the_memory_sweep_runs_every_interval_from_the_first_write() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock)  # sweep_interval 60 s

    async def run() -> None:
        await store.put("a", 1, ttl=0.5)  # the first write sweeps; the next sweep is at 60 s
        clock.now = 1.0
        await store.put("b", 2)
        assert repr(store) == "MemoryStore(entries=2)"  # "a" expired, not yet swept
        clock.now = 59.9
        await store.put("c", 3)
        assert repr(store) == "MemoryStore(entries=3)"
        clock.now = 60.0
        await store.put("d", 4, ttl=0.5)  # the sweep at 60 s drops "a"
        assert repr(store) == "MemoryStore(entries=3)"
        clock.now = 61.0
        await store.put("e", 5)  # the next sweep is at 120 s: "d" stays until then
        assert repr(store) == "MemoryStore(entries=4)"
        clock.now = 120.0
        await store.put("f", 6)
        assert repr(store) == "MemoryStore(entries=4)"

    asyncio.run(run())


def test_the_memory_sweep_interval_is_configurable() -> None:
    clock = FakeClock(0.0)
    store = MemoryStore(clock=clock, sweep_interval=5.0)

    async def run() -> None:
        await store.put("a", 1, ttl=1.0)
        clock.now = 5.0
        await store.put("b", 2)
        assert repr(store) == "MemoryStore(entries=1)"

    asyncio.run(run())


async def test_the_sqlite_sweep_runs_every_interval_from_the_first_write(tmp_path: Path) -> None:
    clock = FakeClock(1000.0)
    path = tmp_path / "s.db"
    store = SQLiteStore(path, clock=clock)  # sweep_interval 60 s

    def rows() -> list[str]:
        with sqlite3.connect(path) as conn:
            return sorted(r[0] for r in conn.execute("SELECT key FROM voicehook_kv"))

    try:
        await store.put("a", 1, ttl=0.5)  # the first write sweeps; the next at 1060
        clock.now = 1059.9
        await store.put("b", 2)
        await store.aclose()  # waits for the background sweep; the next call reopens
        assert rows() == ["a", "b"]
        clock.now = 1060.0
        await store.put("c", 3)
        await store.aclose()  # waits for the background sweep; the next call reopens
        assert rows() == ["b", "c"]
    finally:
        await store.aclose()


# -- argument errors -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "error", "message"),
    [
        (1, TypeError, "store keys must be str, got int: 1"),
        (b"k", TypeError, "store keys must be str, got bytes: b'k'"),
        ("", ValueError, "store keys must not be empty"),
    ],
)
def test_key_errors(key: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        check_key(key)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("ttl", "error", "message"),
    [
        (True, TypeError, "ttl must be a number of seconds or None, got True"),
        ("5", TypeError, "ttl must be a number of seconds or None, got '5'"),
        (0, ValueError, "ttl must be a finite number of seconds > 0, got 0"),
        (float("nan"), ValueError, "ttl must be a finite number of seconds > 0, got nan"),
    ],
)
def test_ttl_errors(ttl: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        check_ttl(ttl)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("version", "error", "message"),
    [
        (1.0, TypeError, "version must be an int or None, got 1.0"),
        (True, TypeError, "version must be an int or None, got True"),
        (0, ValueError, "version must be >= 1, got 0"),
    ],
)
def test_version_errors(version: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error) as info:
        check_version(version)
    assert str(info.value) == message


def test_a_small_ttl_is_kept_as_seconds() -> None:
    assert check_ttl(0.001) == 0.001 and type(check_ttl(3)) is float
