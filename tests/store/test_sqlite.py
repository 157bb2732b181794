"""SQLiteStore specifics: expiry with a fake clock, sweeping, locking, several processes."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from voicehook.store import ConflictError, Entry, SQLiteStore, StoreUnavailable


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def row_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM voicehook_kv").fetchone()[0])


async def test_file_is_created_on_open_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    assert not path.exists()
    await store.open()
    try:
        assert path.exists()
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        await store.aclose()


async def test_data_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    await store.put("세션:1", {"단계": "주문"})
    await store.aclose()
    again = SQLiteStore(path)
    try:
        assert await again.get("세션:1") == Entry({"단계": "주문"}, 1)
    finally:
        await again.aclose()


async def test_expiry_follows_the_clock_and_rows_are_swept(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "state.db"
    store = SQLiteStore(path, clock=clock, sweep_interval=100)
    try:
        for i in range(5):
            await store.put(f"temp{i}", i, ttl=10)
        await store.put("keep", "forever")
        clock.now += 9.9
        assert await store.get("temp0") == Entry(0, 1)
        clock.now += 0.2
        assert await store.get("temp0") is None  # invisible, and deleted on read
        assert row_count(path) == 5
        assert await store.sweep() == 4
        assert row_count(path) == 1
        assert await store.get("keep") == Entry("forever", 1)
    finally:
        await store.aclose()


async def test_periodic_sweep_runs_after_a_write(tmp_path: Path) -> None:
    clock = FakeClock()
    path = tmp_path / "state.db"
    store = SQLiteStore(path, clock=clock, sweep_interval=60)
    try:
        await store.put("old", 1, ttl=1)  # first write: schedules a sweep (nothing expired)
        clock.now += 61
        await store.put("new", 2)  # past the interval: the sweep deletes "old"
        await store.aclose()  # waits for background work
        assert row_count(path) == 1
    finally:
        await store.aclose()


async def test_two_stores_on_one_file_see_each_other(tmp_path: Path) -> None:
    a = SQLiteStore(tmp_path / "s.db")
    b = SQLiteStore(tmp_path / "s.db", inline=False)
    try:
        await a.put("k", "from a")
        assert await b.get("k") == Entry("from a", 1)
        await b.put("k", "from b", version=1)
        with pytest.raises(ConflictError):
            await a.put("k", "stale", version=1)
        assert await a.get("k") == Entry("from b", 2)
    finally:
        await a.aclose()
        await b.aclose()


@contextlib.contextmanager
def write_lock_held(path: Path) -> Iterator[threading.Event]:
    """Another connection holds the write lock until the block ends or ``release`` is set."""
    locked, release = threading.Event(), threading.Event()
    holder = threading.Thread(target=hold_write_lock, args=(path, locked, release))
    holder.start()
    try:
        assert locked.wait(5)
        yield release
    finally:
        release.set()
        holder.join()


def hold_write_lock(path: Path, locked: threading.Event, release: threading.Event) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(10)
        conn.execute("COMMIT")
    finally:
        conn.close()


async def test_write_waits_for_another_writer_on_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    await store.open()
    try:
        with write_lock_held(path) as release:
            write = asyncio.create_task(store.put("k", "v"))
            # The loop is free while the write waits for the lock (it went to the thread).
            for _ in range(5):
                await asyncio.sleep(0.01)
            assert not write.done()
            assert await store.get("other") is None  # reads are not blocked by the writer
            release.set()
            assert await write == 1
    finally:
        await store.aclose()


async def test_lock_held_longer_than_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    await store.open()
    with write_lock_held(path), pytest.raises(StoreUnavailable, match="locked"):
        await store.put("k", "v")
    try:
        assert await store.put("k", "v") == 1  # fine again once the lock is gone
    finally:
        await store.aclose()


async def test_missing_directory_is_unavailable(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "no" / "such" / "dir.db")
    with pytest.raises(StoreUnavailable, match="does not exist"):
        await store.get("k")
    with pytest.raises(StoreUnavailable):
        await store.ping()


async def test_closed_store_reopens_lazily(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    await store.put("k", 1)
    await store.aclose()
    await store.aclose()  # twice is fine
    assert await store.get("k") == Entry(1, 1)
    await store.aclose()


def test_bad_table_name() -> None:
    with pytest.raises(ValueError, match="identifier"):
        SQLiteStore("x.db", table="kv; DROP TABLE x")


WORKER = textwrap.dedent(
    """
    import asyncio, sys
    from voicehook.store import SQLiteStore, update

    async def main(path, tasks, per_task, start_file, inline):
        store = SQLiteStore(path, inline=inline == "inline")
        await store.open()
        import os, time
        deadline = time.monotonic() + 20
        while not os.path.exists(start_file) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

        async def worker():
            for _ in range(per_task):
                await update(store, "counter", lambda n: n + 1, default=0, retries=1000)

        await asyncio.gather(*(worker() for _ in range(tasks)))
        await store.aclose()

    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]))
    """
)


@pytest.mark.slow
async def test_two_processes_increment_one_counter_exactly(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    start = tmp_path / "go"
    store = SQLiteStore(path)
    await store.open()  # create the file and table before the race
    # Enough work that the two processes overlap for a while (a version of the store
    # without the version check in its UPDATE loses about half of these increments).
    tasks, per_task = 4, 250
    args = [str(path), str(tasks), str(per_task), str(start)]
    procs = [
        subprocess.Popen([sys.executable, "-c", WORKER, *args, mode], stderr=subprocess.PIPE)
        for mode in ("inline", "thread")
    ]
    await asyncio.sleep(0.3)  # let both import and open; correctness does not depend on it
    start.touch()
    for proc in procs:
        _, err = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, err.decode()
    try:
        entry = await store.get("counter")
        assert entry is not None
        assert entry.value == 2 * tasks * per_task
        assert entry.version == 2 * tasks * per_task
    finally:
        await store.aclose()


async def test_sweep_pages_through_many_expired_rows(tmp_path: Path) -> None:
    from voicehook.store.sqlite import _SQL, _sweep

    clock = FakeClock()
    path = tmp_path / "s.db"
    store = SQLiteStore(path, clock=clock)
    try:
        for i in range(7):
            await store.put(f"old{i}", i, ttl=1)
        for i in range(3):
            await store.put(f"live{i}", i)
        await store.put("later", 0, ttl=100)
    finally:
        await store.aclose()
    with sqlite3.connect(path, isolation_level=None) as conn:
        assert _sweep(conn, _SQL("voicehook_kv"), clock.now + 2, batch=2) == 7
        keys = sorted(row[0] for row in conn.execute("SELECT key FROM voicehook_kv"))
    assert keys == ["later", "live0", "live1", "live2"]


def test_works_under_uvloop(tmp_path: Path) -> None:
    uvloop = pytest.importorskip("uvloop")

    async def main() -> None:
        store = SQLiteStore(tmp_path / "s.db")
        try:
            await store.put("k", {"n": 1})
            assert await store.get("k") == Entry({"n": 1}, 1)
        finally:
            await store.aclose()

    uvloop.run(main())


# -- group commit: the puts of one event-loop iteration share one transaction ----------


async def test_batched_puts_each_get_their_own_result(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        for i in range(4):
            await store.put(f"k{i}", 0)
        # One loop iteration: all of these wait for the same flush.
        results = await asyncio.gather(
            store.put("k0", 1, version=1),
            store.put("k1", 1, version=7),  # wrong version: only this one fails
            store.put("k2", 1, version=1),
            store.put("k3", 1),  # create, but it exists: fails too
            store.put("new", 1),
            store.put("k2", 2, version=1),  # the same key twice: the second one conflicts
            return_exceptions=True,
        )
        assert results[0] == 2 and results[2] == 2 and results[4] == 1
        for i, actual in ((1, 1), (3, 1), (5, 2)):
            err = results[i]
            assert isinstance(err, ConflictError)
            assert err.actual == actual
        assert await store.get("k0") == Entry(1, 2)
        assert await store.get("k1") == Entry(0, 1)
        assert await store.get("k2") == Entry(1, 2)
        assert await store.get("new") == Entry(1, 1)
    finally:
        await store.aclose()


async def test_batched_puts_keep_ttl_and_expiry(tmp_path: Path) -> None:
    clock = FakeClock()
    store = SQLiteStore(tmp_path / "s.db", clock=clock)
    try:
        await store.put("old", "a", ttl=1)
        clock.now += 2  # "old" expired: a create may take the key again
        assert await asyncio.gather(
            store.put("old", "b"), store.put("short", 1, ttl=5), store.put("long", 1)
        ) == [1, 1, 1]
        clock.now += 10
        assert await store.get("short") is None
        assert await store.get("old") == Entry("b", 1)
        assert await store.get("long") == Entry(1, 1)
    finally:
        await store.aclose()


def refuse_key_bad(path: Path) -> None:
    """Make every insert of the key 'bad' fail with an SQL error (a trigger)."""
    with sqlite3.connect(path, isolation_level=None) as conn:
        conn.execute(
            "CREATE TRIGGER no_bad BEFORE INSERT ON voicehook_kv WHEN NEW.key = 'bad' "
            "BEGIN SELECT RAISE(ABORT, 'bad key'); END"
        )


async def test_a_failing_statement_does_not_undo_the_others_of_its_batch(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    await store.open()
    refuse_key_bad(path)
    try:
        results = await asyncio.gather(
            store.put("a", 1), store.put("bad", 1), store.put("b", 1), return_exceptions=True
        )
        assert results[0] == 1 and results[2] == 1
        assert isinstance(results[1], StoreUnavailable)
        assert "bad key" in str(results[1])
        assert await store.get("a") == Entry(1, 1)
        assert await store.get("b") == Entry(1, 1)
        assert await store.get("bad") is None
    finally:
        await store.aclose()


async def test_a_cancelled_put_that_has_not_run_is_not_written(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        await store.open()
        kept = asyncio.create_task(store.put("kept", 1))
        dropped = asyncio.create_task(store.put("dropped", 1))
        await asyncio.sleep(0)  # both are waiting for the flush now
        dropped.cancel()
        assert await kept == 1
        with pytest.raises(asyncio.CancelledError):
            await dropped
        assert await store.get("dropped") is None
    finally:
        await store.aclose()


async def test_a_batch_waits_for_another_writer_on_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    await store.put("a", 0)
    with write_lock_held(path) as release:
        writes = asyncio.gather(
            store.put("a", 1, version=1),
            store.put("b", 1),
            store.put("a", 2),  # create, but "a" exists: conflicts
            return_exceptions=True,
        )
        for _ in range(5):
            await asyncio.sleep(0.01)
        assert not writes.done()  # the loop is free: the batch waits on the thread
        assert await store.get("a") == Entry(0, 1)
        release.set()
        results = await writes
        assert results[:2] == [2, 1]
        assert isinstance(results[2], ConflictError)
        assert results[2].actual == 2
    try:
        assert await store.get("a") == Entry(1, 2)
        assert await store.get("b") == Entry(1, 1)
    finally:
        await store.aclose()


async def test_a_batch_locked_longer_than_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    await store.open()
    with write_lock_held(path):
        results = await asyncio.gather(store.put("a", 1), store.put("b", 1), return_exceptions=True)
        for r in results:
            assert isinstance(r, StoreUnavailable)
            assert "locked" in str(r)
    try:
        assert await asyncio.gather(store.put("a", 1), store.put("b", 1)) == [1, 1]
    finally:
        await store.aclose()


async def test_aclose_flushes_waiting_puts(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    await store.open()
    write = asyncio.create_task(store.put("k", 1))
    await asyncio.sleep(0)  # waiting for the flush
    await store.aclose()
    assert await write == 1
    assert row_count(path) == 1


MANY_KEYS_WORKER = textwrap.dedent(
    """
    import asyncio, os, sys, time
    from voicehook.store import SQLiteStore, update

    async def main(path, start_file, keys, tasks, per_task):
        store = SQLiteStore(path)
        await store.open()
        deadline = time.monotonic() + 20
        while not os.path.exists(start_file) and time.monotonic() < deadline:
            await asyncio.sleep(0.001)

        async def worker(n):
            for i in range(per_task):
                key = f"c{(n + i) % keys}"
                await store.get(f"c{(n + i + 1) % keys}")  # reads between the writes
                await update(store, key, lambda v: v + 1, default=0, retries=10_000)

        await asyncio.gather(*(worker(n) for n in range(tasks)))
        await store.aclose()

    asyncio.run(main(sys.argv[1], sys.argv[2], *map(int, sys.argv[3:])))
    """
)


@pytest.mark.slow
async def test_two_processes_batching_on_several_keys_count_exactly(tmp_path: Path) -> None:
    # Many tasks per process, so each flush holds several puts (some on the same key) while
    # the other process writes the same keys.
    path = tmp_path / "shared.db"
    start = tmp_path / "go"
    store = SQLiteStore(path)
    await store.open()
    keys, tasks, per_task = 4, 16, 60
    args = [str(path), str(start), str(keys), str(tasks), str(per_task)]
    procs = [
        subprocess.Popen([sys.executable, "-c", MANY_KEYS_WORKER, *args], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    await asyncio.sleep(0.3)
    start.touch()
    for proc in procs:
        _, err = await asyncio.to_thread(proc.communicate, timeout=60)
        assert proc.returncode == 0, err.decode()
    try:
        total = 0
        for i in range(keys):
            entry = await store.get(f"c{i}")
            assert entry is not None
            assert entry.value == entry.version
            total += entry.value
        assert total == 2 * tasks * per_task
    finally:
        await store.aclose()


async def test_a_failing_statement_in_a_batch_on_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path)
    await store.open()
    refuse_key_bad(path)
    with write_lock_held(path) as release:
        writes = asyncio.gather(
            store.put("a", 1), store.put("bad", 1), store.put("b", 1), return_exceptions=True
        )
        await asyncio.sleep(0.02)
        release.set()  # the batch, waiting on the thread, runs now
        results = await writes
        assert results[0] == 1 and results[2] == 1
        assert isinstance(results[1], StoreUnavailable)
        assert "bad key" in str(results[1])
    try:
        assert await store.get("a") == Entry(1, 1)
        assert await store.get("b") == Entry(1, 1)
        assert await store.get("bad") is None
    finally:
        await store.aclose()


async def test_a_store_error_inside_a_flush_fails_its_puts(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    try:
        await store.open()

        def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        store._resolve = broken  # type: ignore[method-assign]
        results = await asyncio.gather(store.put("a", 1), store.put("b", 1), return_exceptions=True)
        for r in results:
            assert isinstance(r, StoreUnavailable)
            assert "boom" in str(r)
    finally:
        await store.aclose()


_OPENER = """
import asyncio, sys, time
from voicehook.store import SQLiteStore
async def main():
    while time.time() < float(sys.argv[2]):
        pass
    store = SQLiteStore(sys.argv[1])
    await store.open()
    await store.put("k" + sys.argv[3], 1)
    await store.aclose()
asyncio.run(main())
"""


def test_processes_opening_one_new_file_at_once_all_succeed(tmp_path: Path) -> None:
    """Worker processes start together and open one new file at once: switching it to WAL
    can answer "database is locked" without waiting in the busy handler; open retries
    within busy_timeout. (Two `voicehook gateway` processes on one file failed their
    start-up on this; without the retry this test saw 4 of 36 openers fail.)"""
    import time

    for round_ in range(4):
        path = str(tmp_path / f"new-{round_}.db")
        start = time.time() + 1.0
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", _OPENER, path, str(start), str(i)],
                stderr=subprocess.PIPE,
                text=True,
            )
            for i in range(6)
        ]
        failures = []
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            if proc.returncode != 0:
                failures.append(err.strip().splitlines()[-1:])
        assert failures == []
