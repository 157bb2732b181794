"""Fuzz ``voicehook serve`` with mutated NUGU requests and report the HTTP statuses.

For each example play (examples/*) the command starts a real ``voicehook serve`` on
127.0.0.1 (``--api-key`` set and ``--play-builder allow``, so both auth paths are reached),
builds a valid request for every action of the play, and sends N mutated bodies: wrong
types in every field, list/dict/deep values, nesting from 1 to 10,000 levels, huge strings,
invalid UTF-8, truncated and bit-flipped bytes, unknown actions, missing session ids, with
and without the API key. The bar: no 5xx, no stack trace and no echo of the body in any
answer, and no traceback in the server log.

    .venv/bin/python bench/fuzz.py                      # 100,000 bodies per example
    .venv/bin/python bench/fuzz.py --requests 5000 --plays quiz --json fuzz.json

Exit status 1 when any 5xx, traceback or transport error was seen.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
API_KEY = "fuzz-key-0001"
MARKER = "FUZZ-MARKER-7d1c"  # put into bodies; must never come back in an error answer
PLACEHOLDER = "__deep_value__"
HEAD_CAP = 16 * 1024  # voicehook serve's default --max-header-bytes
sys.path.insert(0, str(ROOT / "src"))

from voicehook.play import load_definition  # noqa: E402

# ---------------------------------------------------------------------------- bodies


def seeds(play_dir: Path) -> list[dict[str, Any]]:
    """One valid request per action of the play, with sample values for its parameters."""
    definition = load_definition(play_dir)
    samples = ["서울", "1", "TODAY", "두 번째", "봄노래", "3", "더하기", "맞아"]
    for entity in definition.entities.values():
        samples.extend(list(entity.values)[:3])
    out = []
    rng = random.Random(1)
    for name in definition.actions:
        params = {}
        for pname, p in definition.action_parameters(name).items():
            if p.kind == "utterance" and rng.random() < 0.8:
                params[pname] = {"type": p.type, "value": rng.choice(samples)}
        out.append(
            {
                "version": "2.0",
                "action": {"actionName": name, "parameters": params},
                "event": {"type": "Text.TextInput"},
                "context": {
                    "session": {"id": f"fuzz-{rng.randrange(50)}", "isNew": rng.random() < 0.3},
                    "device": {"type": "speaker.nugu.nu200", "state": {}},
                    "supportedInterfaces": {
                        "AudioPlayer": {
                            "playerActivity": "PLAYING",
                            "token": "t1",
                            "offsetInMilliseconds": 1000,
                        }
                    },
                },
            }
        )
    return out


def deep(rng: random.Random) -> str:
    """A JSON text nested 1 to 10,000 levels (arrays and objects mixed)."""
    depth = rng.choice([rng.randint(1, 70), rng.randint(60, 1200), rng.randint(1000, 10_000)])
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"a":')
            closes.append("}")
    return "".join(opens) + '"x"' + "".join(reversed(closes))


def random_value(rng: random.Random) -> Any:
    kind = rng.randrange(14)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, -(2**70), 1e308, 3.5])
    if kind == 3:
        return rng.choice(["", " ", MARKER, "서울", "\u0000", "\ud7ff", "a" * 300])
    if kind == 4:
        return MARKER * rng.randint(100, 20_000)  # up to ~320 KB
    if kind == 5:
        return [random_value(rng) for _ in range(rng.randint(0, 4))]
    if kind == 6:
        return {MARKER[: rng.randint(1, 16)]: random_value(rng) for _ in range(rng.randint(0, 3))}
    if kind == 7:
        return ["서울", "부산"]
    if kind == 8:
        return {"value": ["x", {"y": [1, 2]}]}
    if kind == 9:  # moderately deep as a value (the text splice below goes to 10,000)
        value: Any = "x"
        for _ in range(rng.randint(1, 200)):
            value = [value] if rng.random() < 0.5 else {"a": value}
        return value
    if kind == 10:
        return "{" + MARKER + "}"
    if kind == 11:
        return rng.choice(["NaN", "Infinity", "-0", "1e999"])
    if kind == 12:
        return [[[[[[[["deep"]]]]]]]]
    return MARKER + "/../" + "%00"


PATHS = [
    ("action",),
    ("action", "actionName"),
    ("action", "parameters"),
    ("context",),
    ("context", "session"),
    ("context", "session", "id"),
    ("context", "session", "isNew"),
    ("context", "session", "isPlayBuilderRequest"),
    ("context", "device"),
    ("context", "device", "state"),
    ("context", "supportedInterfaces"),
    ("context", "supportedInterfaces", "AudioPlayer"),
    ("context", "supportedInterfaces", "AudioPlayer", "offsetInMilliseconds"),
    ("event",),
    ("event", "type"),
    ("version",),
    ("profile",),
    ("profile", "privatePlay", "userKey"),
]


def set_path(doc: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node: Any = doc
    for key in path[:-1]:
        if not isinstance(node, dict):
            return
        nxt = node.get(key)
        if not isinstance(nxt, dict):
            nxt = node[key] = {}
        node = nxt
    if isinstance(node, dict):
        node[path[-1]] = value


def mutate(seed: dict[str, Any], rng: random.Random) -> tuple[str, bytes, dict[str, str]]:
    """(URL action, body bytes, headers) of one mutated request."""
    doc = json.loads(json.dumps(seed))
    action = seed["action"]["actionName"]
    headers = {"Content-Type": "application/json"}
    if rng.random() < 0.7:
        headers["Authorization"] = f"token {API_KEY}"
    elif rng.random() < 0.5:
        set_path(doc, ("context", "session", "isPlayBuilderRequest"), True)
    elif rng.random() < 0.3:
        headers["Authorization"] = "token " + MARKER
    for _ in range(rng.randint(1, 3)):
        choice = rng.randrange(8)
        if choice <= 2:
            set_path(doc, rng.choice(PATHS), random_value(rng))
        elif choice == 3:  # a parameter value of any kind
            act = doc.get("action")
            params = act.get("parameters") if isinstance(act, dict) else None
            if isinstance(params, dict):
                key = rng.choice([*params, "location", MARKER])
                params[key] = rng.choice(
                    [{"type": "X", "value": random_value(rng)}, random_value(rng), None]
                )
        elif choice == 4:
            set_path(doc, ("context", "session", "id"), rng.choice(["", None, MARKER * 5000]))
        elif choice == 5:
            set_path(doc, ("action", "actionName"), rng.choice(["", MARKER, "x" * 100_000]))
        elif choice == 6:
            doc.pop(rng.choice(list(doc) or ["x"]), None)
        else:
            doc[MARKER] = random_value(rng)
    r = rng.random()
    if r < 0.06:  # a deep value spliced in as text (json.dumps would recurse)
        where = rng.choice([*PATHS, ("action", "parameters", "location", "value")])
        set_path(doc, where, PLACEHOLDER)
    try:
        body = json.dumps(doc, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")
    except (ValueError, RecursionError):
        body = b"{}"
    if r < 0.06:
        body = body.replace(json.dumps(PLACEHOLDER).encode(), deep(rng).encode(), 1)
    elif r < 0.10:
        body = body[: rng.randrange(len(body) + 1)]  # truncated
    elif r < 0.14:
        data = bytearray(body)
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] = rng.randrange(256)
        body = bytes(data)
    elif r < 0.16:
        body = b"\xff\xfe" + body  # invalid UTF-8
    elif r < 0.18:
        body = body.replace(b'"version"', b'"version": 1, "version"', 1)  # duplicate keys
    elif r < 0.20:
        headers["Content-Type"] = rng.choice(["text/plain", "application/x-www-form", ""])
    if rng.random() < 0.05:
        action = rng.choice([MARKER, "", "a/b", "%2e%2e", "x" * 3000, action.upper()])
    elif rng.random() < 0.1 and isinstance(doc.get("action"), dict):
        name = doc["action"].get("actionName")
        action = name if isinstance(name, str) and name else action
    return action, body, headers


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(play: Path, log: Path, cpu: str | None) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    cmd = [sys.executable, "-m", "voicehook", "serve", str(play), "--port", str(port)]
    cmd += ["--store", "memory://", "--api-key", API_KEY, "--play-builder", "allow"]
    cmd += ["--log-level", "info"]
    if cpu is not None:
        cmd = ["taskset", "-c", cpu, *cmd]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEHOOK_")}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{ROOT / 'src'}"
    env["WEATHER_UPSTREAM_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=log.parent, env=env, stdout=out, stderr=out)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"voicehook serve exited; see {log}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("voicehook serve did not start")


# ---------------------------------------------------------------------------- run


async def fuzz_one(port: int, play: Path, n: int, seed: int, concurrency: int) -> dict[str, Any]:
    rng = random.Random(seed)
    bases = seeds(play)
    statuses: collections.Counter[int] = collections.Counter()
    codes: collections.Counter[str] = collections.Counter()
    leaks = transport = 0
    examples_5xx: list[str] = []
    examples_odd: list[str] = []
    queue: asyncio.Queue[tuple[str, bytes, dict[str, str]] | None] = asyncio.Queue(1000)

    async def produce() -> None:
        for _ in range(n):
            await queue.put(mutate(rng.choice(bases), rng))
        for _ in range(concurrency):
            await queue.put(None)

    async def consume(session: aiohttp.ClientSession) -> None:
        nonlocal leaks, transport
        while (item := await queue.get()) is not None:
            action, body, headers = item
            url = f"http://127.0.0.1:{port}/{action}"
            try:
                async with session.post(url, data=body, headers=headers) as resp:
                    out = await resp.read()
                    statuses[resp.status] += 1
            except (aiohttp.ClientError, TimeoutError) as exc:
                if len(url) > HEAD_CAP:
                    # The server refuses a request head over --max-header-bytes (431) and
                    # closes while the client is still sending: the client sees a reset.
                    codes["closed: head over the cap"] += 1
                    continue
                transport += 1
                codes[f"transport:{type(exc).__name__}"] += 1
                if len(examples_odd) < 5:
                    examples_odd.append(f"{type(exc).__name__} {url[:80]} {body[:200]!r}")
                continue
            if resp.status >= 500 and len(examples_5xx) < 5:
                examples_5xx.append(body[:300].decode("utf-8", "replace"))
            if MARKER.encode() in out and resp.status != 200:
                leaks += 1
            if b"Traceback" in out:
                leaks += 1
            try:
                data = json.loads(out)
                code = data["error"]["code"] if resp.status != 200 else data["resultCode"]
            except (ValueError, KeyError, TypeError):
                code = "(not json)"
                if len(examples_odd) < 5:
                    examples_odd.append(f"{resp.status} {out[:100]!r} {url[:80]} {headers}")
            codes[f"{resp.status}:{code}"] += 1

    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    started = time.monotonic()
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(produce(), *(consume(session) for _ in range(concurrency)))
    return {
        "play": play.name,
        "requests": n,
        "seconds": round(time.monotonic() - started, 1),
        "statuses": dict(sorted(statuses.items())),
        "5xx": sum(v for k, v in statuses.items() if k >= 500),
        "leaks": leaks,
        "transport_errors": transport,
        "codes": dict(codes.most_common(25)),
        "examples_5xx": examples_5xx,
        "examples_odd": examples_odd,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100_000, help="bodies per play")
    parser.add_argument("--plays", nargs="*", help="example names (default: all)")
    parser.add_argument("--seed", type=int, default=9)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--server-cpu", help="taskset CPU list for the server, e.g. 0")
    parser.add_argument("--json", help="write the report here")
    parser.add_argument("--log-dir", help="keep the servers' logs here (default: a temp dir)")
    args = parser.parse_args()
    names = args.plays or sorted(p.name for p in EXAMPLES.iterdir() if (p / "play.yaml").exists())
    reports = []
    failed = False
    with tempfile.TemporaryDirectory(prefix="voicehook-fuzz-") as tmp_dir:
        tmp = args.log_dir or tmp_dir
        Path(tmp).mkdir(parents=True, exist_ok=True)
        for i, name in enumerate(names):
            log = Path(tmp) / f"{name}.log"
            proc, port = start(EXAMPLES / name, log, args.server_cpu)
            try:
                report = asyncio.run(
                    fuzz_one(port, EXAMPLES / name, args.requests, args.seed + i, args.concurrency)
                )
            finally:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            text = log.read_text(errors="replace")
            report["log_tracebacks"] = text.count("Traceback")
            report["log_bytes"] = len(text.encode())
            report["log_lines"] = text.count("\n")
            reports.append(report)
            bad = (
                report["5xx"]
                or report["leaks"]
                or report["transport_errors"]
                or report["log_tracebacks"]
            )
            failed = failed or bool(bad)
            print(
                f"{name:8} {report['requests']:>7} bodies in {report['seconds']:>6} s  "
                f"statuses {report['statuses']}  5xx={report['5xx']} leaks={report['leaks']} "
                f"transport={report['transport_errors']} tracebacks={report['log_tracebacks']} "
                f"log={report['log_lines']} lines/{report['log_bytes']} B",
                flush=True,
            )
            for code, count in list(report["codes"].items())[:12]:
                print(f"           {count:>7}  {code}")
            for line in report["examples_5xx"] + report["examples_odd"]:
                print(f"           e.g. {line}")
    if args.json:
        Path(args.json).write_text(json.dumps(reports, ensure_ascii=False, indent=2))
    print("FAIL" if failed else "OK: 0 × 5xx, no leaks, no tracebacks")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
