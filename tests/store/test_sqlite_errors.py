"""SQLiteStore errors, word for word: what an operator reads when the file is locked, missing
or broken. Every one is a StoreUnavailable naming the file, with the SQLite error as cause."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from tests.store.test_sqlite import write_lock_held
from voicehook.store import SQLiteStore, StoreUnavailable
from voicehook.store.sqlite import _is_busy


@pytest.mark.parametrize("inline", [True, False])
async def test_a_lock_held_too_long_names_the_file_and_the_timeout(
    tmp_path: Path, inline: bool
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, busy_timeout=0.05, inline=inline)
    await store.open()
    try:
        with write_lock_held(path):
            with pytest.raises(StoreUnavailable) as put:
                await store.put("k", "v")
            with pytest.raises(StoreUnavailable) as delete:
                await store.delete("k")
        for info in (put, delete):
            assert str(info.value) == (
                f"SQLite store {str(path)!r} stayed locked for more than 0.05 s: database is locked"
            )
            assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    finally:
        await store.aclose()


async def test_a_batch_locked_too_long_names_the_file_and_the_timeout(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, busy_timeout=0.05)
    await store.open()
    try:
        with write_lock_held(path):
            results = await asyncio.gather(
                store.put("a", 1), store.put("b", 1), return_exceptions=True
            )
        for r in results:
            assert isinstance(r, StoreUnavailable)
            assert str(r) == (
                f"SQLite store {str(path)!r} stayed locked for more than 0.05 s: database is locked"
            )
            assert isinstance(r.__cause__, sqlite3.OperationalError)
    finally:
        await store.aclose()


@pytest.mark.parametrize("inline", [True, False])
async def test_a_broken_database_names_the_file_and_the_sqlite_error(
    tmp_path: Path, inline: bool
) -> None:
    path = tmp_path / "s.db"
    store = SQLiteStore(path, inline=inline)
    await store.open()
    try:
        with sqlite3.connect(path, isolation_level=None) as other:
            other.execute("DROP TABLE voicehook_kv")
        calls = {
            "get": store.get("k"),
            "put": store.put("k", 1),
            "delete": store.delete("k"),
            "ping": store.ping(),
        }
        for name, call in calls.items():
            with pytest.raises(StoreUnavailable) as info:
                await call
            assert str(info.value) == (
                f"SQLite store {str(path)!r} failed: no such table: voicehook_kv"
            ), name
            assert isinstance(info.value.__cause__, sqlite3.OperationalError), name
    finally:
        await store.aclose()


async def test_a_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "없는" / "s.db"
    store = SQLiteStore(path)
    with pytest.raises(StoreUnavailable) as info:
        await store.open()
    assert str(info.value) == (
        f"cannot open SQLite store {str(path)!r}: directory {str(path.parent)!r} does not exist"
    )


async def test_a_file_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    path = tmp_path / "a-directory.db"
    path.mkdir()
    store = SQLiteStore(path)
    with pytest.raises(StoreUnavailable) as info:
        await store.open()
    assert str(info.value) == (
        f"cannot open SQLite store {str(path)!r}: unable to open database file"
    )
    assert isinstance(info.value.__cause__, sqlite3.OperationalError)
    # Nothing was left open: a good path opens fine afterwards.
    good = SQLiteStore(tmp_path / "good.db")
    await good.open()
    await good.aclose()


def test_busy_is_known_by_code_or_by_message() -> None:
    assert _is_busy(sqlite3.OperationalError("database is locked"))
    assert _is_busy(sqlite3.OperationalError("database table is busy"))
    assert not _is_busy(sqlite3.OperationalError("no such table: voicehook_kv"))
    coded = sqlite3.OperationalError("some text")
    coded.sqlite_errorcode = sqlite3.SQLITE_BUSY | (1 << 8)  # an extended busy code
    assert _is_busy(coded)
    coded.sqlite_errorcode = sqlite3.SQLITE_ERROR
    coded.args = ("database is locked",)  # the code wins over the text
    assert not _is_busy(coded)
