"""A store in one SQLite file: the embedded default. Safe for several worker processes.

How it works:

- One table ``(key, value, version, expires)``. WAL journal, so readers never wait for
  writers. ``synchronous=NORMAL``: a power cut can lose the last writes, never corrupt.
- Every conditional write is one SQL statement (``UPDATE ... WHERE key=? AND version=?`` or
  ``INSERT ... ON CONFLICT``) checked by its row count, so it is atomic across processes.
- Blocking SQLite calls run on one dedicated thread with one persistent connection.
- Fast path (``inline=True``, the default): a second connection with ``busy_timeout=0`` runs
  the statement right on the event-loop thread. A local read or a small write takes a few
  microseconds, less than a hop to a thread and back. If the database is locked by another
  writer, the call does not wait there: it goes to the thread, which waits up to
  ``busy_timeout``. Checkpoints (the only ``fsync``) also run on the thread.
- Group commit: on the fast path, the puts made during one event-loop iteration wait for a
  flush scheduled with ``call_soon`` and run in one ``BEGIN IMMEDIATE`` ... ``COMMIT``. Each
  put is still its own conditional statement with its own result (a conflict fails only that
  put). Most of a write's cost is taking and releasing the file locks, so a batch costs little
  more than one write. A locked database sends the whole batch to the thread. If the
  transaction fails for another reason, each put runs again on its own. A put cancelled
  before its batch runs is not written.
- Expired rows are invisible at once. They are deleted when read, when the key is created
  again, and by a sweep every ``sweep_interval`` seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import os
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from voicehook.store.base import (
    ConflictError,
    Entry,
    StoreUnavailable,
    check_key,
    check_ttl,
    check_version,
)
from voicehook.store.codec import decode, encode

__all__ = ["SQLiteStore"]

T = TypeVar("T")

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_BUSY_CODES = {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED}
# Write statements on the event-loop connection between two checkpoints on the thread.
_CHECKPOINT_EVERY = 1000


def _is_busy(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return (code & 0xFF) in _BUSY_CODES
    return "locked" in str(exc) or "busy" in str(exc)


class _SQL:
    """The statements for one table name (checked against ``_IDENT`` by the store)."""

    def __init__(self, table: str) -> None:
        def q(template: str) -> str:
            return template.replace("_TABLE_", table)

        # No index on "expires": it would double the pages every write touches. The sweep
        # scans the table instead, as a reader (readers never block writers in WAL mode),
        # and deletes what it found by primary key in short write transactions.
        self.schema = (
            q(
                "CREATE TABLE IF NOT EXISTS _TABLE_ ("
                "key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL, "
                "version INTEGER NOT NULL, expires REAL) WITHOUT ROWID"
            ),
        )
        self.get = q("SELECT value, version, expires FROM _TABLE_ WHERE key = ?")
        self.version = q(
            "SELECT version FROM _TABLE_ WHERE key = ? AND (expires IS NULL OR expires > ?)"
        )
        self.create = q(
            "INSERT INTO _TABLE_ (key, value, version, expires) VALUES (?, ?, 1, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = 1, "
            "expires = excluded.expires "
            "WHERE _TABLE_.expires IS NOT NULL AND _TABLE_.expires <= ?"
        )
        self.update = q(
            "UPDATE _TABLE_ SET value = ?, version = version + 1, expires = ? "
            "WHERE key = ? AND version = ? AND (expires IS NULL OR expires > ?)"
        )
        self.delete = q("DELETE FROM _TABLE_ WHERE key = ? AND (expires IS NULL OR expires > ?)")
        self.delete_version = q(
            "DELETE FROM _TABLE_ WHERE key = ? AND version = ? AND (expires IS NULL OR expires > ?)"
        )
        self.delete_expired_key = q("DELETE FROM _TABLE_ WHERE key = ? AND expires <= ?")
        self.expired_keys = q(
            "SELECT key FROM _TABLE_ WHERE key > ? AND expires IS NOT NULL AND expires <= ? "
            "ORDER BY key LIMIT ?"
        )


class SQLiteStore:
    """Store entries in one SQLite database file.

    Several processes on one machine may open the same file (for example uvicorn workers).
    Do not put the file on a network file system: SQLite locking is not reliable there.

    Args:
        path: the database file. Created with its table on first open.
        table: the table name (letters, digits, ``_``).
        busy_timeout: seconds to wait for another process's write lock before giving up
            with :class:`StoreUnavailable`.
        sweep_interval: seconds between deletions of expired rows.
        inline: run short statements on the event-loop thread when the database is not
            locked (see the module docs). ``False`` sends every call to the thread.
        clock: wall-clock seconds (shared by all processes); replaceable in tests.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        table: str = "voicehook_kv",
        busy_timeout: float = 5.0,
        sweep_interval: float = 60.0,
        inline: bool = True,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not _IDENT.match(table):
            raise ValueError(f"table name must be an SQL identifier, got {table!r}")
        self.path = os.fspath(path)
        self.table = table
        self.busy_timeout = busy_timeout
        self.sweep_interval = sweep_interval
        self.inline = inline
        self._clock = clock
        self._sql = _SQL(table)
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None  # used only on the executor thread
        self._fast: sqlite3.Connection | None = None  # used only on the loop thread
        self._loop_thread = 0
        self._open_lock: asyncio.Lock | None = None
        self._next_sweep = 0.0
        self._fast_writes = 0
        self._tasks: set[asyncio.Future[Any]] = set()
        # Group commit: puts waiting for the next flush (one transaction for all of them).
        self._writes: list[_Write] = []

    def __repr__(self) -> str:
        return f"SQLiteStore({self.path!r})"

    # -- lifecycle -------------------------------------------------------------------

    def _connect(self, timeout: float) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=timeout, isolation_level=None, check_same_thread=False
        )
        try:
            conn.execute("PRAGMA synchronous = NORMAL")
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_sync(self) -> sqlite3.Connection:
        directory = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(directory):
            raise StoreUnavailable(
                f"cannot open SQLite store {self.path!r}: directory {directory!r} does not exist"
            )
        # Processes that start together open one file at once. Switching to WAL (and the
        # first CREATE TABLE) can answer "database is locked" at once, without waiting in
        # the busy handler: try again until the busy timeout is spent.
        give_up = time.monotonic() + self.busy_timeout
        pause = 0.01
        while True:
            conn = self._connect(self.busy_timeout)
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise StoreUnavailable(
                        f"SQLite store {self.path!r} could not switch to WAL mode (got {mode!r})"
                    )
                for stmt in self._sql.schema:
                    conn.execute(stmt)
                return conn
            except sqlite3.OperationalError as exc:
                conn.close()
                if "locked" not in str(exc) or time.monotonic() >= give_up:
                    raise
            except BaseException:
                conn.close()
                raise
            time.sleep(pause)  # on the store's own thread, never the event loop
            pause = min(pause * 2, 0.2)

    async def open(self) -> None:
        """Create the file and table if needed and connect. Safe to call again."""
        if self._conn is not None:
            return
        if self._open_lock is None:
            self._open_lock = asyncio.Lock()
        async with self._open_lock:
            if self._conn is not None:
                return
            executor = concurrent.futures.ThreadPoolExecutor(
                max_workers=1, thread_name_prefix="voicehook-sqlite"
            )
            loop = asyncio.get_running_loop()
            try:
                conn = await loop.run_in_executor(executor, self._open_sync)
                fast = None
                if self.inline:
                    fast = self._connect(0.0)
                    fast.execute("PRAGMA wal_autocheckpoint = 0")
            except sqlite3.Error as e:
                executor.shutdown(wait=False)
                raise StoreUnavailable(f"cannot open SQLite store {self.path!r}: {e}") from e
            except BaseException:
                executor.shutdown(wait=False)
                raise
            self._executor = executor
            self._fast = fast
            self._loop_thread = threading.get_ident()
            self._conn = conn

    async def aclose(self) -> None:
        """Close both connections and stop the thread. The store can be opened again."""
        if self._conn is None or self._executor is None:
            return
        if self._writes:
            self._flush_writes()
        tasks = list(self._tasks)
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        conn, fast, executor = self._conn, self._fast, self._executor
        self._conn = self._fast = self._executor = None
        if fast is not None:
            fast.close()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(executor, conn.close)
        executor.shutdown(wait=False)

    # -- plumbing --------------------------------------------------------------------

    async def _run(self, fn: Callable[[sqlite3.Connection], T], *, inline: bool = True) -> T:
        if self._conn is None:
            await self.open()
        fast = self._fast
        if inline and fast is not None and threading.get_ident() == self._loop_thread:
            try:
                return fn(fast)
            except sqlite3.Error as e:
                if not _is_busy(e):
                    raise StoreUnavailable(f"SQLite store {self.path!r} failed: {e}") from e
            # Locked by another writer: wait for it on the thread, not on the event loop.
        conn, executor = self._conn, self._executor
        if conn is None or executor is None:
            raise StoreUnavailable(f"SQLite store {self.path!r} was closed")
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, fn, conn)
        except sqlite3.Error as e:
            if _is_busy(e):
                raise StoreUnavailable(
                    f"SQLite store {self.path!r} stayed locked for more than "
                    f"{self.busy_timeout} s: {e}"
                ) from e
            raise StoreUnavailable(f"SQLite store {self.path!r} failed: {e}") from e

    def _background(self, fn: Callable[[sqlite3.Connection], Any]) -> None:
        conn, executor = self._conn, self._executor
        if conn is None or executor is None:
            return
        fut = asyncio.get_running_loop().run_in_executor(executor, _quiet, fn, conn)
        self._tasks.add(fut)
        fut.add_done_callback(self._tasks.discard)

    def _after_write(self, now: float) -> None:
        if self._fast is not None:
            self._fast_writes += 1
            if self._fast_writes >= _CHECKPOINT_EVERY:
                self._fast_writes = 0
                self._background(_checkpoint)
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            sql, cutoff = self._sql, now
            self._background(lambda c: _sweep(c, sql, cutoff))

    # -- the store interface ---------------------------------------------------------

    async def ping(self) -> None:
        """Check that the file can be read. Raises :class:`StoreUnavailable`."""
        sql = self._sql.version
        await self._run(lambda c: c.execute(sql, ("", 0.0)).fetchone())

    async def get(self, key: str) -> Entry | None:
        """Return the live entry for ``key`` or ``None``."""
        check_key(key)
        now = self._clock()
        sql = self._sql

        def op(c: sqlite3.Connection) -> tuple[bytes, int] | None:
            row = c.execute(sql.get, (key,)).fetchone()
            if row is None:
                return None
            if row[2] is not None and row[2] <= now:
                c.execute(sql.delete_expired_key, (key, now))
                return None
            return row[0], row[1]

        row = await self._run(op)
        if row is None:
            return None
        return Entry(decode(row[0]), row[1])

    async def put(
        self, key: str, value: Any, *, version: int | None = None, ttl: float | None = None
    ) -> int:
        """Conditional write; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        check_ttl(ttl)
        data = encode(value)
        now = self._clock()
        expires = None if ttl is None else now + ttl
        if self._conn is None:
            await self.open()
        if self._fast is not None and threading.get_ident() == self._loop_thread:
            # Group commit: the puts of one event-loop iteration share one transaction.
            fut = asyncio.get_running_loop().create_future()
            writes = self._writes
            writes.append((key, data, version, expires, now, fut))
            if len(writes) == 1:
                fut.get_loop().call_soon(self._flush_writes)
            result: tuple[int, int | None] = await fut
            new, actual = result
        else:
            item: _Write = (key, data, version, expires, now, None)
            new, actual = await self._run(lambda c: _write(c, self._sql, item), inline=False)
        if new == 0:
            raise ConflictError(key, version, actual)
        self._after_write(now)
        return new

    def _flush_writes(self) -> None:
        """Run the waiting puts in one transaction on the event-loop connection.

        Each put is its own conditional statement with its own result, so a conflict affects
        only that put. If the database is locked, the batch waits on the thread instead. If
        the transaction fails otherwise, each put runs again on its own.
        """
        batch = [w for w in self._writes if not w[5].cancelled()]  # type: ignore[union-attr]
        self._writes = []
        if not batch:
            return
        try:
            fast = self._fast
            if fast is None:
                self._to_thread(batch)
                return
            try:
                results = _write_each(fast, self._sql, batch)
            except sqlite3.Error:  # locked by another writer: wait on the thread
                self._to_thread(batch)
                return
            self._resolve(batch, results, inline=True)
        except Exception as e:  # never leave a caller waiting
            _fail(batch, functools.partial(self._failed, e))

    def _to_thread(self, batch: list[_Write]) -> None:
        conn, executor = self._conn, self._executor
        if conn is None or executor is None:
            _fail(batch, self._closed)
            return
        job = asyncio.get_running_loop().run_in_executor(
            executor, _write_each, conn, self._sql, batch
        )

        def done(job: asyncio.Future[list[_Result]]) -> None:
            if job.cancelled():
                _fail(batch, self._closed)
                return
            exc = job.exception()
            if exc is None:
                self._resolve(batch, job.result(), inline=False)
            else:
                _fail(batch, functools.partial(self._failed, exc))

        self._tasks.add(job)
        job.add_done_callback(self._tasks.discard)
        job.add_done_callback(done)

    def _resolve(self, batch: list[_Write], results: list[_Result], *, inline: bool) -> None:
        for w, res in zip(batch, results, strict=True):
            fut = w[5]
            if fut is None or fut.done():
                continue
            if not isinstance(res, sqlite3.Error):
                fut.set_result(res)
            elif inline and _is_busy(res):
                self._to_thread([w])
            else:
                fut.set_exception(self._failed(res))

    def _closed(self) -> StoreUnavailable:
        return StoreUnavailable(f"SQLite store {self.path!r} was closed")

    def _failed(self, e: BaseException) -> StoreUnavailable:
        if isinstance(e, sqlite3.Error) and _is_busy(e):
            err = StoreUnavailable(
                f"SQLite store {self.path!r} stayed locked for more than {self.busy_timeout} s: {e}"
            )
        else:
            err = StoreUnavailable(f"SQLite store {self.path!r} failed: {e}")
        err.__cause__ = e
        return err

    async def delete(self, key: str, *, version: int | None = None) -> bool:
        """Delete ``key``; see :class:`~voicehook.store.Store`."""
        check_key(key)
        check_version(version)
        now = self._clock()
        sql = self._sql

        def op(c: sqlite3.Connection) -> tuple[bool, int | None]:
            if version is None:
                return c.execute(sql.delete, (key, now)).rowcount == 1, None
            if c.execute(sql.delete_version, (key, version, now)).rowcount == 1:
                return True, None
            row = c.execute(sql.version, (key, now)).fetchone()
            return False, None if row is None else row[0]

        done, actual = await self._run(op)
        if version is not None and not done:
            raise ConflictError(key, version, actual)
        return done

    async def sweep(self) -> int:
        """Delete expired rows now. Returns how many were deleted."""
        sql, now = self._sql, self._clock()
        return await self._run(lambda c: _sweep(c, sql, now), inline=False)


# A waiting put: key, encoded value, expected version, expires, now, the caller's future.
_Write = tuple[str, bytes, int | None, float | None, float, "asyncio.Future[Any] | None"]


def _write(c: sqlite3.Connection, sql: _SQL, w: _Write) -> tuple[int, int | None]:
    """One conditional write: (new version, None), or (0, the version found) on a conflict."""
    key, data, version, expires, now, _ = w
    if version is None:
        done = c.execute(sql.create, (key, data, expires, now)).rowcount
        new = 1
    else:
        done = c.execute(sql.update, (data, expires, key, version, now)).rowcount
        new = version + 1
    if done == 1:
        return new, None
    row = c.execute(sql.version, (key, now)).fetchone()
    return 0, None if row is None else row[0]


def _write_batch(
    c: sqlite3.Connection, sql: _SQL, batch: list[_Write]
) -> list[tuple[int, int | None]]:
    """The writes of ``batch`` in one transaction (one lock, one commit)."""
    if len(batch) == 1:
        return [_write(c, sql, batch[0])]
    c.execute("BEGIN IMMEDIATE")
    try:
        results = [_write(c, sql, w) for w in batch]
        c.execute("COMMIT")
    except BaseException:
        if c.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                c.execute("ROLLBACK")
        raise
    return results


_Result = tuple[int, int | None] | sqlite3.Error


def _write_each(c: sqlite3.Connection, sql: _SQL, batch: list[_Write]) -> list[_Result]:
    """:func:`_write_batch`; if it fails (locked: raises), each write alone, own outcome."""
    try:
        return list(_write_batch(c, sql, batch))
    except sqlite3.Error as e:
        if _is_busy(e):
            raise
        if len(batch) == 1:
            return [e]
    results: list[_Result] = []
    for w in batch:
        try:
            results.append(_write(c, sql, w))
        except sqlite3.Error as e:
            results.append(e)
    return results


def _fail(batch: list[_Write], error: Callable[[], BaseException]) -> None:
    """Fail the waiting puts of ``batch``, each with its own exception from ``error()``."""
    for w in batch:
        fut = w[5]
        if fut is not None and not fut.done():
            fut.set_exception(error())


def _sweep(conn: sqlite3.Connection, sql: _SQL, now: float, batch: int = 500) -> int:
    deleted = 0
    after = ""
    while True:
        keys = [row[0] for row in conn.execute(sql.expired_keys, (after, now, batch))]
        if not keys:
            return deleted
        conn.execute("BEGIN IMMEDIATE")
        try:
            for key in keys:
                deleted += conn.execute(sql.delete_expired_key, (key, now)).rowcount
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        if len(keys) < batch:
            return deleted
        after = keys[-1]


def _checkpoint(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()


def _quiet(fn: Callable[[sqlite3.Connection], Any], conn: sqlite3.Connection) -> None:
    # Background housekeeping: a locked database or a closed store is not an error here;
    # the next sweep or checkpoint will do the work.
    with contextlib.suppress(sqlite3.Error):
        fn(conn)
