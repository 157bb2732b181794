"""Pick the upstream HTTP client by measurement: aiohttp.ClientSession vs httpx.AsyncClient.

Both clients do GETs to the same fake upstream (50 ms delay), with 64 and 256 requests in
flight, for a fixed time. Pool limits are raised, so the pool never caps the rate.
Each client runs in a fresh process pinned to one core; the fake upstream runs on the other.

Example:
    .venv/bin/python bench/upstream_client.py
    .venv/bin/python bench/upstream_client.py --duration 5 --rounds 3 --json out.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
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
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import UPSTREAM_DELAY_S  # noqa: E402
from bench.run import log, pin, start_upstream, stop  # noqa: E402

CLIENTS = ("aiohttp", "httpx")
PATH = "/weather?location=%EC%84%9C%EC%9A%B8"


# --------------------------------------------------------------------------- worker side


async def _load(
    get: Callable[[], Awaitable[bool]], concurrency: int, warmup: float, duration: float
) -> dict[str, Any]:
    counts = {"ok": 0, "errors": 0}
    running = True

    async def worker() -> None:
        while running:
            try:
                ok = await get()
            except Exception:
                ok = False
            counts["ok" if ok else "errors"] += 1

    tasks = [asyncio.create_task(worker()) for _ in range(concurrency)]
    await asyncio.sleep(warmup)
    ok0, t0 = counts["ok"], time.perf_counter()
    await asyncio.sleep(duration)
    ok1, t1 = counts["ok"], time.perf_counter()
    running = False
    # Each worker finishes its last request (50 ms) and stops.
    await asyncio.wait(tasks, timeout=10)
    for task in tasks:
        task.cancel()
    return {"rps": (ok1 - ok0) / (t1 - t0), "errors": counts["errors"]}


async def _run_aiohttp(url: str, concurrency: int, warmup: float, duration: float) -> Any:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=None)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def get() -> bool:
            async with session.get(url) as resp:
                await resp.read()
                return resp.status == 200

        return await _load(get, concurrency, warmup, duration)


async def _run_httpx(url: str, concurrency: int, warmup: float, duration: float) -> Any:
    import httpx

    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def get() -> bool:
            resp = await client.get(url)
            return resp.status_code == 200

        return await _load(get, concurrency, warmup, duration)


def worker_main(args: argparse.Namespace) -> None:
    import uvloop

    run = _run_aiohttp if args.worker == "aiohttp" else _run_httpx
    coro = run(args.url, args.worker_concurrency, args.warmup, args.duration)
    result = uvloop.run(coro)
    print(json.dumps(result))


# --------------------------------------------------------------------------- driver side


def run_worker(client: str, url: str, concurrency: int, args: argparse.Namespace) -> dict[str, Any]:
    cmd = [*pin(args.client_cpu), sys.executable, str(Path(__file__).resolve())]
    cmd += ["--worker", client, "--url", url, "--worker-concurrency", str(concurrency)]
    cmd += ["--duration", str(args.duration), "--warmup", str(args.warmup)]
    res = subprocess.run(
        cmd,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=args.duration + args.warmup + 60,
    )
    if res.returncode != 0:
        raise RuntimeError(f"{client} worker failed:\n{res.stderr}")
    data: dict[str, Any] = json.loads(res.stdout.strip().splitlines()[-1])
    return data


def driver_main(args: argparse.Namespace) -> int:
    missing = []
    for client in args.clients:
        try:
            __import__(client)
        except ImportError:
            missing.append(client)
    if missing:
        log(f"not installed: {missing} (pip install 'voicehook[bench]')")
        return 2
    results: dict[str, Any] = {
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "client_cpu": args.client_cpu,
            "upstream_cpu": args.upstream_cpu,
            "delay_ms": UPSTREAM_DELAY_S * 1000,
        },
        "runs": [],
        "summary": [],
    }
    with tempfile.TemporaryDirectory(prefix="voicehook-bench-") as tmp:
        upstream, port = start_upstream(args.upstream_cpu, Path(tmp))
        url = f"http://127.0.0.1:{port}{PATH}"
        try:
            for conc in args.concurrency:
                per: dict[str, list[float]] = {c: [] for c in args.clients}
                for rnd in range(1, args.rounds + 1):
                    for client in args.clients:
                        data = run_worker(client, url, conc, args)
                        per[client].append(data["rps"])
                        results["runs"].append({"client": client, "concurrency": conc, **data})
                        err = f"  errors {data['errors']}" if data["errors"] else ""
                        log(
                            f"  round {rnd} {client:<8} {conc:>4} in flight: "
                            f"{data['rps']:>8,.0f} req/s{err}"
                        )
                print(f"\n== {conc} in flight, upstream delay 50 ms (medians) ==")
                print(f"upper bound: {conc / UPSTREAM_DELAY_S:,.0f} req/s")
                med = {c: statistics.median(v) for c, v in per.items()}
                for client, value in med.items():
                    rounds = [round(v) for v in per[client]]
                    print(f"{client:<8} {value:>8,.0f} req/s  rounds {rounds}")
                    results["summary"].append(
                        {"client": client, "concurrency": conc, "rps": value, "rounds": rounds}
                    )
                if "aiohttp" in med and "httpx" in med and med["httpx"]:
                    print(f"aiohttp / httpx: {med['aiohttp'] / med['httpx']:.1f} x")
        finally:
            stop(upstream)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2) + "\n")
        log(f"results written to {args.json}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(
        description="Compare aiohttp and httpx as the upstream client (50 ms fake upstream).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--duration", type=float, default=5, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=5, help="seconds before counting")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds")
    parser.add_argument(
        "--concurrency",
        type=lambda s: [int(x) for x in s.split(",")],
        default=[64, 256],
        help="requests in flight, comma list",
    )
    parser.add_argument(
        "--clients", type=lambda s: s.split(","), default=list(CLIENTS), help="comma list"
    )
    parser.add_argument("--client-cpu", default="0", help="core for the client (taskset -c)")
    parser.add_argument("--upstream-cpu", default="1", help="core for the fake upstream")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    # Internal: one measurement in this process.
    parser.add_argument("--worker", choices=CLIENTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--worker-concurrency", type=int, default=64, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker_main(args)
        return 0
    if shutil.which("taskset") is None or (os.cpu_count() or 1) < 2:
        args.client_cpu = args.upstream_cpu = None
    unknown = [c for c in args.clients if c not in CLIENTS]
    if unknown:
        parser.error(f"unknown clients: {unknown}")
    return driver_main(args)


if __name__ == "__main__":
    sys.exit(main())
