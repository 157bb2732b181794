"""Run the conformance kit on the built-in backends (Redis: standalone, Cluster, Sentinel)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests._support.redis_server import RedisCluster, RedisSentinel, RedisServer
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


@pytest.mark.redis
class TestRedisClusterStore(StoreConformance):
    """Redis Cluster with 3 masters: keys spread over the nodes; MOVED handled by redis-py."""

    @pytest.fixture
    async def store(self, redis_cluster: RedisCluster) -> AsyncIterator[RedisStore]:
        store = RedisStore(redis_cluster.url, prefix="test:")
        await store.open()
        yield store
        await store.aclose()


@pytest.mark.redis
class TestRedisSentinelStore(StoreConformance):
    """The master that a Sentinel names."""

    @pytest.fixture
    async def store(self, redis_sentinel: RedisSentinel) -> AsyncIterator[RedisStore]:
        store = RedisStore(redis_sentinel.url, prefix="test:")
        await store.open()
        yield store
        await store.aclose()
