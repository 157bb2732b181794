"""Benchmark the NUGU path with session state: memory, SQLite, Redis (one server or a
3-master Cluster: ``--stores redis-cluster``) against stateless.

The stateful handler does one read and one write per turn through ``req.session_state()``
(a counter in the session state). The stateless handler is the plain weather handler of
``bench/run.py``. Same harness style as ``bench/run.py``: one uvicorn process per target
pinned to core 0 (``taskset -c 0``), wrk (and redis-server) on core 1, a correctness check,
a warm-up, interleaved rounds, medians.

Session ids: by default each request uses the next session id from a pool of 10,000 (the
wrk Lua script builds the requests once and cycles through them), so requests in flight never
share a key and most turns update an existing entry. ``hot`` rows send every request with one
session id: concurrent turns of one conversation, which conflict. The ``fail %`` column counts
answers with a failure code, read from the server's ``/metrics`` before and after each run.

Examples:
    .venv/bin/python bench/store_bench.py
    .venv/bin/python bench/store_bench.py --duration 10 --rounds 3 --json bench/results/s.json
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import AUTH_HEADER, BODY_BYTES, PATH, weather_for  # noqa: E402
from bench.run import (  # noqa: E402
    LUA_TEMPLATE,
    UVICORN_FLAGS,
    cpu_seconds,
    finish,
    free_port,
    http_call,
    log,
    pin,
    proc_status,
    stop,
    wait_ready,
    wrk,
)

KIND_ENV = "VOICEHOOK_STORE_BENCH_KIND"
URL_ENV = "VOICEHOOK_STORE_BENCH_URL"
SESSION_ID = "85964e40-cf9c-4eae-841b-d736d5ef9060"  # the id inside BODY_BYTES
POOL = 10_000
MIN_RATIO = 0.5  # SQLite and Redis >= 0.5 x stateless (docs/benchmarks.md)
# The summary line that bench/run.py's wrk() reads.
LUA_DONE = LUA_TEMPLATE[LUA_TEMPLATE.index("done = function") :]
LUA = (
    """\
-- Requests are built once in init(): request() only picks the next one, so wrk spends as
-- little CPU per request as with bench/run.py's static body.
local prefix = [==[{prefix}]==]
local suffix = [==[{suffix}]==]
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "{auth}"}}
local reqs = {{}}
local n = 0
local counter = 0

init = function(args)
  if {hot} == 1 then
    reqs[1] = wrk.format("POST", "{path}", headers, prefix .. "hot" .. suffix)
  else
    for i = 0, {pool} - 1 do
      reqs[i + 1] = wrk.format("POST", "{path}", headers, prefix .. "s-" .. i .. suffix)
    end
  end
  n = #reqs
end

request = function()
  counter = counter + 1
  return reqs[(counter % n) + 1]
end

