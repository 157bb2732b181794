"""Instructions per NUGU call, counted by callgrind: a before/after check that load does not move.

Wall-clock benchmarks on a shared 2-core machine drift with whatever else runs. Callgrind
counts the instructions the CPU executes, which is the same whatever the other core does.
Each target runs the plain NUGU reference call in process (the same ASGI driver as
``bench/profile_app.py``: no server, no socket) twice under callgrind, with ``--short`` and
``--long`` calls; the difference divided by the difference in calls is the cost of one
call, start-up excluded. Targets are source trees: the ceiling comes from this checkout's
``bench/apps``, and ``--tree NAME=PATH`` adds a voicehook source tree (``PATH/src``), e.g. a
``git worktree`` of an older commit.

Example (the seam refactor's before/after, docs/benchmarks.md)::

    git worktree add --detach ../before 166a81b
    .venv/bin/python bench/instructions.py --tree before=../before --tree after=.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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


def per_call(module: str, src: Path, short: int, long: int) -> float:
    return (count(module, src, long) - count(module, src, short)) / (long - short)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH")
    parser.add_argument("--short", type=int, default=200)
    parser.add_argument("--long", type=int, default=1200)
    args = parser.parse_args()
    trees = [t.split("=", 1) for t in args.tree] or [["this", str(ROOT)]]
    ceiling = per_call("bench.apps.ceiling", ROOT / "src", args.short, args.long)
    print(f"{'target':<14} {'instructions/call':>18} {'ceiling/target':>15}")
    print(f"{'ceiling':<14} {ceiling:>18,.0f} {1.0:>15.3f}")
    for name, path in trees:
        src = (Path(path).resolve() / "src").resolve()
        n = per_call("bench.apps.voicehook_app", src, args.short, args.long)
        print(f"{name:<14} {n:>18,.0f} {ceiling / n:>15.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
