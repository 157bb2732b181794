"""A skill turn (Bot Framework, expectReplies) against a NUGU call, same play, same process.

The NUGU call is the baseline: the handler alone. A skill turn adds what voicehook does
when it runs the dialog itself: decode the activity, NLU on the Korean text, the dialog
engine, the handler (in process), the dialog state read and written in the store (memory),
and the reply activities. Each skill request is a new conversation (a counter in the
conversation id), as many users would be.

One uvicorn process (uvloop, httptools) pinned to CPU 1, wrk on CPU 0; a warm-up, then
interleaved rounds; medians.

    .venv/bin/python bench/botframework_skill.py [--rounds 3] [--duration 5] [--connections 32]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import BODY_BYTES  # noqa: E402
from bench.run import (  # noqa: E402
    UVICORN_FLAGS,
    cpu_seconds,
    free_port,
    http_call,
    pin,
    stop,
    wait_ready,
)

STATS = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "VHJSON {\\"requests\\":%.0f,\\"duration_us\\":%.0f,\\"p50_us\\":%.0f," ..
    "\\"p99_us\\":%.0f,\\"errors\\":%.0f,\\"status\\":%.0f}\\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status))
end
"""

NUGU_LUA = (
    'wrk.method = "POST"\n'
    f"wrk.body = [==[{BODY_BYTES.decode()}]==]\n"
    'wrk.headers["Content-Type"] = "application/json"\n' + STATS
)

SKILL_LUA = (
    """
local n = 0
local head = '{"type":"message","id":"a1","channelId":"emulator","from":{"id":"user-1"},' ..
  '"recipient":{"id":"root","role":"skill"},"deliveryMode":"expectReplies",' ..
  '"text":"서울 날씨 알려줘","conversation":{"id":"bench-'
request = function()
  n = n + 1
  local body = head .. tostring(n) .. '-' .. tostring(math.random(1e9)) .. '"}}'
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
"""
    + STATS
)


def wrk(url: str, script: Path, connections: int, duration: int) -> dict[str, Any]:
    cmd = [*pin("0"), "wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    cmd += ["--timeout", "5s", "-s", str(script), url]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    for line in res.stdout.splitlines():
        if line.startswith("VHJSON "):
            data: dict[str, Any] = json.loads(line[7:])
            data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
            return data
    raise RuntimeError(f"cannot parse wrk output:\n{res.stdout}\n{res.stderr}")


def check(port: int) -> None:
    """Both paths answer correctly before anything is measured."""
    status, raw = http_call(port, "POST", "/answer.weather", BODY_BYTES)
    assert status == 200 and json.loads(raw)["resultCode"] == "OK", raw
    act = {
        "type": "message",
        "id": "a1",
        "from": {"id": "u"},
        "conversation": {"id": "check"},
        "text": "서울 날씨 알려줘",
        "deliveryMode": "expectReplies",
    }
    # No Authorization header: the skill runs in anonymous mode.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(
            "POST",
            "/api/messages",
            body=json.dumps(act).encode(),
            headers={"Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        status, raw = resp.status, resp.read()
    finally:
        conn.close()
    replies = json.loads(raw)["activities"]
    assert status == 200 and replies[0]["text"] == "서울 날씨는 맑음, 23도예요.", raw
    assert replies[1]["code"] == "completedSuccessfully", raw


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    ap.add_argument("--connections", type=int, default=32)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vh-bf-bench-"))
    (work / "nugu.lua").write_text(NUGU_LUA)
    (work / "skill.lua").write_text(SKILL_LUA)
    port = free_port()
    cmd = [*pin("1"), sys.executable, "-m", "uvicorn", "bench.apps.botframework_app:app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), *UVICORN_FLAGS]
    with (work / "server.log").open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    try:
        if not wait_ready(proc, port, timeout=60):
            print((work / "server.log").read_text()[-2000:], file=sys.stderr)
            return 1
        check(port)
        base = f"http://127.0.0.1:{port}"
        targets = {"nugu": (base + "/answer.weather", work / "nugu.lua")}
        targets["skill"] = (base + "/api/messages", work / "skill.lua")
        for url, script in targets.values():  # warm-up
            wrk(url, script, args.connections, 2)
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in targets}
        for _ in range(args.rounds):
            for name, (url, script) in targets.items():
                cpu0 = cpu_seconds(proc.pid)
                data = wrk(url, script, args.connections, args.duration)
                data["cpu_us"] = (cpu_seconds(proc.pid) - cpu0) * 1e6 / max(data["requests"], 1)
                runs[name].append(data)
        med = {
            name: {
                key: statistics.median(r[key] for r in rs)
                for key in ("rps", "p50_us", "p99_us", "cpu_us")
            }
            | {"errors": sum(r["errors"] + r["status"] for r in rs)}
            for name, rs in runs.items()
        }
        print(f"{'path':<8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/req':>12}{'errors':>8}")
        for name, m in med.items():
            print(
                f"{name:<8}{m['rps']:>10.0f}{m['p50_us'] / 1000:>9.2f}{m['p99_us'] / 1000:>9.2f}"
                f"{m['cpu_us']:>12.0f}{m['errors']:>8}"
            )
        ratio = med["skill"]["rps"] / med["nugu"]["rps"]
        extra = med["skill"]["cpu_us"] - med["nugu"]["cpu_us"]
        print(f"skill / nugu requests/s: {ratio:.3f}; a skill turn costs {extra:.0f} µs more CPU")
        return 0
    finally:
        stop(proc)


if __name__ == "__main__":
    raise SystemExit(main())
