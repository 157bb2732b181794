"""CLOVA benchmark: one signed CEK IntentRequest, answered by voicehook in direct mode and in
play mode, side by side in one run with a raw ASGI ceiling and clova-cek-sdk + Flask.

Every target verifies ``SignatureCEK`` (RSA PKCS#1 v1.5 / SHA-256) with the bench's own key
and answers the same speech; the harness checks the answers (and that a tampered body is
refused) before it measures. The uvicorn targets run one worker (uvloop, httptools); the
peer runs under gunicorn (gthread, one worker, 8 threads) from its own venv. The servers are
pinned to one core and wrk to the other; warm-up, then interleaved rounds, medians.

The RSA verify cost is measured separately (µs per verify in this process).

Targets from docs/benchmarks.md: direct ≥ 0.6 × ceiling, play ≥ 0.4 × ceiling, both
≥ 5 × clova-cek-sdk.

    .venv/bin/python bench/clova_bench.py
    .venv/bin/python bench/clova_bench.py --rounds 3 --duration 5 --json bench/results/clova.json
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import padding, rsa  # noqa: E402

from bench.clova_apps import APP_ID, KEY_ENV, speech_for  # noqa: E402
from bench.run import (  # noqa: E402
    LUA_TEMPLATE,
    UVICORN_FLAGS,
    Run,
    Server,
    cpu_seconds,
    free_port,
    log,
    measure,
    pin,
    stop,
    summarize,
    wrk,
)

PATH = "/clova"
DIRECT_MIN = 0.6
PLAY_MIN = 0.4
PEER_MIN = 5.0
PEER_PACKAGES = ["clova-cek-sdk==1.1.2", "flask", "gunicorn"]

# The summary line that bench/run.py's wrk() reads.
LUA_DONE = LUA_TEMPLATE[LUA_TEMPLATE.index("done = function") :]
LUA = (
    """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json;charset-UTF-8"
wrk.headers["SignatureCEK"] = "{signature}"

"""
    + LUA_DONE
)


def cek_body() -> bytes:
    """A CEK IntentRequest as CLOVA sends it (compact JSON, with the real-traffic extras)."""
    body = {
        "version": "1.0",
        "session": {
            "new": True,
            "sessionAttributes": {},
            "sessionId": "a29cfead-c5ba-474d-8745-6c1a6625f0c5",
            "user": {"userId": "U399a1e08a8d474521fc4bbd8c7b4148f"},
        },
        "context": {
            "System": {
                "application": {"applicationId": APP_ID},
                "user": {"userId": "U399a1e08a8d474521fc4bbd8c7b4148f"},
                "device": {"deviceId": "096e6b27-1717-33e9", "display": {"size": "none"}},
            }
        },
        "request": {
            "type": "IntentRequest",
            "requestId": "12345678-aaaa-bbbb-cccc-1234567890ab",
            "timestamp": "2026-01-01T00:00:00Z",
            "locale": "ko-KR",
            "extensionId": APP_ID,
            "intent": {
                "name": "ask.weather",
                "intent": "ask.weather",
                "slots": {"location": {"name": "location", "value": "서울"}},
            },
        },
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def post(port: int, body: bytes, signature: str | None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        headers = {"Content-Type": "application/json;charset-UTF-8"}
        if signature is not None:
            headers["SignatureCEK"] = signature
        conn.request("POST", PATH, body, headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def verify(port: int, body: bytes, signature: str) -> list[str]:
    problems = []
    status, raw = post(port, body, signature)
    try:
        data = json.loads(raw)
        speech = data["response"]["outputSpeech"]["values"]["value"]
        end = data["response"]["shouldEndSession"]
    except (ValueError, KeyError, TypeError):
        return [f"status {status}, not a CEK answer: {raw[:200]!r}"]
    if status != 200 or speech != speech_for("서울") or end is not True:
        problems.append(f"status {status}, speech {speech!r}, shouldEndSession {end}")
    if data.get("version") != "1.0":
        problems.append(f"version {data.get('version')!r} (not echoed)")
    tampered_status, _ = post(port, body.replace("서울".encode(), "부산".encode()), signature)
    if tampered_status == 200:
        problems.append("a tampered body was answered: signatures are not checked")
    return problems


def wait_health(proc: subprocess.Popen[bytes], port: int, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        with contextlib.suppress(OSError, http.client.HTTPException):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return True
        time.sleep(0.1)
    return False


def peer_python(venv: Path) -> Path:
    """The peer's interpreter; the venv is made (once) with the peer's packages."""
    python = venv / "bin" / "python"
    if not python.exists():
        log(f"making the peer venv {venv} ({', '.join(PEER_PACKAGES)}) ...")
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        subprocess.run(
            [str(python), "-m", "pip", "install", "-q", *PEER_PACKAGES], check=True, timeout=600
        )
    return python


def start(
    name: str, cmd: list[str], env: dict[str, str], workdir: Path, port: int
) -> Server | None:
    log_path = workdir / f"{name}.log"
    with log_path.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if not wait_health(proc, port):
        stop(proc)
        tail = log_path.read_text(errors="replace").strip().splitlines()[-8:]
        log(f"  {name}: did not start; skipped. Log tail:\n    " + "\n    ".join(tail))
        return None
    return Server(name, proc, port, f"http://127.0.0.1:{port}{PATH}", log_path)


def commands(args: argparse.Namespace, port: int) -> dict[str, list[str]]:
    cpu = args.server_cpu
    uv = [*pin(cpu), sys.executable, "-m", "uvicorn"]
    where = ["--host", "127.0.0.1", "--port", str(port), *UVICORN_FLAGS]
    out = {
        "ceiling": [*uv, "bench.clova_apps:ceiling", *where],
        "direct": [*uv, "--factory", "bench.clova_apps:direct_app", *where],
        "play": [*uv, "--factory", "bench.clova_apps:play_app", *where],
    }
    if not args.no_peer:
        python = peer_python(Path(args.peer_venv))
        out["clova-cek-sdk"] = [
            *pin(cpu),
            str(python),
            "-m",
            "gunicorn",
            "-k",
            "gthread",
            "-w",
            "1",
            "--threads",
            "8",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "bench.clova_peer:app",
        ]
    return out


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and its descendants (gunicorn's work is in its
    worker, a child of the arbiter)."""
    total = cpu_seconds(pid)
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    return total


