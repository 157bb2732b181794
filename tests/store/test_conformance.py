"""Run the conformance kit on the three built-in backends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests._support.redis_server import RedisServer
from voicehook.store import MemoryStore, RedisStore, SQLiteStore
from voicehook.store.conformance import StoreConformance


class TestMemoryStore(StoreConformance):
    @pytest.fixture
    async def store(self) -> AsyncIterator[MemoryStore]:
        store = MemoryStore()
        yield store
        await store.aclose()


class TestSQLiteStore(StoreConformance):
    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "state.db")
        await store.open()
        yield store
        await store.aclose()


class TestSQLiteStoreThreadOnly(StoreConformance):
    """The same file store with every call on its thread (``inline=False``)."""

    @pytest.fixture
    async def store(self, tmp_path: Path) -> AsyncIterator[SQLiteStore]:
        store = SQLiteStore(tmp_path / "state.db", inline=False)
        yield store  # opened lazily by the first call
        await store.aclose()


@pytest.mark.redis
class TestRedisStore(StoreConformance):
    @pytest.fixture
    async def store(self, redis_server: RedisServer) -> AsyncIterator[RedisStore]:
        store = RedisStore(redis_server.url, prefix="test:")
        await store.open()
        yield store
        await store.aclose()
