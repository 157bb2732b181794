"""``store.update``: the read-modify-write helper, rule by rule.

The conformance kit shows that concurrent updates lose nothing; these pin the rest: how many
times it retries, the TTL it writes, the default it starts from. Each test names the mutants
of ``store/base.py`` it kills (docs/mutation-report.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from voicehook.store import ConflictError, Entry, MemoryStore
from voicehook.store.base import update


class AlwaysConflicts(MemoryStore):
    """A store where another writer always wins: every put conflicts."""

    def __init__(self) -> None:
        super().__init__()
        self.puts = 0

    async def put(self, key: str, value: Any, **kw: Any) -> int:
        self.puts += 1
        raise ConflictError(key, kw.get("version"), 99)


class RecordsTtl(MemoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.ttls: list[float | None] = []

    async def put(self, key: str, value: Any, **kw: Any) -> int:
        self.ttls.append(kw.get("ttl"))
        return await super().put(key, value, **kw)


@pytest.fixture
async def store() -> AsyncIterator[MemoryStore]:
    s = MemoryStore()
    yield s
    await s.aclose()


@pytest.mark.parametrize("retries", [0, 1, 3])
async def test_fn_runs_retries_plus_one_times_then_the_conflict_is_raised(retries: int) -> None:
    """Kills ``attempt >= retries`` → ``>``, and the backoff threshold mutants that change how
    many tries there are."""
    store = AlwaysConflicts()
    calls: list[object] = []

    def fn(value: object) -> int:
        calls.append(value)
        return 1

    with pytest.raises(ConflictError):
        await update(store, "k", fn, default=0, retries=retries)
    assert len(calls) == store.puts == retries + 1


async def test_the_default_retry_count_is_32() -> None:
    """Kills ``retries: int = 32`` → 33. The default is documented in docs/state.md."""
    store = AlwaysConflicts()
    with pytest.raises(ConflictError):
        await update(store, "k", lambda v: v, default=0)
    assert store.puts == 33


@pytest.mark.parametrize("retries", [-1, -5])
async def test_negative_retries_are_refused(store: MemoryStore, retries: int) -> None:
    """Kills ``retries < 0`` → ``<= 0`` / ``< 1`` (0 is allowed) and the lost message."""
    with pytest.raises(ValueError, match=rf"^retries must be >= 0, got {retries}$"):
        await update(store, "k", lambda v: v, retries=retries)


async def test_zero_retries_writes_once(store: MemoryStore) -> None:
    entry = await update(store, "k", lambda v: v + 1, default=0, retries=0)
    assert entry == Entry(1, 1)


async def test_the_ttl_is_passed_to_every_write() -> None:
    """Kills the mutants that drop ``ttl=ttl`` from the put."""
    store = RecordsTtl()
    await update(store, "k", lambda v: v + 1, default=0, ttl=30)
    await update(store, "k", lambda v: v + 1, default=0)
    assert store.ttls == [30, None]
    assert await store.get("k") == Entry(2, 2)


async def test_a_mutable_default_is_copied_before_fn_sees_it(store: MemoryStore) -> None:
    """``fn`` may change its argument in place. The caller's default must stay as it was.
    Kills the mutants that hand ``fn`` the caller's default without a copy."""
    default: dict[str, list[str]] = {"items": []}

    def add(cart: dict[str, list[str]]) -> dict[str, list[str]]:
        cart["items"].append("김밥")
        return cart

    await update(store, "cart:1", add, default=default)
    await update(store, "cart:2", add, default=default)
    assert default == {"items": []}
    assert await store.get("cart:2") == Entry({"items": ["김밥"]}, 1)


@pytest.mark.parametrize("default", [None, 0, "", "없음", 1.5, True, b"x"])
async def test_an_immutable_default_is_passed_as_it_is(store: MemoryStore, default: Any) -> None:
    """No copy is needed (and ``deepcopy`` returns these objects unchanged anyway)."""
    seen: list[Any] = []

    def fn(value: Any) -> Any:
        seen.append(value)
        return "새 값"

    await update(store, "k", fn, default=default)
    assert seen[0] is default


async def test_an_async_fn_is_awaited(store: MemoryStore) -> None:
    async def fn(value: int) -> int:
        return value + 10

    assert await update(store, "k", fn, default=5) == Entry(15, 1)


async def test_the_backoff_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two quick retries, then a random wait below 0.5 ms, 1 ms, 2 ms ... capped at 50 ms
    (docs/state.md: many writers on one hot key must not collide in lock step). The random
    factor is pinned so the caps themselves show."""
    import voicehook.store.base as base

    waits: list[float] = []

    async def no_sleep(delay: float) -> None:
        waits.append(delay)

    monkeypatch.setattr(base.asyncio, "sleep", no_sleep)
    monkeypatch.setattr(base.random, "random", lambda: 0.5)
    with pytest.raises(ConflictError):
        await update(AlwaysConflicts(), "k", lambda v: v, default=0, retries=14)
    caps = [min(0.05, 0.0005 * 2**n) for n in range(12)]
    assert waits == pytest.approx([c * 0.5 for c in caps])
    assert caps[-1] == 0.05 and caps[6] == 0.032  # doubling until the 50 ms cap
