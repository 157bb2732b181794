"""Instructions per NUGU call, counted by callgrind: a before/after check that load does not move.

Wall-clock benchmarks on a shared 2-core machine drift with whatever else runs. Callgrind
counts the instructions the CPU executes, which is the same whatever the other core does.
Each target runs the plain NUGU reference call in process (the same ASGI driver as
``bench/profile_app.py``: no server, no socket) twice under callgrind, with ``--short`` and
``--long`` calls; the difference divided by the difference in calls is the cost of one
call, start-up excluded. Targets are source trees: the ceiling comes from this checkout's
``bench/apps``, and ``--tree NAME=PATH`` adds a voicehook source tree (``PATH/src``), e.g. a
``git worktree`` of an older commit.

``--server`` counts a whole request instead: uvicorn (the same flags as ``bench/run.py``)
runs the app under callgrind, and one keep-alive connection sends the reference request
``--short`` and then ``--long`` times, one after the other; the difference per request
includes uvicorn, httptools, uvloop and the kernel calls' user-side work. ``--guard`` runs
the voicehook targets on ``voicehook serve``'s HTTP protocol (the connection guard), as
``serve`` does; the ceiling always runs on plain httptools. Timers (uvicorn's 0.1 s tick,
the deadline and guard sweeps, the loop watchdog) run on wall time, which callgrind
stretches about 50 times, so their share is overstated a little; it is the same for every
target of one run.

Example (the seam refactor's before/after, docs/benchmarks.md)::

    git worktree add --detach ../before 166a81b
    .venv/bin/python bench/instructions.py --tree before=../before --tree after=.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import AUTH_HEADER, BODY_BYTES, PATH  # noqa: E402
from bench.run import GUARD_PROTOCOL, UVICORN_FLAGS, free_port  # noqa: E402

RUNNER = """
import asyncio, sys
sys.path[:0] = [{src!r}, {root!r}]
from bench.profile_app import Driver
import importlib
app = importlib.import_module({module!r}).app
async def main():
    d = Driver(app)
    await d.startup()
    await d.call(1)
    problem = d.check()
    if problem:
        raise SystemExit(problem)
    await d.call({calls})
    await d.shutdown()
asyncio.run(main())
"""


def count(module: str, src: Path, calls: int) -> int:
    """Instructions of one process that makes ``calls`` calls (after one checked call)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        code = RUNNER.format(src=str(src), root=str(ROOT), module=module, calls=calls)
        env = dict(os.environ, PYTHONHASHSEED="0")
        proc = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={out}",
                sys.executable,
                "-c",
                code,
            ],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        if proc.returncode != 0:
            raise SystemExit(f"{module} from {src}: {proc.stderr[-2000:]}")
        match = re.search(r"Collected : (\d+)", proc.stderr)
        if match is None:
            raise SystemExit(f"no instruction count in callgrind's output:\n{proc.stderr}")
        return int(match.group(1))


REQUEST = (
    f"POST {PATH} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
    f"authorization: {AUTH_HEADER}\r\ncontent-length: {len(BODY_BYTES)}\r\n\r\n"
).encode() + BODY_BYTES


def _connect(port: int, proc: subprocess.Popen[str], timeout: float = 300.0) -> socket.socket:
    """A connection to the server once it listens. Refused attempts cost the server
    nothing, so every run does the same work before its first request."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read() if proc.stderr is not None else ""
            raise SystemExit(f"the server under callgrind exited:\n{err[-2000:]}")
        try:
            return socket.create_connection(("127.0.0.1", port), timeout=60)
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the server under callgrind did not start")


def _exchange(sock: socket.socket, buf: bytearray) -> int:
    """Send one request, read its response (Content-Length framed); the status."""
    sock.sendall(REQUEST)
    while True:
        end = buf.find(b"\r\n\r\n")
        if end >= 0:
            head = bytes(buf[:end]).lower()
            match = re.search(rb"content-length: *(\d+)", head)
            chunked = b"transfer-encoding: chunked" in head
            if match is not None:
                total = end + 4 + int(match.group(1))
                if len(buf) >= total:
                    status = int(head.split(b" ", 2)[1])
                    del buf[:total]
                    return status
            elif chunked:
                tail = buf.find(b"\r\n0\r\n\r\n", end)
                if tail >= 0:
                    status = int(head.split(b" ", 2)[1])
                    del buf[: tail + 7]
                    return status
        data = sock.recv(65536)
        if not data:
            raise SystemExit("the server closed the connection")
        buf += data


def count_server(module: str, src: Path, calls: int, guard: bool, keep: Path | None = None) -> int:
    """Instructions of a uvicorn process serving ``calls`` requests (plus one check).
    ``keep``: also write callgrind's output file there (for ``callgrind_annotate``)."""
    flags = list(UVICORN_FLAGS)
    if guard:
        flags[flags.index("httptools")] = GUARD_PROTOCOL
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        env = dict(os.environ, PYTHONHASHSEED="0")
        env["PYTHONPATH"] = os.pathsep.join((str(src), str(ROOT)))
        cmd = [
            "valgrind",
            "--tool=callgrind",
            f"--callgrind-out-file={out}",
            sys.executable,
            "-m",
            "uvicorn",
            f"{module}:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            *flags,
        ]
        proc = subprocess.Popen(
            cmd, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )
        try:
            sock = _connect(port, proc)
            buf = bytearray()
            with sock:
                for _ in range(calls + 1):
                    status = _exchange(sock, buf)
                    if status != 200:
                        raise SystemExit(f"{module} from {src}: status {status}")
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=300)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        match = re.search(r"Collected : (\d+)", err)
        if match is None:
            raise SystemExit(f"no instruction count in callgrind's output:\n{err[-2000:]}")
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            name = f"{module.rsplit('.', 1)[-1]}-{src.parent.name}-{calls}.callgrind"
            out.replace(keep / name)
        return int(match.group(1))


def per_call(
    module: str,
    src: Path,
    short: int,
    long: int,
    server: bool = False,
    guard: bool = False,
    keep: Path | None = None,
) -> float:
    if server:
        n_long = count_server(module, src, long, guard, keep)
        n_short = count_server(module, src, short, guard, keep)
    else:
        n_long, n_short = count(module, src, long), count(module, src, short)
    return (n_long - n_short) / (long - short)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--short", type=int, default=200)
    parser.add_argument("--long", type=int, default=1200)
    parser.add_argument(
        "--server", action="store_true", help="count whole requests through uvicorn"
    )
    parser.add_argument(
        "--guard", action="store_true", help="with --server: voicehook on serve's protocol"
    )
    parser.add_argument(
        "--keep", type=Path, metavar="DIR", help="with --server: keep callgrind's files here"
    )
    args = parser.parse_args()
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT)]]
    keep = args.keep.resolve() if args.keep and args.server else None
    mode = {"server": args.server, "guard": args.guard and args.server, "keep": keep}
    ceiling = per_call(
        "bench.apps.ceiling", ROOT / "src", args.short, args.long, args.server, keep=keep
    )
    what = "request" if args.server else "call"
    print(f"{'target':<14} {'instructions/' + what:>20} {'ceiling/target':>15}")
    print(f"{'ceiling':<14} {ceiling:>20,.0f} {1.0:>15.3f}", flush=True)
    for name, path in trees:
        src = (Path(path).resolve() / "src").resolve()
        n = per_call("bench.apps.voicehook_app", src, args.short, args.long, **mode)
        print(f"{name:<14} {n:>20,.0f} {ceiling / n:>15.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
