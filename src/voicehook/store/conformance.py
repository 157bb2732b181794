"""A conformance test kit for store backends (yours or ours).

Subclass :class:`StoreConformance` in a pytest file and provide a ``store`` fixture. Every
test method of the kit then runs against your store::

    import pytest
    from voicehook.store.conformance import StoreConformance
    from mypackage import MyStore

    class TestMyStore(StoreConformance):
        @pytest.fixture
        async def store(self):
            store = MyStore(...)
            await store.open()
            yield store
            await store.aclose()

The tests need ``pytest`` and ``pytest-asyncio``. With ``asyncio_mode = "strict"`` decorate
the fixture with ``@pytest_asyncio.fixture`` instead. Each test uses its own random keys, so
the store may be shared between tests and may hold other data.

Tune the class attributes below if your backend needs it (for example a coarser TTL).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest

from voicehook.store.base import ConflictError, Entry, Store, update
from voicehook.store.codec import CodecError

__all__ = ["SAMPLE_VALUES", "StoreConformance", "same_value"]

_KST = dt.timezone(dt.timedelta(hours=9))

#: Values every store must give back unchanged (type and content).
SAMPLE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    2**70,
    1.5,
    -0.0,
    "",
    "안녕하세요, 세상!",
    "emoji 🎵 and \u0000 nul",
    [],
    {},
    [1, "둘", 3.0, None, [True]],
    {"도시": "서울", "온도": 23.5, "비": False, "예보": [{"시": 9, "하늘": "맑음"}]},
    dt.datetime(2024, 5, 1, 9, 30, 15, 123456, tzinfo=_KST),
    dt.datetime(2024, 5, 1, 9, 30),
    dt.date(2024, 12, 25),
    dt.time(7, 0, tzinfo=_KST),
    Decimal("12345.6700"),
    Decimal("-1E+30"),
    uuid.UUID("12345678-1234-5678-1234-567812345678"),
    (1, "a", (2.5, None)),
    b"\x00\xffbytes",
    {"$dt": "not a tag, a user key", "x": 1},
    {"$dt": "a lone user key that looks like a tag"},
    {"주문": {"메뉴": "김치찌개", "가격": Decimal("9000"), "시각": dt.datetime(2024, 1, 1)}},
]


def same_value(a: Any, b: Any) -> bool:
    """Equal, with the same types all the way down (``1 == 1.0 == True`` is not enough)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return bool(a.keys() == b.keys()) and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)
    if isinstance(a, dt.datetime | dt.time):
        # Same wall time and same UTC offset. (Comparing aware values directly is not
        # enough: Python treats an ambiguous local time as unequal across zones.)
        return bool(
            a.replace(tzinfo=None) == b.replace(tzinfo=None) and a.utcoffset() == b.utcoffset()
        )
    if isinstance(a, Decimal):
        return str(a) == str(b)
    return bool(a == b)


