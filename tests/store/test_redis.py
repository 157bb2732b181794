"""RedisStore against real redis-server processes on 127.0.0.1: layout, outages, recovery,
Cluster, Sentinel failover, and writes that must not land late."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aioredis

from tests._support.redis_server import (
    RedisCluster,
    RedisSentinel,
    RedisServer,
    command,
    free_port,
    require_redis_server,
)
from voicehook.store import (
    ConflictError,
    Entry,
    RedisStore,
    StoreError,
    StoreUnavailable,
    open_store,
    write_deadline,
)

pytestmark = pytest.mark.redis


@pytest.fixture
async def raw(redis_server: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_server.url)
    yield client
    await client.aclose()


@pytest.fixture
def own_server() -> Iterator[RedisServer]:
    """A server only this test stops and starts."""
    require_redis_server()
    with RedisServer() as server:
        yield server


async def test_layout_prefix_and_ttl(redis_server: RedisServer, raw: aioredis.Redis) -> None:
    store = open_store(redis_server.url + "?prefix=myplay:")
    try:
        await store.put("세션:1", {"n": 1}, ttl=30)
        assert await raw.hgetall("myplay:세션:1") == {b"v": b'{"n":1}', b"n": b"1"}
        assert 0 < await raw.pttl("myplay:세션:1") <= 30_000
        await store.put("세션:1", {"n": 2}, version=1)  # no ttl: persistent now
        assert await raw.pttl("myplay:세션:1") == -1
        assert await store.delete("세션:1") is True
        assert await raw.exists("myplay:세션:1") == 0
    finally:
        await store.aclose()


async def test_scripts_are_reloaded_after_script_flush(
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    store = RedisStore(redis_server.url, prefix="flush:")
    try:
        await store.put("k", 1)
        await raw.script_flush()
        assert await store.put("k", 2, version=1) == 2
        await raw.script_flush()
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
        await asyncio.gather(*(store.put(f"k{i}", i) for i in range(5)))
        # Restart while the event loop keeps running (as in a live server).
        await asyncio.to_thread(own_server.stop)
        await asyncio.to_thread(own_server.start)
        # The old connection is dead; calls must reconnect by themselves.
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
    redis_server: RedisServer, raw: aioredis.Redis
) -> None:
    await raw.set("wt:k", "a plain string")
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


async def test_many_calls_in_one_step_share_one_batch(redis_server: RedisServer) -> None:
    """200 turns at once: all answered in order, each with its own result or conflict."""
    store = RedisStore(redis_server.url, prefix="batch:")
    try:
        versions = await asyncio.gather(*(store.put(f"k{i}", i) for i in range(200)))
        assert versions == [1] * 200
        results = await asyncio.gather(
            *(store.put(f"k{i}", -i, version=1 if i % 2 else 7) for i in range(200)),
            return_exceptions=True,
        )
        for i, r in enumerate(results):
            if i % 2:
                assert r == 2
            else:
                assert isinstance(r, ConflictError) and (r.expected, r.actual) == (7, 1)
        entries = await asyncio.gather(*(store.get(f"k{i}") for i in range(200)))
        assert entries == [Entry(-i if i % 2 else i, 2 if i % 2 else 1) for i in range(200)]
    finally:
        await store.aclose()


# -- Cluster ---------------------------------------------------------------------------


async def test_cluster_spreads_keys_over_the_three_masters(redis_cluster: RedisCluster) -> None:
    store = RedisStore(redis_cluster.url, prefix="spread:")
    try:
        keys = [f"세션:{i}" for i in range(60)]
        assert (
            await asyncio.gather(*(store.put(k, {"i": i}) for i, k in enumerate(keys))) == [1] * 60
        )
        counts = []
        for node in redis_cluster.nodes:
            reply = command(node.port, "DBSIZE")
            counts.append(int(reply[1:].split(b"\r\n")[0]))
        assert len(counts) == 3 and all(c > 0 for c in counts), counts
        assert sum(counts) >= 60
        # Every compare-and-set ran on the node that owns its key.
        assert (
            await asyncio.gather(*(store.put(k, {"i": -i}, version=1) for i, k in enumerate(keys)))
            == [2] * 60
        )
        assert await store.get(keys[7]) == Entry({"i": -7}, 2)
    finally:
        await store.aclose()


# -- Sentinel --------------------------------------------------------------------------


async def test_sentinel_failover_moves_the_store_to_the_new_master() -> None:
    require_redis_server()
    with RedisSentinel(service="failover", down_after=500) as setup:
        assert setup.master is not None and setup.replica is not None
        store = RedisStore(setup.url, prefix="fo:")
        try:
            await store.put("k", "before")
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while command(setup.replica.port, "HGET", "fo:k", "n") != b"$1\r\n1\r\n":
                assert loop.time() < deadline, "the replica did not get the entry"
                await asyncio.sleep(0.05)  # replicated before the master goes away
            old = setup.master_port()
            await asyncio.to_thread(setup.master.stop)
            while await asyncio.to_thread(setup.master_port) == old:
                assert loop.time() < deadline, "no failover within 30 s"
                await asyncio.sleep(0.2)
            assert setup.master_port() == setup.replica.port
            # The store asks the Sentinel again and finds the promoted replica.
            entry = None
            while entry is None:
                try:
                    entry = await store.get("k")
                except StoreUnavailable:
                    assert loop.time() < deadline, "the store did not reach the new master"
                    await asyncio.sleep(0.2)
            assert entry == Entry("before", 1)
            assert await store.put("k", "after", version=1) == 2
        finally:
            await store.aclose()


# -- no late writes ----------------------------------------------------------------------


async def test_a_write_reported_as_failed_is_not_applied_when_redis_resumes(
    own_server: RedisServer,
) -> None:
    """SIGSTOP Redis, write with a 1 s deadline: the write fails at the deadline. SIGCONT:
    Redis runs the queued command, sees it is past its not-after time and refuses it."""
    store = RedisStore(own_server.url, prefix="late:")
    try:
        await store.put("k", {"q": 1})
        os.kill(own_server.pid, signal.SIGSTOP)
        try:
            loop = asyncio.get_running_loop()
            started = time.monotonic()
            with write_deadline(loop.time() + 1.0), pytest.raises(StoreUnavailable):
                await store.put("k", {"q": 2}, version=1)
            assert 0.9 < time.monotonic() - started < 3.0
        finally:
            os.kill(own_server.pid, signal.SIGCONT)
        await asyncio.sleep(0.3)  # Redis works through its socket buffers
        assert await store.get("k") == Entry({"q": 1}, 1)
        assert await store.put("k", {"q": 2}, version=1) == 2  # the next try goes through
    finally:
        await store.aclose()


async def test_a_write_queued_in_a_stopped_redis_lands_when_resumed_in_time(
    own_server: RedisServer,
) -> None:
    """The control for the test above: the same stop, resumed before the not-after time.
    The queued write does run later, and the caller sees it succeed."""
    store = RedisStore(own_server.url, prefix="late-ok:")
    try:
        await store.put("k", {"q": 1})
        os.kill(own_server.pid, signal.SIGSTOP)
        try:
            loop = asyncio.get_running_loop()
            with write_deadline(loop.time() + 3.0):
                task = asyncio.ensure_future(store.put("k", {"q": 2}, version=1))
            await asyncio.sleep(0.5)
            assert not task.done()
        finally:
            os.kill(own_server.pid, signal.SIGCONT)
        assert await task == 2
        assert await store.get("k") == Entry({"q": 2}, 2)
    finally:
        await store.aclose()


async def test_redis_refuses_a_write_that_arrives_after_its_not_after_time(
    own_server: RedisServer,
) -> None:
    """The server-side check itself: with a wide clock margin the client still waits when
    Redis resumes past the not-after time, and gets the refusal."""
    store = RedisStore(own_server.url, prefix="late-refused:", clock_margin=1.5)
    try:
        await store.put("k", 1)
        os.kill(own_server.pid, signal.SIGSTOP)
        try:
            loop = asyncio.get_running_loop()
            with write_deadline(loop.time() + 2.0):  # not after now + 0.5 s
                task = asyncio.ensure_future(store.put("k", 2, version=1))
            await asyncio.sleep(1.0)
        finally:
            os.kill(own_server.pid, signal.SIGCONT)
        with pytest.raises(StoreUnavailable, match="after its deadline"):
            await task
        assert await store.get("k") == Entry(1, 1)
    finally:
        await store.aclose()


async def test_no_time_left_means_no_write(redis_server: RedisServer) -> None:
    store = RedisStore(redis_server.url, prefix="no-time:")
    try:
        loop = asyncio.get_running_loop()
        with write_deadline(loop.time() + 0.05), pytest.raises(StoreUnavailable, match="no time"):
            await store.put("k", 1)
        assert await store.get("k") is None
    finally:
        await store.aclose()


async def test_without_a_deadline_the_store_timeout_bounds_reads_and_writes(
    own_server: RedisServer,
) -> None:
    """No turn deadline: ``timeout`` is the write's budget. A stopped Redis makes both the
    read and the write fail after about ``timeout``; the write never lands afterwards."""
    store = RedisStore(own_server.url, prefix="late-timeout:", timeout=1.0)
    try:
        await store.put("k", 1)
        os.kill(own_server.pid, signal.SIGSTOP)
        try:
            started = time.monotonic()
            read = asyncio.ensure_future(store.get("other"))
            with pytest.raises(StoreUnavailable, match="will not be"):
                await store.put("k", 2, version=1)
            assert 0.9 < time.monotonic() - started < 3.0
            with pytest.raises(StoreUnavailable):
                await read
            assert time.monotonic() - started < 3.0
        finally:
            os.kill(own_server.pid, signal.SIGCONT)
        await asyncio.sleep(0.3)
        assert await store.get("k") == Entry(1, 1)
    finally:
        await store.aclose()


async def test_cluster_write_reported_as_failed_is_not_applied_when_resumed() -> None:
    """The not-after time on a Cluster: all masters stopped for about a second (less than
    the cluster's node timeout, so no node is marked as failed)."""
    require_redis_server(cli=True)
    with RedisCluster(3) as cluster:
        store = RedisStore(cluster.url, prefix="late-cluster:")
        try:
            await store.put("세션:1", {"q": 1})
            for node in cluster.nodes:
                os.kill(node.pid, signal.SIGSTOP)
            try:
                loop = asyncio.get_running_loop()
                started = time.monotonic()
                with write_deadline(loop.time() + 1.0), pytest.raises(StoreUnavailable):
                    await store.put("세션:1", {"q": 2}, version=1)
                assert time.monotonic() - started < 2.0
            finally:
                for node in cluster.nodes:
                    os.kill(node.pid, signal.SIGCONT)
            await asyncio.sleep(0.5)
            entry = None
            loop = asyncio.get_running_loop()
            until = loop.time() + 10
            while entry is None:  # the client may need a fresh connection first
                try:
                    entry = await store.get("세션:1")
                except StoreUnavailable:
                    assert loop.time() < until
                    await asyncio.sleep(0.2)
            assert entry == Entry({"q": 1}, 1)
        finally:
            await store.aclose()
