"""A failed state save, seen by the operator: the answer, the counters on /metrics, and the
log line with the request and the action. A conflict (another turn wrote first) and a store
that fails are counted apart."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest

from tests.state.conftest import CountingStore, counter_play
from voicehook.store import StoreUnavailable
from voicehook.testing import NuguTestClient

SID = "85964e40-cf9c-4eae-841b-d736d5ef9060"


class DownOnPut(CountingStore):
    async def put(self, key: str, value: Any, **kw: Any) -> int:
        raise StoreUnavailable("Redis at 127.0.0.1:6379 is unavailable: connection refused")


def save_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if "could not save state" in r.getMessage()]


async def test_a_store_failure_at_save_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = counter_play()
    async with NuguTestClient(play, store=DownOnPut()) as client:
        with caplog.at_level(logging.ERROR, logger="voicehook.play"):
            answer = await client.call("bump", session_id=SID)
    assert answer.result_code == "BACKEND_ERROR"
    assert (play.stats.state_save_errors, play.stats.state_conflicts) == (1, 0)
    (record,) = save_records(caplog)
    message = record.getMessage()
    assert message.startswith("action 'bump': could not save state (request ")
    assert message.endswith("): Redis at 127.0.0.1:6379 is unavailable: connection refused")
    assert record.action == "bump"  # type: ignore[attr-defined]
    assert record.request_id and record.request_id in message  # type: ignore[attr-defined]


async def test_a_conflict_at_save_is_counted_apart(caplog: pytest.LogCaptureFixture) -> None:
    play = counter_play()
    store = CountingStore()
    client = NuguTestClient(play, store=store)
    resources = client.app.context.resources
    resources.loaded, resources.go_on = asyncio.Event(), asyncio.Event()
    async with client:
        await client.call("bump", session_id=SID)
        slow = asyncio.create_task(client.call("slow_bump", session_id=SID))
        await asyncio.wait_for(resources.loaded.wait(), 2)
        await client.call("bump", session_id=SID)
        resources.go_on.set()
        with caplog.at_level(logging.ERROR, logger="voicehook.play"):
            answer = await asyncio.wait_for(slow, 2)
        assert answer.result_code == "BACKEND_ERROR"
        # The next turns save again: the failure was this turn's only.
        assert (await client.call("bump", session_id=SID)).output["n"] == "3"
    assert (play.stats.state_conflicts, play.stats.state_save_errors) == (1, 0)
    (record,) = save_records(caplog)
    assert record.getMessage().startswith("action 'slow_bump': could not save state (request ")
    assert "was changed by another request during this turn" in record.getMessage()
    assert record.action == "slow_bump"  # type: ignore[attr-defined]


async def test_the_save_runs_under_the_turns_write_deadline() -> None:
    """A store that can enforce it (Redis) refuses a write that arrives after the turn's
    deadline (docs/state.md): the save must carry it."""
    from voicehook.store.base import current_write_deadline

    seen: list[float | None] = []

    class Records(CountingStore):
        async def put(self, key: str, value: Any, **kw: Any) -> int:
            seen.append(current_write_deadline())
            return await super().put(key, value, **kw)

    play = counter_play()
    async with NuguTestClient(play, store=Records()) as client:
        loop = asyncio.get_running_loop()
        before = loop.time()
        answer = await client.call("bump", session_id=SID)
        after = loop.time()
    assert answer.result_code == "OK"
    (deadline,) = seen
    # The turn's deadline on the loop clock: after the turn started, within the 10 s that
    # NUGU gives a whole turn.
    assert deadline is not None and before < deadline <= after + 10
