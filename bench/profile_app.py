"""Time the plain apps in-process: call each ASGI app directly, with no server and no socket.

This shows the cost of the app itself (framework + handler), without uvicorn and wrk.
It is much less noisy than bench/run.py, so it is good for before/after checks of the hot
path. `--cprofile voicehook` prints where the time goes.

Example:
    taskset -c 0 .venv/bin/python bench/profile_app.py
    taskset -c 0 .venv/bin/python bench/profile_app.py --cprofile voicehook
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import importlib
import json
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for extra in (ROOT, ROOT / "src"):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from bench.common import AUTH_HEADER, BODY, BODY_BYTES, PATH, expected_response  # noqa: E402
from bench.run import TARGETS, log  # noqa: E402

SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": PATH,
    "raw_path": PATH.encode(),
    "root_path": "",
    "query_string": b"",
    "headers": [
        (b"host", b"127.0.0.1:8080"),
        (b"content-type", b"application/json"),
        (b"authorization", AUTH_HEADER.encode()),
        (b"content-length", str(len(BODY_BYTES)).encode()),
    ],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8080),
}
REQUEST = {"type": "http.request", "body": BODY_BYTES, "more_body": False}


class Driver:
    """Runs one ASGI app: lifespan startup, then many calls."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state: dict[str, Any] = {}
        self.status = 0
        self.body = b""

    async def startup(self) -> None:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        started = asyncio.Event()

        async def send(message: dict[str, Any]) -> None:
            if message["type"].startswith("lifespan.startup"):
                started.set()

        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": self.state}
        await queue.put({"type": "lifespan.startup"})
        self._queue = queue
        self._lifespan = asyncio.create_task(self.app(scope, queue.get, send))
        await asyncio.wait_for(started.wait(), 10)

    async def shutdown(self) -> None:
        await self._queue.put({"type": "lifespan.shutdown"})
        await asyncio.wait_for(self._lifespan, 10)

    async def receive(self) -> dict[str, Any]:
        return REQUEST

    async def send(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.body = b""
        elif message["type"] == "http.response.body":
            self.body += message.get("body", b"")

    async def call(self, n: int) -> None:
        app, receive, send, state = self.app, self.receive, self.send, self.state
        for _ in range(n):
            scope = dict(SCOPE)
            scope["state"] = dict(state)
            await app(scope, receive, send)

    def check(self) -> str | None:
        if self.status != 200:
            return f"status {self.status}: {self.body[:200]!r}"
        if json.loads(self.body) != expected_response(BODY):
            return f"wrong answer: {self.body[:300]!r}"
        return None


async def measure(names: list[str], calls: int, repeats: int) -> dict[str, list[float]]:
    drivers = {}
    for name in names:
        try:
            module = importlib.import_module(TARGETS[name])
        except ImportError as exc:
            log(f"  {name}: SKIPPED, cannot import: {exc}")
            continue
        driver = Driver(module.app)
        await driver.startup()
        await driver.call(1)
        problem = driver.check()
        if problem:
            log(f"  {name}: SKIPPED, {problem}")
            await driver.shutdown()
            continue
        await driver.call(calls // 5)  # warm-up
        drivers[name] = driver
    times: dict[str, list[float]] = {name: [] for name in drivers}
    for _ in range(repeats):
        for name, driver in drivers.items():
            t0 = time.process_time()
            await driver.call(calls)
            times[name].append((time.process_time() - t0) / calls * 1e6)
    for driver in drivers.values():
        await driver.shutdown()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Time the plain apps in-process (no server).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--calls", type=int, default=20000, help="calls per repeat")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved repeats")
    parser.add_argument(
        "--targets", type=lambda s: s.split(","), default=list(TARGETS), help="comma list"
    )
    parser.add_argument("--cprofile", metavar="TARGET", help="profile one target instead")
    parser.add_argument("--top", type=int, default=25, help="rows of the profile")
    args = parser.parse_args()
    import uvloop

    if args.cprofile:
        if args.cprofile not in TARGETS:
            parser.error(f"unknown target {args.cprofile}")
        driver = Driver(importlib.import_module(TARGETS[args.cprofile]).app)

        async def profiled() -> None:
            await driver.startup()
            await driver.call(args.calls // 5)
            prof = cProfile.Profile()
            prof.enable()
            await driver.call(args.calls)
            prof.disable()
            await driver.shutdown()
            pstats.Stats(prof).sort_stats("tottime").print_stats(args.top)

        uvloop.run(profiled())
        return 0

    times = uvloop.run(measure(args.targets, args.calls, args.repeats))
    print(f"\nCPU time per call, in-process, no server (median of {args.repeats}):")
    med = {name: statistics.median(v) for name, v in times.items()}
    for name, value in med.items():
        spread = f"{min(times[name]):.1f}-{max(times[name]):.1f}"
        print(f"{name:<10} {value:>7.1f} us/call  (range {spread})")
    if "voicehook" in med and "ceiling" in med:
        extra = med["voicehook"] - med["ceiling"]
        print(f"voicehook - ceiling: {extra:+.1f} us/call")
    return 0


if __name__ == "__main__":
    sys.exit(main())
