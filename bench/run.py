"""Benchmark voicehook against a raw ASGI ceiling and FastAPI, side by side in one run.

Each target runs in its own uvicorn process (uvloop, httptools, 1 worker) pinned to one core.
wrk runs on the other core. The harness first checks that every target gives the correct
answer, then does a warm-up, then interleaved rounds, and prints medians and ratios.

Examples:
    .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --scenario upstream
    .venv/bin/python bench/run.py --scenario all --json bench/results/run.json
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import platform
import shutil
import signal
import socket
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

from bench.common import (  # noqa: E402
    AUTH_HEADER,
    BODY_BYTES,
    CHECK_BODIES,
    PATH,
    UPSTREAM_DELAY_S,
    UPSTREAM_ENV,
    expected_response,
)

TARGETS = {
    "ceiling": "bench.apps.ceiling",
    "voicehook": "bench.apps.voicehook_app",
    # --baseline-src: the voicehook app from another source tree, for before/after runs.
    "baseline": "bench.apps.voicehook_app",
    "fastapi": "bench.apps.fastapi_app",
}
UVICORN_FLAGS = [
    "--loop",
    "uvloop",
    "--http",
    "httptools",
    "--no-access-log",
    "--log-level",
    "warning",
    "--workers",
    "1",
]
# Targets from docs/benchmarks.md.
PLAIN_MIN_RATIO = 0.8
PLAIN_MAX_P99_MS = 3.0
UPSTREAM_MIN_RATIO = 0.9
CLK_TCK = os.sysconf("SC_CLK_TCK")

LUA_TEMPLATE = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "VHJSON {{\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"p50_us\\":%.0f," ..
    "\\"p90_us\\":%.0f,\\"p99_us\\":%.0f,\\"max_us\\":%.0f,\\"connect\\":%.0f," ..
    "\\"read\\":%.0f,\\"write\\":%.0f,\\"status\\":%.0f,\\"timeout\\":%.0f}}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclass
class Run:
    target: str
    connections: int
    round: int
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    requests: int
    non2xx: int
    socket_errors: int
    rss_mb: float
    cpu_us_per_req: float

    @property
    def flagged(self) -> bool:
        return self.non2xx > 0 or self.socket_errors > 0


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    url: str
    log_path: Path


@dataclass
class Summary:
    target: str
    connections: int
    rps: float
    p50_ms: float
    p99_ms: float
    rss_mb: float
    cpu_us_per_req: float
    core_pct: float
    errors: int
    rounds_rps: list[float] = field(default_factory=list)


# --------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pin(cpu: str | None) -> list[str]:
    return ["taskset", "-c", cpu] if cpu is not None else []


def proc_status(pid: int, key: str) -> float:
    """A value in kB from /proc/<pid>/status, as MB. 0 when it cannot be read."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, in seconds."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def http_call(
    port: int, method: str, path: str, body: bytes | None = None, timeout: float = 5.0
) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Authorization": AUTH_HEADER}
        if body is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], port: int, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError, http.client.HTTPException):
            status, _ = http_call(port, "GET", "/health", timeout=1.0)
            if status == 200:
                return True
        time.sleep(0.1)
    return False


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)


# --------------------------------------------------------------------------- targets


def import_error(module: str, env: dict[str, str]) -> str | None:
    """Return the import error of `module`, or None if it imports."""
    res = subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if res.returncode == 0:
        return None
    lines = [ln for ln in res.stderr.strip().splitlines() if ln.strip()]
    return lines[-1] if lines else f"exit code {res.returncode}"


#: ``--guard``: the voicehook targets (and ``baseline``) run on ``voicehook serve``'s HTTP
#: protocol (uvicorn's httptools protocol plus the connection guard,
#: voicehook.server.guard) instead of httptools. The ceiling stays on plain httptools.
GUARD_PROTOCOL = "voicehook.server.guard:GuardedHttpToolsProtocol"


def start_server(
    name: str,
    attr: str,
    env: dict[str, str],
    cpu: str | None,
    workdir: Path,
    guard: bool = False,
) -> Server | None:
    module = TARGETS[name]
    flags = list(UVICORN_FLAGS)
    if guard and name in ("voicehook", "baseline"):
        flags[flags.index("httptools")] = GUARD_PROTOCOL
    port = free_port()
    log_path = workdir / f"{name}-{attr}.log"
    cmd = [
        *pin(cpu),
        sys.executable,
        "-m",
        "uvicorn",
        f"{module}:{attr}",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *flags,
    ]
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if not wait_ready(proc, port):
        stop(proc)
        tail = log_path.read_text(errors="replace").strip().splitlines()[-5:]
        log(f"  {name}: did not become ready; skipped. Log tail:\n    " + "\n    ".join(tail))
        return None
    return Server(name, proc, port, f"http://127.0.0.1:{port}{PATH}", log_path)


