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
    require_redis_server,
)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session. Tests use random keys, so they can share it."""
    require_redis_server()
    with RedisServer() as server:
        yield server


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[RedisCluster]:
    """A 3-master cluster for the whole session."""
    require_redis_server(cli=True)
    with RedisCluster(3) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def redis_sentinel() -> Iterator[RedisSentinel]:
    """A Sentinel setup for the whole session (tests that fail over make their own)."""
    require_redis_server(cli=True)
    with RedisSentinel() as sentinel:
        yield sentinel