"""
    + LUA_DONE
)


# --------------------------------------------------------------------------- the app


def make_app() -> Any:
    """The ASGI app of one target (uvicorn ``--factory``), chosen by the environment."""
    from voicehook import ActionRequest, Play
    from voicehook.server import Settings, create_app

    kind = os.environ.get(KIND_ENV, "stateless")
    utterance = {"location": "LOCATION", "day": "BID_DT_DAY"}
    utterance |= {"month": "BID_DT_YMONTH", "date": "BID_DT_MDAY"}
    backend = ["weather", "temperature"]
    play = Play("weather")

    if kind == "stateless":

        @play.action("answer.weather", utterance=utterance, backend=backend)
        async def weather(req: ActionRequest) -> dict[str, str]:
            w, t = weather_for(req.params["location"])
            return {"weather": w, "temperature": t}

    else:

        @play.action("answer.weather", utterance=utterance, backend=backend)
        async def weather_stateful(req: ActionRequest) -> dict[str, str]:
            state = await req.session_state()  # one read
            state["turns"] = state.get("turns", 0) + 1  # one write, after the turn
            w, t = weather_for(req.params["location"])
            return {"weather": w, "temperature": t}

        @play.action("bench.turns", backend=["turns"])
        async def turns(req: ActionRequest) -> dict[str, str]:
            state = await req.session_state()  # for verify(): what the state holds
            return {"turns": str(state.get("turns", 0))}

    url = os.environ.get(URL_ENV) or None
    return create_app(play, Settings(store=url))


# --------------------------------------------------------------------------- harness


@dataclass
class Target:
    name: str  # stateless, memory, sqlite, redis, redis-cluster
    hot: bool
    store_url: str | None
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def label(self) -> str:
        return f"{self.name}{' (hot key)' if self.hot else ''}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"


@dataclass
class Summary:
    label: str
    rps: float
    p50_ms: float
    p99_ms: float
    cpu_us_per_req: float
    rss_mb: float
    fail_pct: float
    errors: int
    ratio: float = 0.0
    rounds_rps: list[float] = field(default_factory=list)


def start(target: Target, cpu: str | None, workdir: Path) -> bool:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    env[KIND_ENV] = target.name
    env.pop(URL_ENV, None)
    if target.store_url:
        env[URL_ENV] = target.store_url
    target.port = free_port()
    cmd = [*pin(cpu), sys.executable, "-m", "uvicorn", "bench.store_bench:make_app", "--factory"]
    cmd += ["--host", "127.0.0.1", "--port", str(target.port), *UVICORN_FLAGS]
    log_path = workdir / f"{target.label.replace(' ', '_')}.log"
    with log_path.open("wb") as out:
        target.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if not wait_ready(target.proc, target.port):
        stop(target.proc)
        log(f"  {target.label}: did not start:\n{log_path.read_text(errors='replace')[-1500:]}")
        return False
    return True


def verify(target: Target) -> str | None:
    """Two turns of one session: both OK with the right weather; the state counted both."""
    body = BODY_BYTES.replace(SESSION_ID.encode(), f"verify-{target.port}".encode())
    for _ in range(2):
        status, raw = http_call(target.port, "POST", PATH, body)
        if status != 200:
            return f"status {status}: {raw[:200]!r}"
        answer = json.loads(raw)
        if answer.get("resultCode") != "OK" or answer["output"].get("weather") != "맑음":
            return f"wrong answer: {answer}"
    if target.name == "stateless":
        return None
    probe = body.replace(PATH[1:].encode(), b"bench.turns")
    status, raw = http_call(target.port, "POST", "/bench.turns", probe)
    turns = json.loads(raw).get("output", {}).get("turns") if status == 200 else None
    return None if turns == "2" else f"the session state holds turns={turns!r}, not '2'"


def answered(port: int) -> tuple[int, int]:
    """(calls answered OK, all calls) so far, from the server's ``/metrics``."""
    status, raw = http_call(port, "GET", "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    ok = total = 0
    for line in raw.decode().splitlines():
        if line.startswith("voicehook_requests_total{"):
            count = int(float(line.rsplit(" ", 1)[1]))
            total += count
            if 'result_code="OK"' in line:
                ok += count
    return ok, total


def start_redis(cpu: str | None, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    cmd = [*pin(cpu), binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    cmd += ["--appendonly", "no", "--dir", str(workdir)]
    with (workdir / "redis.log").open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    import socket

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return proc, port
        except OSError:
            time.sleep(0.05)
    stop(proc)
    raise RuntimeError("redis-server did not start")


def write_lua(workdir: Path, hot: bool, pool: int = POOL) -> Path:
    body = BODY_BYTES.decode()
    prefix, found, suffix = body.partition(SESSION_ID)
    if not found or "]==]" in body:
        raise ValueError("cannot build the Lua body template")
    path = workdir / f"state-{'hot' if hot else 'pool'}.lua"
    path.write_text(
        LUA.format(
            prefix=prefix, suffix=suffix, auth=AUTH_HEADER, hot=int(hot), pool=pool, path=PATH
        )
    )
    return path


def start_cluster(cpu: str | None) -> Any:
    """A 3-master Redis Cluster (tests/_support/redis_server.py), pinned like redis-server."""
    from tests._support.redis_server import RedisCluster

    cluster = RedisCluster(3).start()
    if cpu is not None:
        for node in cluster.nodes:
            subprocess.run(["taskset", "-pc", cpu, str(node.pid)], check=False, capture_output=True)
    return cluster


def run(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    redis = cluster = None
    targets: list[Target] = []
    results: dict[str, Any] = {"runs": [], "summary": []}
    try:
        rurl = curl = None
        if "redis" in args.stores + args.hot:
            redis, rport = start_redis(args.load_cpu, workdir)
            rurl = f"redis://127.0.0.1:{rport}/0"
        if "redis-cluster" in args.stores + args.hot:
            cluster = start_cluster(args.load_cpu)
            curl = cluster.url
        urls = {
            "memory": "memory://",
            "sqlite": f"sqlite:///{workdir / 'state.db'}",
            "redis": rurl,
            "redis-cluster": curl,
        }
        plan = [Target("stateless", False, None)]
        plan += [Target(s, False, urls[s]) for s in args.stores]
        plan += [Target(s, True, urls[s]) for s in args.hot]
        for t in plan:
            if not start(t, args.server_cpu, workdir):
                continue
            problem = verify(t)
            if problem:
                log(f"  {t.label}: SKIPPED, {problem}")
                assert t.proc is not None
                stop(t.proc)
                continue
            log(f"  {t.label}: ready on port {t.port}, answers verified")
            targets.append(t)
        scripts = {False: write_lua(workdir, False, args.pool), True: write_lua(workdir, True)}
        conns = args.connections
        log(f"{conns} connections: warm-up {args.warmup}s each ...")
        for t in targets:
            wrk(t.url, conns, args.warmup, args.load_cpu, scripts[t.hot])
        runs: dict[str, list[dict[str, Any]]] = {t.label: [] for t in targets}
        for rnd in range(1, args.rounds + 1):
            for t in targets:
                assert t.proc is not None
                ok0, all0 = answered(t.port)
                cpu0 = cpu_seconds(t.proc.pid)
                data = wrk(t.url, conns, args.duration, args.load_cpu, scripts[t.hot])
                cpu1 = cpu_seconds(t.proc.pid)
                ok1, all1 = answered(t.port)
                n = int(data["requests"]) or 1
                row = {
                    "target": t.label,
                    "round": rnd,
                    "rps": data["rps"],
                    "p50_ms": data["p50_us"] / 1000,
                    "p99_ms": data["p99_us"] / 1000,
                    "cpu_us_per_req": (cpu1 - cpu0) * 1e6 / n,
                    "rss_mb": proc_status(t.proc.pid, "VmRSS"),
                    "fails": (all1 - all0) - (ok1 - ok0),  # answered a failure code
                    "requests": n,
                    "errors": int(
                        data["status"]
                        + data["connect"]
                        + data["read"]
                        + data["write"]
                        + data["timeout"]
                    ),
                }
                runs[t.label].append(row)
                results["runs"].append(row)
                log(
                    f"  round {rnd} {t.label:<18} {row['rps']:>9,.0f} req/s  "
                    f"p99 {row['p99_ms']:6.2f} ms  fails {row['fails']}"
                )
        base = None
        for t in targets:
            rs = runs[t.label]
            s = Summary(
                label=t.label,
                rps=statistics.median(r["rps"] for r in rs),
                p50_ms=statistics.median(r["p50_ms"] for r in rs),
                p99_ms=statistics.median(r["p99_ms"] for r in rs),
                cpu_us_per_req=statistics.median(r["cpu_us_per_req"] for r in rs),
                rss_mb=max(r["rss_mb"] for r in rs),
                fail_pct=100 * sum(r["fails"] for r in rs) / sum(r["requests"] for r in rs),
                errors=sum(r["errors"] for r in rs),
                rounds_rps=[round(r["rps"]) for r in rs],
            )
            if t.name == "stateless":
                base = s.rps
            s.ratio = s.rps / base if base else 0.0
            results["summary"].append(asdict(s))
    finally:
        for t in targets:
            if t.proc is not None:
                stop(t.proc)
        if redis is not None:
            stop(redis)
        if cluster is not None:
            cluster.close()
    return results


def report(results: dict[str, Any], conns: int) -> list[str]:
    print(f"\n== stateful NUGU path, {conns} connections (medians) ==")
    head = (
        f"{'target':<18} {'req/s':>9} {'x stateless':>11} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'CPU us/req':>10} {'RSS MB':>7} {'fail %':>6}  rounds req/s"
    )
    print(head)
    print("-" * len(head))
    failed = []
    for s in results["summary"]:
        print(
            f"{s['label']:<18} {s['rps']:>9,.0f} {s['ratio']:>11.3f} {s['p50_ms']:>7.2f} "
            f"{s['p99_ms']:>7.2f} {s['cpu_us_per_req']:>10.1f} {s['rss_mb']:>7.1f} "
            f"{s['fail_pct']:>6.2f}  {s['rounds_rps']}"
        )
        if s["label"] in ("sqlite", "redis", "redis-cluster"):
            ok = s["ratio"] >= MIN_RATIO and s["fail_pct"] == 0
            print(f"  target {s['label']} >= {MIN_RATIO} x stateless: {'PASS' if ok else 'FAIL'}")
            if not ok:
                failed.append(s["label"])
    return failed


def in_process(args: argparse.Namespace, workdir: Path, calls: int = 30_000) -> dict[str, float]:
    """CPU time per call of each target's app, called in this process (no server, no wrk),
    64 calls at a time. Less noisy than the server runs on a busy machine. Pin this process
    to one core (``taskset -c 0``) for stable numbers."""
    import asyncio

    async def one(app: Any, body: bytes) -> None:
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        scope = {
            "type": "http",
            "method": "POST",
            "path": PATH,
            "root_path": "",
            "headers": [(b"content-type", b"application/json")],
        }

        async def receive() -> dict[str, Any]:
            return messages.pop()

        async def send(message: Any) -> None:
            return None

        await app(scope, receive, send)

    async def measure(kind: str, url: str | None) -> float:
        os.environ[KIND_ENV] = kind
        os.environ.pop(URL_ENV, None)
        if url:
            os.environ[URL_ENV] = url
        app = make_app()
        await app.startup()
        try:
            bodies = [
                BODY_BYTES.replace(SESSION_ID.encode(), f"s-{i}".encode()) for i in range(POOL)
            ]
            for i in range(0, 4096, 64):  # warm-up; creates entries
                await asyncio.gather(*(one(app, bodies[(i + j) % POOL]) for j in range(64)))
            start = time.process_time()
            for i in range(0, calls, 64):
                await asyncio.gather(*(one(app, bodies[(i + j) % POOL]) for j in range(64)))
            return (time.process_time() - start) * 1e6 / calls
        finally:
            await app.shutdown()

    redis = cluster = None
    out: dict[str, list[float]] = {}
    try:
        plan: list[tuple[str, str | None]] = [("stateless", None)]
        for name in args.stores:
            if name == "redis":
                redis, rport = start_redis(args.load_cpu, workdir)
                plan.append((name, f"redis://127.0.0.1:{rport}/0"))
            elif name == "redis-cluster":
                cluster = start_cluster(args.load_cpu)
                plan.append((name, cluster.url))
            elif name == "sqlite":
                plan.append((name, f"sqlite:///{workdir / 'in-process.db'}"))
            else:
                plan.append((name, "memory://"))
        for _ in range(args.rounds):
            for name, url in plan:
                us = asyncio.run(measure(name, url))
                log(f"  in process {name:<13} {us:6.1f} us CPU per call")
                out.setdefault(name, []).append(us)
    finally:
        if redis is not None:
            stop(redis)
        if cluster is not None:
            cluster.close()
    medians = {k: statistics.median(v) for k, v in out.items()}
    print("\n== in process, CPU per call (medians; no server, no wrk) ==")
    for name, us in medians.items():
        base = medians["stateless"]
        print(f"{name:<13} {us:6.1f} us   x stateless CPU: {base / us:.3f}")
    return medians


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Stateful NUGU path: memory, SQLite, Redis vs stateless (docs/benchmarks.md)",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--duration", type=int, default=8, help="seconds per measured run")
    p.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    p.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--pool", type=int, default=POOL, help="session ids per target (not hot)")
    p.add_argument("--stores", type=lambda s: s.split(","), default=["memory", "sqlite", "redis"])
    p.add_argument(
        "--hot",
        type=lambda s: [x for x in s.split(",") if x],
        default=["sqlite", "redis"],
        help="stores to also measure with one hot session id ('' for none)",
    )
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--load-cpu", default="1", help="core for wrk and redis-server")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--json", type=Path, default=None)
    p.add_argument(
        "--in-process",
        action="store_true",
        help="measure the apps' CPU per call in this process instead (no server, no wrk)",
    )
    args = p.parse_args(argv)
    if args.no_pin or shutil.which("taskset") is None:
        args.server_cpu = args.load_cpu = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        log("wrk is not installed (Debian: apt-get install wrk)")
        return 2
    load1 = os.getloadavg()[0]
    if load1 > 0.5:
        log(f"NOTE: load average is {load1:.2f}; other work shares the cores. Trust ratios only.")
    if args.in_process:
        with tempfile.TemporaryDirectory(prefix="voicehook-store-bench-") as tmp:
            in_process(args, Path(tmp))
        return 0
    with tempfile.TemporaryDirectory(prefix="voicehook-store-bench-") as tmp:
        results = run(args, Path(tmp))
    results["settings"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
    results["loadavg_at_start"] = load1
    failed = report(results, args.connections)
    return finish(results, failed, args.json)


if __name__ == "__main__":
    sys.exit(main())
