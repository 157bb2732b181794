"""Fixtures for the store tests: a real redis-server on 127.0.0.1 (session-wide)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.redis_server import RedisServer, redis_server_binary


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session. Tests use random keys, so they can share it."""
    if redis_server_binary() is None:
        pytest.skip("redis-server binary not found (apt-get install redis-server)")
    with RedisServer() as server:
        yield server
