"""Issue 9, item 4: a handler that blocks the event loop is named in the log and counted."""

from __future__ import annotations

import logging
import time

import pytest

from voicehook import ActionRequest, Play, Settings
from voicehook.testing import NuguTestClient


async def test_a_handler_blocking_the_loop_is_named_and_counted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Was: an async handler burning CPU stalled every request (/health took 9.5 s) and
    # nothing said which one.
    play = Play("w")

    @play.action("slow.math", backend=["x"])
    async def slow_math(req: ActionRequest) -> dict[str, str]:
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # no await: the loop is blocked
            pass
        return {"x": "1"}

    settings = Settings(loop_lag_warning=0.2, deadline=0.5)
    with caplog.at_level(logging.WARNING, logger="voicehook.server"):
        async with NuguTestClient(play, settings) as client:
            answer = await client.call("slow.math")
            assert answer.result_code == "BACKEND_TIMEOUT"  # not a late OK
            metrics = (await client.request("GET", "/metrics")).body.decode()
    blocked = [r for r in caplog.records if "event loop has been blocked" in r.getMessage()]
    assert len(blocked) == 1
    assert "'slow.math'" in blocked[0].getMessage()
    assert "voicehook_loop_blocked_total 1" in metrics


async def test_no_warning_for_handlers_that_await() -> None:
    play = Play("w")

    @play.action("fine", backend=["x"])
    async def fine(req: ActionRequest) -> dict[str, str]:
        return {"x": "1"}

    async with NuguTestClient(play, Settings(loop_lag_warning=0.2)) as client:
        for _ in range(50):
            assert (await client.call("fine")).result_code == "OK"
        metrics = (await client.request("GET", "/metrics")).body.decode()
    assert "voicehook_loop_blocked_total 0" in metrics