def verify(server: Server) -> list[str]:
    """Check the answers of `server` against the expected JSON. Return the problems."""
    problems = []
    for body in CHECK_BODIES:
        raw = json.dumps(body, ensure_ascii=False).encode()
        try:
            status, answer = http_call(server.port, "POST", PATH, raw)
        except (OSError, http.client.HTTPException) as exc:
            problems.append(f"request failed: {exc!r}")
            continue
        want = expected_response(body)
        try:
            got = json.loads(answer)
        except ValueError:
            got = answer.decode(errors="replace")
        if status != 200 or got != want:
            problems.append(f"status {status}\n      got  {got}\n      want {want}")
    return problems


# --------------------------------------------------------------------------- wrk


def write_lua(workdir: Path) -> Path:
    body = BODY_BYTES.decode()
    if "]==]" in body:
        raise ValueError("body cannot go into a Lua long string")
    path = workdir / "post.lua"
    path.write_text(LUA_TEMPLATE.format(body=body, auth=AUTH_HEADER))
    return path


def wrk(
    url: str, connections: int, duration: int, cpu: str | None, script: Path | None
) -> dict[str, Any]:
    cmd = [*pin(cpu), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    cmd += ["--timeout", "5s"]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in res.stdout.splitlines():
        if line.startswith("VHJSON "):
            data: dict[str, Any] = json.loads(line[len("VHJSON ") :])
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
            return data
    # No Lua summary (a GET without a script): read the text report.
    for line in res.stdout.splitlines():
        if line.startswith("Requests/sec:"):
            return {"rps": float(line.split()[1]), "raw": res.stdout}
    raise RuntimeError(f"cannot parse wrk output:\n{res.stdout}\n{res.stderr}")


def measure(
    server: Server, connections: int, duration: int, cpu: str | None, script: Path, rnd: int
) -> Run:
    pid = server.proc.pid
    cpu0 = cpu_seconds(pid)
    data = wrk(server.url, connections, duration, cpu, script)
    cpu1 = cpu_seconds(pid)
    requests = int(data["requests"])
    return Run(
        target=server.name,
        connections=connections,
        round=rnd,
        rps=data["rps"],
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        max_ms=data["max_us"] / 1000,
        requests=requests,
        non2xx=int(data["status"]),
        socket_errors=int(data["connect"] + data["read"] + data["write"] + data["timeout"]),
        rss_mb=proc_status(pid, "VmRSS"),
        cpu_us_per_req=(cpu1 - cpu0) * 1e6 / requests if requests else 0.0,
    )


# --------------------------------------------------------------------------- fake upstream


def start_upstream(cpu: str | None, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [*pin(cpu), sys.executable, "-m", "bench.fake_upstream", "--port", str(port)]
    cmd += ["--delay", str(UPSTREAM_DELAY_S)]
    with (workdir / "upstream.log").open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    if not wait_ready(proc, port):
        stop(proc)
        raise RuntimeError("the fake upstream did not start; see " + str(workdir))
    return proc, port


def check_upstream(port: int, cpu: str | None, duration: int) -> dict[str, float]:
    """The fake upstream alone must easily beat what the targets can ask of it."""
    url = f"http://127.0.0.1:{port}/weather?location=%EC%84%9C%EC%9A%B8"
    out = {}
    for conns in (256, 1024):
        rps = wrk(url, conns, duration, cpu, None)["rps"]
        bound = conns / UPSTREAM_DELAY_S
        out[f"c{conns}"] = rps
        log(f"  fake upstream alone: {rps:,.0f} req/s at {conns} connections (bound {bound:,.0f})")
    if out["c1024"] < 2 * 256 / UPSTREAM_DELAY_S:
        log("  WARNING: the fake upstream may be a bottleneck (< 2 x 5,120 req/s at 1024).")
    return out


# --------------------------------------------------------------------------- report


def summarize(runs: list[Run]) -> Summary:
    return Summary(
        target=runs[0].target,
        connections=runs[0].connections,
        rps=statistics.median(r.rps for r in runs),
        p50_ms=statistics.median(r.p50_ms for r in runs),
        p99_ms=statistics.median(r.p99_ms for r in runs),
        rss_mb=max(r.rss_mb for r in runs),
        cpu_us_per_req=statistics.median(r.cpu_us_per_req for r in runs),
        core_pct=statistics.median(r.rps * r.cpu_us_per_req / 1e4 for r in runs),
        errors=sum(r.non2xx + r.socket_errors for r in runs),
        rounds_rps=[round(r.rps) for r in runs],
    )


def print_table(scenario: str, conns: int, summaries: dict[str, Summary]) -> list[str]:
    """Print one result table. Return the target checks that failed."""
    print(f"\n== scenario {scenario}, {conns} connections (medians) ==")
    head = (
        f"{'target':<10} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7} "
        f"{'CPU us/req':>10} {'core %':>6} {'errors':>6}  rounds req/s"
    )
    print(head)
    print("-" * len(head))
    for s in summaries.values():
        flag = "  <- ERRORS" if s.errors else ""
        print(
            f"{s.target:<10} {s.rps:>9,.0f} {s.p50_ms:>7.2f} {s.p99_ms:>7.2f} {s.rss_mb:>7.1f} "
            f"{s.cpu_us_per_req:>10.1f} {s.core_pct:>6.0f} {s.errors:>6}  {s.rounds_rps}{flag}"
        )
    if any(s.core_pct < 80 for s in summaries.values()) and scenario == "plain":
        print("note: core % < 80 means the server did not get its core; the machine is busy")
    failed = []
    vh = summaries.get("voicehook")
    for other in ("ceiling", "fastapi"):
        if vh and other in summaries and summaries[other].rps:
            print(f"voicehook / {other}: {vh.rps / summaries[other].rps:.3f} (req/s)")
    if vh and "ceiling" in summaries and vh.cpu_us_per_req:
        cpu_ratio = summaries["ceiling"].cpu_us_per_req / vh.cpu_us_per_req
        print(f"ceiling CPU/req / voicehook CPU/req: {cpu_ratio:.3f} (less noisy cross-check)")
    if vh and "ceiling" in summaries:
        ratio = vh.rps / summaries["ceiling"].rps
        if scenario == "plain":
            ok = ratio >= PLAIN_MIN_RATIO and (conns != 64 or vh.p99_ms <= PLAIN_MAX_P99_MS)
            goal = f">= {PLAIN_MIN_RATIO} x ceiling, p99 <= {PLAIN_MAX_P99_MS} ms at 64"
        else:
            ok = ratio >= UPSTREAM_MIN_RATIO
            goal = f">= {UPSTREAM_MIN_RATIO} x ceiling"
        print(f"target ({goal}): {'PASS' if ok else 'FAIL'}")
        if not ok:
            failed.append(f"{scenario}/c{conns}")
    if vh and vh.errors:
        failed.append(f"{scenario}/c{conns} errors")
    if scenario == "upstream":
        print(f"upper bound: {conns / UPSTREAM_DELAY_S:,.0f} req/s ({conns} / 50 ms)")
    return failed


# --------------------------------------------------------------------------- main


def run_scenario(
    scenario: str, args: argparse.Namespace, workdir: Path, results: dict[str, Any]
) -> list[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    attr = "app" if scenario == "plain" else "upstream_app"
    conns_list = args.connections or ([64] if scenario == "plain" else [64, 256])
    upstream = None
    servers: list[Server] = []
    failed: list[str] = []
    scen: dict[str, Any] = {"connections": conns_list, "skipped": {}, "runs": [], "summary": []}
    results["scenarios"][scenario] = scen
    try:
        if scenario == "upstream":
            upstream, uport = start_upstream(args.load_cpu, workdir)
            env[UPSTREAM_ENV] = f"http://127.0.0.1:{uport}"
            log("checking the fake upstream alone ...")
            scen["upstream_alone_rps"] = check_upstream(uport, args.load_cpu, 3)
        targets = list(args.targets)
        envs = {name: env for name in targets}
        if args.baseline_src is not None:
            # The same voicehook app, imported from another source tree (an older commit).
            base = dict(env)
            base["PYTHONPATH"] = os.pathsep.join(
                (str(args.baseline_src / "src"), env["PYTHONPATH"])
            )
            at = targets.index("voicehook") if "voicehook" in targets else len(targets)
            targets.insert(at, "baseline")
            envs["baseline"] = base
        for name in targets:
            target_env = envs[name]
            err = import_error(TARGETS[name], target_env)
            if err is not None:
                log(f"  {name}: SKIPPED, cannot import {TARGETS[name]}: {err}")
                scen["skipped"][name] = f"import failed: {err}"
                continue
            server = start_server(name, attr, target_env, args.server_cpu, workdir, args.guard)
            if server is None:
                scen["skipped"][name] = "did not start"
                continue
            problems = verify(server)
            if problems:
                log(f"  {name}: SKIPPED, wrong answer:\n    " + "\n    ".join(problems))
                scen["skipped"][name] = "wrong answer"
                stop(server.proc)
                continue
            log(f"  {name}: ready on port {server.port}, answers verified")
            servers.append(server)
        if not servers:
            log("no target to measure")
            return [f"{scenario}: nothing measured"]
        script = write_lua(workdir)
        for conns in conns_list:
            log(f"scenario {scenario}, {conns} connections: warm-up {args.warmup}s each ...")
            for server in servers:
                wrk(server.url, conns, args.warmup, args.load_cpu, script)
            runs: dict[str, list[Run]] = {s.name: [] for s in servers}
            for rnd in range(1, args.rounds + 1):
                for server in servers:
                    r = measure(server, conns, args.duration, args.load_cpu, script, rnd)
                    runs[server.name].append(r)
                    scen["runs"].append(asdict(r))
                    mark = "  <- ERRORS" if r.flagged else ""
                    log(
                        f"  round {rnd} {server.name:<10} {r.rps:>9,.0f} req/s "
                        f"p99 {r.p99_ms:6.2f} ms{mark}"
                    )
            summaries = {name: summarize(rs) for name, rs in runs.items()}
            scen["summary"] += [asdict(s) for s in summaries.values()]
            failed += print_table(scenario, conns, summaries)
    finally:
        for server in servers:
            stop(server.proc)
        if upstream is not None:
            stop(upstream)
    return failed


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark voicehook against a raw ASGI ceiling and FastAPI (see "
        "docs/benchmarks.md).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--scenario", choices=["plain", "upstream", "all"], default="plain", help="what to run"
    )
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument(
        "--baseline-src",
        type=Path,
        default=None,
        help="also measure the voicehook app from this source tree (e.g. a git worktree of an "
        "older commit) as target 'baseline', interleaved with the others",
    )
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per target")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per target")
    parser.add_argument(
        "--connections",
        type=lambda s: [int(x) for x in s.split(",")],
        default=None,
        help="comma list; default 64 (plain) or 64,256 (upstream)",
    )
    parser.add_argument(
        "--targets",
        type=lambda s: s.split(","),
        default=[t for t in TARGETS if t != "baseline"],
        help="comma list of " + ",".join(TARGETS),
    )
    parser.add_argument("--server-cpu", default="0", help="core for the servers (taskset -c)")
    parser.add_argument("--load-cpu", default="1", help="core for wrk and the fake upstream")
    parser.add_argument("--no-pin", action="store_true", help="do not use taskset")
    parser.add_argument("--json", type=Path, default=None, help="write all results here")
    parser.add_argument(
        "--guard",
        action="store_true",
        help="run the voicehook target on voicehook serve's guarded HTTP protocol",
    )
    args = parser.parse_args(argv)
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        parser.error(f"unknown targets: {unknown}")
    if args.duration < 1 or args.rounds < 1 or args.warmup < 1:
        parser.error("--duration, --rounds and --warmup must be >= 1")
    if args.no_pin or shutil.which("taskset") is None:
        args.server_cpu = args.load_cpu = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        log("wrk is not installed (Debian: apt-get install wrk)")
        return 2
    if args.server_cpu is None:
        log("WARNING: not pinning cores; numbers will be noisier")
    load1 = os.getloadavg()[0]
    if load1 > 0.5:
        log(f"NOTE: load average is {load1:.2f}; other work shares the cores. Trust ratios only.")
    scenarios = ["plain", "upstream"] if args.scenario == "all" else [args.scenario]
    results: dict[str, Any] = {
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "loadavg_at_start": os.getloadavg(),
        },
        "settings": {
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "server_cpu": args.server_cpu,
            "load_cpu": args.load_cpu,
            "uvicorn": UVICORN_FLAGS,
        },
        "scenarios": {},
    }
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="voicehook-bench-") as tmp:
        for scenario in scenarios:
            failed += run_scenario(scenario, args, Path(tmp), results)
    results["failed_targets"] = failed
    return finish(results, failed, args.json)


def finish(results: dict[str, Any], failed: list[str], json_path: Path | None) -> int:
    """Write the JSON results (if asked), print the missed targets; the exit code."""
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        log(f"results written to {json_path}")
    if failed:
        print("\nnot met: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
