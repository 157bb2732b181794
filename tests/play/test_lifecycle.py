"""Play startup and shutdown hooks: order, the app they get, a failing hook, the thread pool.

Each test names the mutants of ``play/app.py`` it kills (docs/mutation-report.md).
"""

from __future__ import annotations

import logging
import threading

import pytest

from voicehook.play import ActionRequest, Play, parse_definition
from voicehook.play.context import AppContext

DEFINITION = """
name: life
actions:
  answer.sync:
    backend: true
    parameters:
      result: backend
"""


async def test_hooks_get_the_app_and_shut_down_in_reverse_order() -> None:
    """Kills ``reversed(...)`` dropped, ``hook(None)``, and ``append(None)``."""
    play = Play(parse_definition(DEFINITION))
    app = AppContext("life")
    seen: list[tuple[str, object]] = []

    @play.on_startup
    async def open_a(ctx: AppContext) -> None:
        seen.append(("open a", ctx))

    @play.on_startup
    async def open_b(ctx: AppContext) -> None:
        seen.append(("open b", ctx))

    @play.on_shutdown
    async def close_a(ctx: AppContext) -> None:
        seen.append(("close a", ctx))

    @play.on_shutdown
    async def close_b(ctx: AppContext) -> None:
        seen.append(("close b", ctx))

    assert open_a.__name__ == "open_a"  # the decorator gives the function back
    await play.startup(app)
    await play.shutdown(app)
    assert [s for s, _ in seen] == ["open a", "open b", "close b", "close a"]
    assert all(ctx is app for _, ctx in seen)


async def test_a_failing_shutdown_hook_is_logged_by_name_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Kills the mutants of the log line (the hook's name) and a loop that stops early."""
    play = Play(parse_definition(DEFINITION))
    closed: list[str] = []

    @play.on_shutdown
    async def close_db(ctx: AppContext) -> None:
        closed.append("db")

    @play.on_shutdown
    async def close_cache(ctx: AppContext) -> None:
        raise RuntimeError("cache already gone")

    with caplog.at_level(logging.ERROR, "voicehook.play"):
        await play.shutdown(AppContext("life"))
    assert closed == ["db"]
    (record,) = [r for r in caplog.records if r.name == "voicehook.play"]
    assert record.getMessage() == "shutdown hook close_cache failed"
    assert record.exc_info is not None


async def test_shutdown_stops_the_handler_thread_pool() -> None:
    """Kills the mutants that keep the pool (``self._executor = None`` dropped) or wait
    for it. A later call starts a new pool."""
    play = Play(parse_definition(DEFINITION))

    @play.action("answer.sync")
    def handler(req: ActionRequest) -> dict[str, str]:
        return {"result": threading.current_thread().name}

    spec = play.spec("answer.sync")
    assert spec is not None
    first = await play.call(ActionRequest("answer.sync", spec.new_params()))
    assert str(first.output["result"]).startswith("voicehook-handler")
    pool = play._executor
    assert pool is not None
    await play.shutdown(AppContext("life"))
    assert play._executor is None
    assert pool._shutdown  # type: ignore[attr-defined]
    second = await play.call(ActionRequest("answer.sync", spec.new_params()))
    assert second.result_code == "OK"
    assert play._executor is not None and play._executor is not pool
    await play.shutdown(AppContext("life"))
