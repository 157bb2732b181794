"""uvicorn or granian? Serve the same voicehook app with each and compare under wrk.

    .venv/bin/pip install granian        # bench-only
    .venv/bin/python bench/server_choice.py [--rounds 3] [--duration 8]

Each server runs pinned to core 0 with one worker and uvloop; wrk runs on core 1 with 64
connections. Rounds are interleaved. CPU per request counts the server process and its
children (granian's Rust threads included).
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import BODY_BYTES  # noqa: E402
from bench.run import free_port  # noqa: E402

PY = str(ROOT / ".venv" / "bin" / "python")
APP = "bench.apps.voicehook_app:app"


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by ``pid`` and its children."""
    kids = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    total = 0.0
    for p in [pid, *map(int, kids.split())]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def command(server: str, port: int) -> list[str]:
    pin = ["taskset", "-c", "0"]
    if server == "uvicorn":
        return [
            *pin,
            PY,
            "-m",
            "uvicorn",
            APP,
            "--port",
            str(port),
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    return [
        *pin,
        str(ROOT / ".venv" / "bin" / "granian"),
        "--interface",
        "asgi",
        "--loop",
        "uvloop",
        "--workers",
        "1",
        "--no-ws",
        "--log-level",
        "warning",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        APP,
    ]


def measure(server: str, lua: str, duration: int) -> tuple[float, float, str]:
    port = free_port()
    proc = subprocess.Popen(
        command(server, port), cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/answer.weather"
        wrk = ["taskset", "-c", "1", "wrk", "-t1", "-c64", "--latency", "-s", lua]
        subprocess.run([*wrk, "-d3s", url], capture_output=True, check=True)  # warm-up
        before = tree_cpu(proc.pid)
        out = subprocess.run(
            [*wrk, f"-d{duration}s", url], capture_output=True, text=True, check=True
        ).stdout
        used = tree_cpu(proc.pid) - before
    finally:
        proc.terminate()
        proc.wait()
    count = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    if "Non-2xx" in out:
        raise SystemExit(f"{server}: non-2xx answers; the measurement is invalid")
    p99 = re.search(r"99%\s+(\S+)", out)
    return count / duration, used / count * 1e6, p99.group(1) if p99 else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    args = parser.parse_args()
    lua = Path(tempfile.mkdtemp(prefix="voicehook-server-choice-")) / "post.lua"
    lua.write_text(
        'wrk.method = "POST"\nwrk.body = [[' + BODY_BYTES.decode() + "]]\n"
        'wrk.headers["Content-Type"] = "application/json"\n',
        encoding="utf-8",
    )
    results: dict[str, list[tuple[float, float, str]]] = {"uvicorn": [], "granian": []}
    for r in range(args.rounds):
        for server in results:
            results[server].append(measure(server, str(lua), args.duration))
            rps, cpu, p99 = results[server][-1]
            print(f"round {r + 1} {server:8s} {rps:9,.0f} req/s  {cpu:5.1f} us/req  p99 {p99}")
    print()
    for server, rows in results.items():
        rps = sorted(x[0] for x in rows)[len(rows) // 2]
        cpu = sorted(x[1] for x in rows)[len(rows) // 2]
        print(f"{server:8s} median {rps:9,.0f} req/s  {cpu:5.1f} us/req")


if __name__ == "__main__":
    main()
