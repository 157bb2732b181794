"""A user's message through a root bot to a skill and back: voicehook's gateway vs a
botbuilder-python 4.17.1 root (tests/interop/bb_root_bot.py), side by side in one run.

Setup (all on 127.0.0.1):

- the skill: ``bench/apps/bf_skill.py`` (raw ASGI, uvicorn), the cheapest skill possible, so
  the roots' own cost shows; one callback per turn (normal) or one activity in the body
  (``expectReplies``);
- the root under test, pinned to core 0 (``taskset``): ``voicehook gateway`` (memory store,
  like the SDK root's MemoryStorage) or the botbuilder root;
- this process, pinned to core 1 with the skill: ``--conversations`` users, each sending
  turns one after another, and the users' channel (a server on 127.0.0.1 that takes the
  roots' replies). Every turn must bring exactly one reply to the channel.

Reported per root and delivery mode: turns/s, p50/p99 turn latency, and the root's own
overhead per turn: the p50 through the root minus the p50 of the same turn sent straight to
the skill (the skill's own time, measured in the same run). Short on purpose (the machine is
shared): a warm-up, then ``--rounds`` rounds of ``--seconds``; the medians are reported.

    .venv/bin/python bench/gateway_bench.py --rounds 3 --seconds 5
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import free_port, pin  # noqa: E402

PY = sys.executable


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process {proc.args!r} exited with {proc.returncode}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def start(cmd: list[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, **kwargs)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


def botbuilder_python() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "scripts" / "botbuilder-venv")],
        check=True,
        capture_output=True,
        text=True,
        timeout=600,
    )
    return out.stdout.strip().splitlines()[-1]


class Channel:
    """The users' channel: counts the replies the roots send to ``serviceUrl``."""

    def __init__(self) -> None:
        self.replies = 0
        self.port = free_port()
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations/{conv}/activities", self._take)
        app.router.add_post("/v3/conversations/{conv}/activities/{id}", self._take)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def _take(self, request: web.Request) -> web.Response:
        await request.read()
        self.replies += 1
        return web.json_response({"id": "r"})

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


def activity(user: int, turn: int, service_url: str, *, expect_replies: bool) -> bytes:
    body: dict[str, Any] = {
        "type": "message",
        "id": f"u{user}-{turn}",
        "channelId": "emulator",
        "serviceUrl": service_url,
        "from": {"id": f"user-{user}", "role": "user"},
        "recipient": {"id": "root", "role": "bot"},
        "conversation": {"id": f"conv-{user}"},
        "locale": "ko-KR",
        "text": "스킬 안녕",
    }
    if expect_replies:
        body["deliveryMode"] = "expectReplies"
    return json.dumps(body, ensure_ascii=False).encode()


