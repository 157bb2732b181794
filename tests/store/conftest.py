"""Fixtures for the store tests: real redis-server processes on 127.0.0.1 (session-wide).

- ``redis_server``: one standalone server.
- ``redis_cluster``: a 3-master Redis Cluster made with ``redis-cli --cluster create``.
- ``redis_sentinel``: a master, a replica and one Sentinel.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.redis_server import (
    RedisCluster,
    RedisSentinel,
    RedisServer,
    redis_cli_binary,
    redis_server_binary,
)


def _need_redis() -> None:
    if redis_server_binary() is None or redis_cli_binary() is None:
        pytest.skip("redis-server / redis-cli not found (apt-get install redis-server)")


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session. Tests use random keys, so they can share it."""
    _need_redis()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-master cluster for the whole session."""
    _need_redis()
    with RedisCluster(3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    """A Sentinel setup for the whole session (tests that fail over make their own)."""
    _need_redis()
    with RedisSentinel() as sentinel:
        yield sentinel