class StoreConformance:
    """Behaviour every :class:`~voicehook.store.Store` must have.

    Subclasses provide an async ``store`` fixture (see the module docs).
    """

    #: A TTL (seconds) short enough to wait for in a test.
    short_ttl: float = 0.1
    #: How long to wait (seconds) for an entry with ``short_ttl`` to disappear.
    expiry_timeout: float = 5.0
    #: Concurrent ``update()`` calls on one key.
    concurrency: int = 20
    #: Size of the large value test, in bytes of text.
    large_value_size: int = 1_000_000

    @staticmethod
    def key(name: str) -> str:
        """A fresh key, unique to this test run."""
        return f"conformance:{uuid.uuid4().hex[:12]}:{name}"

    async def wait_until_missing(self, store: Store, key: str) -> None:
        """Poll until ``key`` is gone; fail after ``expiry_timeout`` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.expiry_timeout
        while await store.get(key) is not None:
            if loop.time() > deadline:
                pytest.fail(f"{key!r} still visible {self.expiry_timeout} s after its TTL")
            await asyncio.sleep(self.short_ttl / 4)

    # -- basics ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_get_missing(self, store: Store) -> None:
        assert await store.get(self.key("missing")) is None

    @pytest.mark.asyncio
    async def test_open_is_idempotent_and_ping_works(self, store: Store) -> None:
        key = self.key("open-twice")
        assert await store.put(key, "before") == 1
        await store.open()
        await store.open()
        await store.ping()
        # Opening again neither loses data nor resets versions, and the store still works.
        assert await store.get(key) == Entry("before", 1)
        assert await store.put(key, "after", version=1) == 2
        assert await store.get(key) == Entry("after", 2)

    @pytest.mark.asyncio
    async def test_create_starts_at_version_1(self, store: Store) -> None:
        key = self.key("create")
        assert await store.put(key, {"count": 1}, version=None) == 1
        assert await store.get(key) == Entry({"count": 1}, 1)

    @pytest.mark.asyncio
    async def test_create_twice_conflicts(self, store: Store) -> None:
        key = self.key("create-twice")
        await store.put(key, "first")
        with pytest.raises(ConflictError) as info:
            await store.put(key, "second", version=None)
        assert info.value.key == key
        assert info.value.expected is None
        assert info.value.actual == 1
        assert key in str(info.value)
        assert await store.get(key) == Entry("first", 1)

    @pytest.mark.asyncio
    async def test_update_with_current_version(self, store: Store) -> None:
        key = self.key("update")
        v1 = await store.put(key, "a")
        v2 = await store.put(key, "b", version=v1)
        v3 = await store.put(key, "c", version=v2)
        assert (v1, v2, v3) == (1, 2, 3)
        assert await store.get(key) == Entry("c", 3)

    @pytest.mark.asyncio
    async def test_update_with_stale_version_conflicts(self, store: Store) -> None:
        key = self.key("stale")
        await store.put(key, "a")
        await store.put(key, "b", version=1)
        with pytest.raises(ConflictError) as info:
            await store.put(key, "lost", version=1)
        assert (info.value.expected, info.value.actual) == (1, 2)
        assert "1" in str(info.value) and "2" in str(info.value)
        assert await store.get(key) == Entry("b", 2)

    @pytest.mark.asyncio
    async def test_update_with_version_ahead_of_the_stored_one_conflicts(
        self, store: Store
    ) -> None:
        """A version from the future (say, from a copy of the entry written elsewhere) is as
        wrong as a stale one. A compare that only rejects *older* versions passes the other
        tests."""
        key = self.key("ahead")
        await store.put(key, "a")
        await store.put(key, "b", version=1)
        for ahead in (3, 4, 100):
            with pytest.raises(ConflictError) as info:
                await store.put(key, "from the future", version=ahead)
            assert (info.value.expected, info.value.actual) == (ahead, 2)
        with pytest.raises(ConflictError) as deleted:
            await store.delete(key, version=3)
        assert (deleted.value.expected, deleted.value.actual) == (3, 2)
        assert await store.get(key) == Entry("b", 2)
        assert await store.put(key, "c", version=2) == 3

    @pytest.mark.asyncio
    async def test_update_of_missing_key_conflicts(self, store: Store) -> None:
        key = self.key("update-missing")
        with pytest.raises(ConflictError) as info:
            await store.put(key, "x", version=1)
        assert (info.value.expected, info.value.actual) == (1, None)
        assert await store.get(key) is None

    @pytest.mark.asyncio
    async def test_bad_arguments_are_rejected(self, store: Store) -> None:
        key = self.key("bad-args")
        with pytest.raises(TypeError):
            await store.get(123)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            await store.put(key, 1, ttl=0)
        with pytest.raises(ValueError):
            await store.put(key, 1, ttl=-5)
        with pytest.raises(ValueError):
            await store.put(key, 1, version=0)
        with pytest.raises(ValueError):
            await store.delete(key, version=0)
        with pytest.raises(ValueError):
            await store.delete(key, version=-1)
        with pytest.raises(TypeError):
            await store.delete(123)  # type: ignore[arg-type]
        assert await store.get(key) is None

    # -- delete ----------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_delete(self, store: Store) -> None:
        key = self.key("delete")
        await store.put(key, "x")
        assert await store.delete(key) is True
        assert await store.get(key) is None
        assert await store.delete(key) is False

    @pytest.mark.asyncio
    async def test_delete_with_version(self, store: Store) -> None:
        key = self.key("delete-version")
        await store.put(key, "x")
        await store.put(key, "y", version=1)
        with pytest.raises(ConflictError) as info:
            await store.delete(key, version=1)
        assert (info.value.key, info.value.expected, info.value.actual) == (key, 1, 2)
        assert await store.get(key) == Entry("y", 2)
        assert await store.delete(key, version=2) is True
        assert await store.get(key) is None

    @pytest.mark.asyncio
    async def test_delete_with_version_of_missing_key_conflicts(self, store: Store) -> None:
        key = self.key("delete-missing")
        with pytest.raises(ConflictError) as info:
            await store.delete(key, version=3)
        assert (info.value.key, info.value.expected, info.value.actual) == (key, 3, None)

    @pytest.mark.asyncio
    async def test_delete_of_an_entry_with_a_ttl(self, store: Store) -> None:
        """A live entry is deleted whether or not it has a TTL (a delete that only matched
        entries without one would pass the other tests)."""
        key = self.key("delete-ttl")
        other = self.key("delete-ttl-version")
        await store.put(key, "x", ttl=600)
        await store.put(other, "y", ttl=600)
        assert await store.delete(key) is True
        assert await store.get(key) is None
        assert await store.delete(other, version=1) is True
        assert await store.get(other) is None

    @pytest.mark.asyncio
    async def test_create_after_delete(self, store: Store) -> None:
        key = self.key("recreate")
        await store.put(key, "old")
        await store.put(key, "older", version=1)
        await store.delete(key)
        assert await store.put(key, "new", version=None) == 1
        assert await store.get(key) == Entry("new", 1)

    # -- TTL -------------------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_entry_with_long_ttl_is_visible(self, store: Store) -> None:
        key = self.key("ttl-long")
        await store.put(key, "here", ttl=600)
        assert await store.get(key) == Entry("here", 1)
        assert await store.put(key, "still", version=1, ttl=600) == 2

    @pytest.mark.asyncio
    async def test_expired_entry_is_invisible(self, store: Store) -> None:
        key = self.key("ttl-short")
        await store.put(key, "gone soon", ttl=self.short_ttl)
        await self.wait_until_missing(store, key)
        with pytest.raises(ConflictError):
            await store.put(key, "too late", version=1)
        assert await store.delete(key) is False
        # An expired key can be created again, from version 1.
        assert await store.put(key, "again", version=None) == 1
        assert await store.get(key) == Entry("again", 1)

    @pytest.mark.asyncio
    async def test_ttl_applies_per_write(self, store: Store) -> None:
        key = self.key("ttl-update")
        await store.put(key, "durable")
        await store.put(key, "now temporary", version=1, ttl=self.short_ttl)
        await self.wait_until_missing(store, key)

    @pytest.mark.asyncio
    async def test_write_without_ttl_clears_ttl(self, store: Store) -> None:
        key = self.key("ttl-clear")
        witness = self.key("ttl-witness")
        ttl = max(5 * self.short_ttl, 0.5)  # room for a slow machine between the writes
        await store.put(key, "durable")
        await store.put(key, "temporary", version=1, ttl=ttl)
        await store.put(key, "durable again", version=2)
        # Written last with the same TTL: once it is gone, the old TTL would be over too.
        await store.put(witness, "witness", ttl=ttl)
        await self.wait_until_missing(store, witness)
        assert await store.get(key) == Entry("durable again", 3)

    # -- values ----------------------------------------------------------------------

    @pytest.mark.asyncio
    @pytest.mark.parametrize("value", SAMPLE_VALUES, ids=lambda v: type(v).__name__)
    async def test_json_safe_values_round_trip(self, store: Store, value: Any) -> None:
        key = self.key("value")
        await store.put(key, value)
        entry = await store.get(key)
        assert entry is not None
        assert same_value(entry.value, value), (entry.value, value)

    @pytest.mark.asyncio
    async def test_values_that_are_not_json_safe_are_rejected(self, store: Store) -> None:
        key = self.key("not-json-safe")
        for bad in ({1, 2}, {1: "int key"}, float("nan"), object()):
            with pytest.raises(CodecError):
                await store.put(key, bad)
        assert await store.get(key) is None

    @pytest.mark.asyncio
    async def test_returned_values_are_copies(self, store: Store) -> None:
        key = self.key("copies")
        value = {"items": [1, 2]}
        await store.put(key, value)
        value["items"].append(3)
        entry = await store.get(key)
        assert entry is not None
        entry.value["items"].append(4)
        assert await store.get(key) == Entry({"items": [1, 2]}, 1)

    @pytest.mark.asyncio
    async def test_large_value(self, store: Store) -> None:
        key = self.key("large")
        text = "가나다라마바사" * (self.large_value_size // 21)
        value = {"text": text, "numbers": list(range(10_000))}
        await store.put(key, value)
        entry = await store.get(key)
        assert entry is not None and entry.value == value

    @pytest.mark.asyncio
    async def test_unicode_keys(self, store: Store) -> None:
        base = self.key("")
        keys = [base + "세션:홍길동", base + "세션:홍길순", base + "가", base + "각", base + "🎵"]
        for i, key in enumerate(keys):
            await store.put(key, i)
        for i, key in enumerate(keys):
            assert await store.get(key) == Entry(i, 1)
        assert await store.get(base + "세션:홍길") is None

    # -- concurrency -----------------------------------------------------------------

    @pytest.mark.asyncio
    async def test_concurrent_updates_do_not_lose_increments(self, store: Store) -> None:
        key = self.key("counter")
        n = self.concurrency

        def add_one(count: int) -> int:
            return count + 1

        results = await asyncio.gather(
            *(update(store, key, add_one, default=0, retries=4 * n) for _ in range(n))
        )
        final = await store.get(key)
        assert final is not None
        assert final.value == n
        assert sorted(e.value for e in results) == list(range(1, n + 1))

    @pytest.mark.asyncio
    async def test_concurrent_creates_have_one_winner(self, store: Store) -> None:
        key = self.key("race")

        async def create(i: int) -> int | None:
            try:
                return await store.put(key, i, version=None)
            except ConflictError:
                return None

        results = await asyncio.gather(*(create(i) for i in range(self.concurrency)))
        winners = [i for i, r in enumerate(results) if r is not None]
        assert len(winners) == 1
        assert await store.get(key) == Entry(winners[0], 1)
