"""Fixtures for the store tests: a real redis-server on 127.0.0.1 (session-wide)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests._support.redis_server import RedisServer, require_redis_server


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """One redis-server for the whole session. Tests use random keys, so they can share it."""
    require_redis_server()
    with RedisServer() as server:
        yield server