def measure_tree(
    server: Server, conns: int, duration: int, cpu: str | None, lua: Path, rnd: int
) -> Run:
    """:func:`bench.run.measure`, with the CPU of the whole process tree."""
    before = tree_cpu_seconds(server.proc.pid)
    run = measure(server, conns, duration, cpu, lua, rnd)
    spent = tree_cpu_seconds(server.proc.pid) - before
    if run.requests:
        run.cpu_us_per_req = spent * 1e6 / run.requests
    return run


RSA_CODE = """
import base64, statistics, sys, time
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
key = serialization.load_pem_public_key(open(sys.argv[1], "rb").read())
body = open(sys.argv[2], "rb").read()
sig = base64.b64decode(sys.argv[3])
times = []
for _ in range(5):
    t0 = time.process_time()
    for _ in range(1000):
        key.verify(sig, body, padding.PKCS1v15(), hashes.SHA256())
    times.append((time.process_time() - t0) / 1000 * 1e6)
print(statistics.median(times))
"""


def rsa_verify_us(cpu: str | None, pem: Path, body_path: Path, signature: str) -> float:
    """µs of one RSA-2048 PKCS#1 v1.5 / SHA-256 verify of the body, measured in a process
    pinned to the servers' core (median of 5 batches of 1,000)."""
    res = subprocess.run(
        [*pin(cpu), sys.executable, "-c", RSA_CODE, str(pem), str(body_path), signature],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return float(res.stdout.strip())


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=5, help="seconds per round")
    p.add_argument("--warmup", type=int, default=2, help="warm-up seconds per target")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--server-cpu", default="0")
    p.add_argument("--load-cpu", default="1")
    p.add_argument("--no-pin", action="store_true")
    p.add_argument("--no-peer", action="store_true", help="leave clova-cek-sdk out")
    p.add_argument("--peer-venv", default=str(Path(tempfile.gettempdir()) / "voicehook-bench-cek"))
    p.add_argument("--json", type=Path, help="write the results here")
    args = p.parse_args(argv)
    if args.no_pin or shutil.which("taskset") is None:
        args.server_cpu = args.load_cpu = None
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        log("wrk is not installed (Debian: apt-get install wrk)")
        return 2
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    body = cek_body()
    signature = base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()
    results: dict[str, Any] = {
        "machine": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_avg_at_start": os.getloadavg(),
        "body_bytes": len(body),
        "runs": [],
    }
    with tempfile.TemporaryDirectory(prefix="clova-bench-") as tmp:
        workdir = Path(tmp)
        pem = workdir / "bench-key.pem"
        pem.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
        env = dict(os.environ)
        env[KEY_ENV] = str(pem)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
        )
        body_path = workdir / "body.json"
        body_path.write_bytes(body)
        rsa_samples: list[float] = []
        lua = workdir / "cek.lua"
        lua.write_text(LUA.format(body=body.decode(), signature=signature))
        servers: list[Server] = []
        try:
            names = ["ceiling", "direct", "play"] + ([] if args.no_peer else ["clova-cek-sdk"])
            for name in names:
                port = free_port()
                cmd = commands(args, port)[name]
                server = start(name, cmd, env, workdir, port)
                if server is None:
                    continue
                problems = verify(port, body, signature)
                if problems:
                    log(f"  {name}: SKIPPED, wrong answer: " + "; ".join(problems))
                    stop(server.proc)
                    continue
                log(f"  {name}: ready on port {port}, answer and signature check verified")
                servers.append(server)
            conns = args.connections
            for server in servers:
                wrk(server.url, conns, args.warmup, args.load_cpu, lua)
            runs: dict[str, list[Run]] = {s.name: [] for s in servers}
            for rnd in range(1, args.rounds + 1):
                rsa_samples.append(rsa_verify_us(args.server_cpu, pem, body_path, signature))
                log(f"  round {rnd} RSA verify: {rsa_samples[-1]:.1f} µs")
                for server in servers:
                    run = measure_tree(server, conns, args.duration, args.load_cpu, lua, rnd)
                    runs[server.name].append(run)
                    log(f"  round {rnd} {server.name}: {run.rps:,.0f} req/s")
                    results["runs"].append(run.__dict__)
        finally:
            for server in servers:
                stop(server.proc)
    results["rsa_verify_us"] = statistics.median(rsa_samples)
    results["rsa_verify_rounds_us"] = rsa_samples
    summaries = {name: summarize(rs) for name, rs in runs.items() if rs}
    results["summary"] = {n: s.__dict__ for n, s in summaries.items()}
    results["load_avg_at_end"] = os.getloadavg()
    return report(summaries, results, args)


