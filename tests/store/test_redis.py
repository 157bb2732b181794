"""RedisStore against a real redis-server on 127.0.0.1: layout, outages, recovery."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import pytest

from tests._support.redis_server import RedisServer, free_port, require_redis_server
from voicehook.store import (
    ConflictError,
    Entry,
    RedisStore,
    StoreError,
    StoreUnavailable,
    open_store,
)
from voicehook.store._resp import RedisAddress, RespClient
from voicehook.store.redis import _Script

pytestmark = pytest.mark.redis


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[RespClient]:
    client = RespClient(RedisAddress.from_url(redis_server.url))
    yield client
    await client.aclose()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server only this test stops and starts."""
    require_redis_server()
    with RedisServer() as server:
        yield server


async def test_layout_prefix_and_ttl(redis_server: RedisServer, raw: RespClient) -> None:
    store = open_store(redis_server.url + "?prefix=myplay:")
    try:
        await store.put("세션:1", {"n": 1}, ttl=30)
        assert await raw.execute("HGETALL", "myplay:세션:1") == [b"v", b'{"n":1}', b"n", b"1"]
        assert 0 < await raw.execute("PTTL", "myplay:세션:1") <= 30_000
        await store.put("세션:1", {"n": 2}, version=1)  # no ttl: persistent now
        assert await raw.execute("PTTL", "myplay:세션:1") == -1
        assert await store.delete("세션:1") is True
        assert await raw.execute("EXISTS", "myplay:세션:1") == 0
    finally:
        await store.aclose()


async def test_scripts_are_reloaded_after_script_flush(
    redis_server: RedisServer, raw: RespClient
) -> None:
    store = RedisStore(redis_server.url, prefix="flush:")
    try:
        await store.put("k", 1)
        await raw.execute("SCRIPT", "FLUSH")
        assert await store.put("k", 2, version=1) == 2
        await raw.execute("SCRIPT", "FLUSH")
        with pytest.raises(ConflictError):
            await store.delete("k", version=1)
        assert await store.delete("k", version=2) is True
    finally:
        await store.aclose()


async def test_nothing_listening_is_unavailable_with_address() -> None:
    port = free_port()
    store = RedisStore(f"redis://127.0.0.1:{port}/0")
    try:
        for call in (store.ping(), store.get("k"), store.put("k", 1), store.delete("k")):
            with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{port}"):
                await call
    finally:
        await store.aclose()


async def test_outage_and_automatic_recovery(own_server: RedisServer) -> None:
    store = RedisStore(own_server.url)
    try:
        await store.put("k", "before")
        assert await store.get("k") == Entry("before", 1)

        own_server.stop()
        with pytest.raises(StoreUnavailable, match=f"127.0.0.1:{own_server.port}"):
            await store.ping()
        with pytest.raises(StoreUnavailable):
            await store.get("k")
        with pytest.raises(StoreUnavailable):
            await store.put("k", "during", version=1)

        own_server.start()  # same port, empty (no persistence)
        await store.ping()
        assert await store.get("k") is None
        assert await store.put("k", "after") == 1
        assert await store.get("k") == Entry("after", 1)
    finally:
        await store.aclose()


async def test_restart_between_calls_reconnects_without_error(own_server: RedisServer) -> None:
    store = RedisStore(own_server.url)
    try:
        await asyncio.gather(*(store.put(f"k{i}", i) for i in range(5)))  # pooled connections
        # Restart while the event loop keeps running (as in a live server).
        await asyncio.to_thread(own_server.stop)
        await asyncio.to_thread(own_server.start)
        # The old pooled connections are dead; calls must reconnect by themselves.
        assert await asyncio.gather(*(store.put(f"k{i}", i) for i in range(5))) == [1] * 5
        assert await store.get("k0") == Entry(0, 1)
    finally:
        await store.aclose()


async def test_get_retries_once_on_a_dead_pooled_connection(own_server: RedisServer) -> None:
    store = RedisStore(own_server.url)
    try:
        await store.put("k", 1)
        own_server.stop()  # blocks the loop: the client cannot notice the closed socket
        own_server.start()
        assert await store.get("k") is None  # reads are safe to repeat, so this one does
    finally:
        await store.aclose()


async def test_wrong_type_at_key_is_a_store_error(
    redis_server: RedisServer, raw: RespClient
) -> None:
    await raw.execute("SET", "wt:k", "a plain string")
    store = RedisStore(redis_server.url, prefix="wt:")
    try:
        with pytest.raises(StoreError, match="WRONGTYPE") as info:
            await store.get("k")
        # A plain StoreError (the server answered), not StoreUnavailable (it is down).
        assert type(info.value) is StoreError
        assert str(info.value).startswith(f"Redis at {store.address} failed: ")
    finally:
        await store.aclose()


def test_works_under_uvloop(redis_server: RedisServer) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        store = RedisStore(redis_server.url, prefix="uvloop:")
        try:
            await store.put("k", {"n": 1})
            assert await store.get("k") == Entry({"n": 1}, 1)
            await store.delete("k")
        finally:
            await store.aclose()

    uvloop.run(main())


async def test_script_sha_is_the_one_redis_computes(raw: RespClient) -> None:
    """The scripts are built at import, so mutmut never mutates them in a test; this builds
    one here and checks it against Redis's own SCRIPT LOAD. Kills the ``_Script`` mutants."""
    source = "return redis.call('PING')"
    script = _Script(source)
    assert script.source == source.encode()
    assert script.sha == await raw.execute("SCRIPT", "LOAD", source)
    assert await script(raw, "any-key") == b"PONG"
