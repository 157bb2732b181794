"""Which Redis client for the Redis store: CPU per get + put, in process, 64 in flight.

Each variant does what one stateful turn does: ``HMGET key v n`` and the store's Lua
compare-and-set (``EVALSHA``), for 64 keys at a time, against one local ``redis-server``.
It reports this process's CPU time per get + put (``time.process_time``), median of the
rounds, and the ratio to the first variant. Variants:

- ``store``: :class:`voicehook.store.RedisStore` itself (redis-py + hiredis, one pipeline per
  event-loop step).
- ``redis-py``: plain redis-py calls (its connection pool, one connection per command in
  flight), hiredis parser.
- ``coredis``: plain coredis calls (if installed).

The old hand-written RESP client was measured side by side with ``store`` before it was
removed (docs/benchmarks.md, "Stateful path").

Run (pin to one core; the machine may be shared, so trust ratios, not absolute numbers)::

    taskset -c 0 .venv/bin/python bench/redis_clients.py --rounds 3
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
for p in (str(ROOT), str(ROOT / "src")):
    if p not in sys.path:
        sys.path.insert(0, p)

from tests._support.redis_server import RedisServer  # noqa: E402

Op = Callable[[int], Awaitable[None]]


async def variant(name: str, url: str) -> tuple[Op, Callable[[], Awaitable[None]]]:
    from voicehook.store import redis as vredis

    value = b'{"turns":3,"question":"\xec\x84\x9c\xec\x9a\xb8"}'
    sha, source = vredis._PUT_SHA, vredis._PUT
    if name == "store":
        store = vredis.RedisStore(url, prefix=f"bench-{name}:")

        async def op(i: int) -> None:
            e = await store.get(f"k{i}")
            await store.put(f"k{i}", {"turns": 3}, version=None if e is None else e.version)

        return op, store.aclose
    if name == "redis-py":
        import redis.asyncio as aioredis

        r = aioredis.Redis.from_url(url)
        await r.script_load(source)

        async def op(i: int) -> None:
            _v, n = await r.hmget(f"bench-rp:k{i}", ["v", "n"])
            await r.evalsha(sha, 1, f"bench-rp:k{i}", n or "", value, "", "")

        return op, r.aclose
    if name == "coredis":
        import coredis

        c: Any = coredis.Redis.from_url(url)
        ctx = await c.__aenter__() if hasattr(c, "__aenter__") else c
        await ctx.script_load(source)

        async def op(i: int) -> None:
            _v, n = await ctx.hmget(f"bench-cd:k{i}", ["v", "n"])
            await ctx.evalsha(sha, keys=[f"bench-cd:k{i}"], args=[n or "", value, "", ""])

        async def close() -> None:
            if hasattr(c, "__aexit__"):
                await c.__aexit__(None, None, None)

        return op, close
    raise ValueError(name)


async def measure(name: str, url: str, calls: int) -> float:
    op, close = await variant(name, url)
    try:
        for i in range(0, 2048, 64):  # warm-up: connections, scripts, keys
            await asyncio.gather(*(op(i + j) for j in range(64)))
        start = time.process_time()
        for i in range(0, calls, 64):
            await asyncio.gather(*(op((i + j) % 4096) for j in range(64)))
        return (time.process_time() - start) * 1e6 / calls
    finally:
        await close()


def available(names: list[str]) -> list[str]:
    out = []
    for n in names:
        module = {"coredis": "coredis"}.get(n)
        if module is None or importlib.util.find_spec(module) is not None:
            out.append(n)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--calls", type=int, default=20_000)
    p.add_argument("--variants", default="store,redis-py,coredis")
    p.add_argument("--redis-cpu", default="1", help="core for redis-server ('' = no pin)")
    args = p.parse_args()
    names = available(args.variants.split(","))
    if os.getloadavg()[0] > 0.5:
        print(f"NOTE: load average {os.getloadavg()[0]:.2f}: the machine is shared.")
    results: dict[str, list[float]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(), RedisServer() as server:
        proc = server._proc
        if args.redis_cpu and proc is not None and shutil.which("taskset"):
            subprocess.run(
                ["taskset", "-pc", args.redis_cpu, str(proc.pid)], check=False, capture_output=True
            )
        try:
            import uvloop

            run: Any = uvloop.run
        except ImportError:
            run = asyncio.run
        for rnd in range(args.rounds):
            for n in names:
                us = run(measure(n, server.url, args.calls))
                results[n].append(us)
                print(f"  round {rnd + 1} {n:<9} {us:7.1f} us CPU per get+put", flush=True)
    base = statistics.median(results[names[0]])
    print("\nvariant    CPU us per get+put (median)   x first")
    for n in names:
        m = statistics.median(results[n])
        print(f"{n:<10} {m:10.1f}                    {m / base:6.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