def report(summaries: dict[str, Any], results: dict[str, Any], args: argparse.Namespace) -> int:
    print(f"\n== CLOVA: signed IntentRequest, {args.connections} connections (medians) ==")
    head = (
        f"{'target':<14} {'req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'RSS MB':>7} "
        f"{'CPU us/req':>10} {'errors':>6}  rounds req/s"
    )
    print(head)
    print("-" * len(head))
    for s in summaries.values():
        print(
            f"{s.target:<14} {s.rps:>9,.0f} {s.p50_ms:>7.2f} {s.p99_ms:>7.2f} {s.rss_mb:>7.1f} "
            f"{s.cpu_us_per_req:>10.1f} {s.errors:>6}  {s.rounds_rps}"
        )
    verify_us = results["rsa_verify_us"]
    print(
        f"RSA verify, alone (CPU time, on the servers' core): {verify_us:.1f} µs per request "
        f"(rounds: {', '.join(f'{v:.1f}' for v in results['rsa_verify_rounds_us'])}); "
        "every target above pays it"
    )
    failed = []
    ratios: dict[str, float] = {}
    ceiling = summaries.get("ceiling")
    peer = summaries.get("clova-cek-sdk")
    for name, floor in (("direct", DIRECT_MIN), ("play", PLAY_MIN)):
        s = summaries.get(name)
        if s is None:
            failed.append(f"{name}: not measured")
            continue
        if ceiling is not None:
            ratio = s.rps / ceiling.rps
            ratios[f"{name}/ceiling"] = ratio
            ok = ratio >= floor
            print(
                f"{name} / ceiling: {ratio:.3f}  (target >= {floor}: {'met' if ok else 'NOT met'})"
            )
            print(
                f"  CPU/req without the RSA verify: {name} {s.cpu_us_per_req - verify_us:.1f} µs, "
                f"ceiling {ceiling.cpu_us_per_req - verify_us:.1f} µs"
            )
            if not ok:
                failed.append(f"{name}/ceiling {ratio:.3f} < {floor}")
        if peer is not None and s.cpu_us_per_req:
            cpu_ratio = peer.cpu_us_per_req / s.cpu_us_per_req
            ratios[f"{name}/clova-cek-sdk (CPU per request)"] = cpu_ratio
            print(
                f"clova-cek-sdk CPU/req / {name} CPU/req: {cpu_ratio:.2f} (less noisy cross-check)"
            )
        if ceiling is not None and s.cpu_us_per_req:
            cpu_ratio = ceiling.cpu_us_per_req / s.cpu_us_per_req
            ratios[f"{name}/ceiling (CPU per request)"] = cpu_ratio
            print(f"ceiling CPU/req / {name} CPU/req: {cpu_ratio:.3f} (less noisy cross-check)")
        if peer is not None:
            ratio = s.rps / peer.rps
            ratios[f"{name}/clova-cek-sdk"] = ratio
            ok = ratio >= PEER_MIN
            verdict = "met" if ok else "NOT met"
            print(f"{name} / clova-cek-sdk: {ratio:.2f}  (target >= {PEER_MIN}: {verdict})")
            if not ok:
                failed.append(f"{name}/clova-cek-sdk {ratio:.2f} < {PEER_MIN}")
        if s.errors:
            failed.append(f"{name}: {s.errors} errors")
    load = results["load_avg_at_start"]
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} ({os.cpu_count()} CPUs)"
    )
    results["ratios"] = ratios
    results["failed"] = failed
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