async def load(
    url: str,
    channel: Channel,
    *,
    users: int,
    seconds: float,
    expect_replies_to_target: bool = False,
    make_service_url: Callable[[], str] | None = None,
) -> dict[str, float]:
    """``users`` conversations in parallel for ``seconds``; returns the numbers."""
    latencies: list[float] = []
    errors = 0
    start_replies = channel.replies
    stop_at = time.perf_counter() + seconds
    service_url = (make_service_url or (lambda: f"http://127.0.0.1:{channel.port}"))()
    headers = {"Content-Type": "application/json; charset=utf-8"}
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def user(n: int) -> None:
            nonlocal errors
            turn = 0
            while time.perf_counter() < stop_at:
                turn += 1
                data = activity(n, turn, service_url, expect_replies=expect_replies_to_target)
                t0 = time.perf_counter()
                async with http.post(url, data=data, headers=headers) as resp:
                    await resp.read()
                    ok = 200 <= resp.status < 300
                if ok:
                    latencies.append(time.perf_counter() - t0)
                else:
                    errors += 1

        t_start = time.perf_counter()
        await asyncio.gather(*(user(i) for i in range(users)))
        elapsed = time.perf_counter() - t_start
    await asyncio.sleep(0.2)
    latencies.sort()
    n = len(latencies)
    replies = channel.replies - start_replies
    return {
        "turns": n,
        "errors": errors,
        "replies": replies,
        "rps": n / elapsed,
        "p50_ms": latencies[n // 2] * 1000 if n else 0.0,
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else 0.0,
    }


def gateway_config(path: Path, port: int, skill: str, delivery: str) -> None:
    path.write_text(
        "name: bench\n"
        f"play: {ROOT / 'examples' / 'gateway' / 'root'}\n"
        f"port: {port}\n"
        "skills:\n"
        f"  fast:\n    endpoint: {skill}\n    delivery: {delivery}\n"
        "routes:\n  - phrase: 스킬\n    skill: fast\n",
        encoding="utf-8",
    )


async def measure(
    name: str,
    url: str,
    channel: Channel,
    args: argparse.Namespace,
    *,
    expect_replies_to_target: bool = False,
) -> dict[str, float]:
    await load(
        url,
        channel,
        users=args.conversations,
        seconds=args.warmup,
        expect_replies_to_target=expect_replies_to_target,
    )
    rounds = []
    for _ in range(args.rounds):
        rounds.append(
            await load(
                url,
                channel,
                users=args.conversations,
                seconds=args.seconds,
                expect_replies_to_target=expect_replies_to_target,
            )
        )
    out = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    replies_ok = all(r["replies"] == r["turns"] and r["errors"] == 0 for r in rounds)
    expected = "replies" if not expect_replies_to_target else "bodies"
    if expect_replies_to_target:
        replies_ok = all(r["errors"] == 0 for r in rounds)
    out["valid"] = 1.0 if replies_ok else 0.0
    print(
        f"  {name:38s} {out['rps']:8.1f} turns/s  p50 {out['p50_ms']:7.2f} ms  "
        f"p99 {out['p99_ms']:7.2f} ms  ({expected} ok: {bool(out['valid'])})",
        flush=True,
    )
    return out


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    channel = Channel()
    await channel.start()
    procs: list[subprocess.Popen[bytes]] = []
    results: dict[str, Any] = {}
    work = Path(tempfile.mkdtemp(prefix="gwbench-"))
    try:
        skill_port = free_port()
        skill = start(
            [
                *pin("1"),
                PY,
                "-m",
                "uvicorn",
                "bench.apps.bf_skill:app",
                "--host",
                "127.0.0.1",
                "--port",
                str(skill_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            cwd=ROOT,
            env=env,
        )
        procs.append(skill)
        wait_port(skill_port, skill)
        skill_url = f"http://127.0.0.1:{skill_port}/api/messages"
        print("the skill alone (this process plays the root):", flush=True)
        results["skill_normal"] = await measure("skill, normal delivery", skill_url, channel, args)
        results["skill_expect"] = await measure(
            "skill, expectReplies", skill_url, channel, args, expect_replies_to_target=True
        )
        bbpy = botbuilder_python()
        for delivery in ("normal", "expectReplies"):
            print(f"roots, root → skill in {delivery}:", flush=True)
            gw_port = free_port()
            cfg = work / f"gateway-{delivery}.yaml"
            gateway_config(cfg, gw_port, skill_url, delivery)
            gw = start(
                [
                    *pin("0"),
                    PY,
                    "-m",
                    "voicehook",
                    "gateway",
                    str(cfg),
                    "--store",
                    "memory://",
                    "--log-level",
                    "error",
                ],
                cwd=ROOT,
                env=env,
                stderr=subprocess.DEVNULL,
            )
            procs.append(gw)
            wait_port(gw_port, gw)
            results[f"voicehook_{delivery}"] = await measure(
                f"voicehook gateway ({delivery})",
                f"http://127.0.0.1:{gw_port}/api/messages",
                channel,
                args,
            )
            stop(gw)
            bb_port = free_port()
            bb_args = [
                *pin("0"),
                bbpy,
                str(ROOT / "tests" / "interop" / "bb_root_bot.py"),
                "--port",
                str(bb_port),
                "--skill-endpoint",
                skill_url,
                "--phrase",
                "스킬",
            ]
            if delivery == "expectReplies":
                bb_args.append("--expect-replies")
            bb = start(bb_args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.append(bb)
            wait_port(bb_port, bb)
            results[f"botbuilder_{delivery}"] = await measure(
                f"botbuilder 4.17.1 root ({delivery})",
                f"http://127.0.0.1:{bb_port}/api/messages",
                channel,
                args,
            )
            stop(bb)
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop(proc)
        await channel.close()
    print("\nsummary (medians):", flush=True)
    for delivery, base in (("normal", "skill_normal"), ("expectReplies", "skill_expect")):
        vh, bb = results[f"voicehook_{delivery}"], results[f"botbuilder_{delivery}"]
        skill_p50 = results[base]["p50_ms"]
        ratio = vh["rps"] / bb["rps"] if bb["rps"] else float("inf")
        results[f"ratio_{delivery}"] = ratio
        print(
            f"  {delivery:14s} voicehook {vh['rps']:7.1f}/s vs botbuilder {bb['rps']:7.1f}/s "
            f"= {ratio:4.1f}x;  overhead per turn beyond the skill (p50): voicehook "
            f"{vh['p50_ms'] - skill_p50:6.2f} ms, botbuilder {bb['p50_ms'] - skill_p50:6.2f} ms",
            flush=True,
        )
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    p.add_argument("--conversations", type=int, default=16, help="parallel users (default 16)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of one round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=float, default=2.0)
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    os.sched_setaffinity(0, {1})
    results = asyncio.run(main_async(args))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return (
        0 if all(v.get("valid", 1.0) == 1.0 for v in results.values() if isinstance(v, dict)) else 1
    )


if __name__ == "__main__":
    sys.exit(main())
