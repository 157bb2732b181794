"""An event-loop lag watchdog: names the handler that keeps the event loop busy.

An ``async`` handler that computes for seconds (or calls a blocking library) stops every
other request of the process, ``/health`` included. The watchdog is a small thread: the
event loop stamps a heartbeat every ``threshold / 4`` seconds, and when the heartbeat is
older than ``threshold`` the thread looks at what the loop's thread is running
(``sys._current_frames``), logs one warning naming the action whose handler is on the stack
(or the innermost function), and counts it. Cost on the hot path: none (one timer callback
per ``threshold / 4`` seconds).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import types
from collections.abc import Callable, Mapping

__all__ = ["LoopWatchdog"]

logger = logging.getLogger("voicehook.server")


class LoopWatchdog:
    """Watches one event loop. ``start()`` on the loop's thread, ``stop()`` at shutdown.

    ``handlers`` maps handler code objects to action names; ``on_block(seconds, name)`` is
    called (on the watchdog's thread) once per blocking episode.
    """

    def __init__(
        self,
        threshold: float,
        handlers: Callable[[], Mapping[types.CodeType, str]],
        on_block: Callable[[float, str], None] | None = None,
    ) -> None:
        self.threshold = threshold
        self._handlers = handlers
        self._on_block = on_block
        self._beat = time.monotonic()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._timer: asyncio.TimerHandle | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.blocked = 0

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._stop.clear()
        self._heartbeat()
        self._thread = threading.Thread(
            target=self._watch, name="voicehook-loop-watchdog", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _heartbeat(self) -> None:
        self._beat = time.monotonic()
        if self._loop is not None and not self._stop.is_set():
            self._timer = self._loop.call_later(self.threshold / 4, self._heartbeat)

    def _watch(self) -> None:
        reported = 0.0
        while not self._stop.wait(self.threshold / 4):
            beat = self._beat
            lag = time.monotonic() - beat
            if lag > self.threshold and beat != reported:
                reported = beat
                self.blocked += 1
                name = self._culprit()
                logger.warning(
                    "the event loop has been blocked for %.1f s by %s: do blocking work in "
                    "a plain def handler (it runs in a thread) or await between steps",
                    lag,
                    name,
                    extra={"blocked_by": name},
                )
                if self._on_block is not None:
                    self._on_block(lag, name)

    def _culprit(self) -> str:
        frame: types.FrameType | None = sys._current_frames().get(self._loop_thread)
        if frame is None:
            return "unknown code"
        handlers = self._handlers()
        innermost = frame
        while frame is not None:
            action = handlers.get(frame.f_code)
            if action is not None:
                return f"the handler of action {action!r} ({frame.f_code.co_name})"
            frame = frame.f_back
        code = innermost.f_code
        return f"{code.co_name} ({code.co_filename}:{innermost.f_lineno})"
