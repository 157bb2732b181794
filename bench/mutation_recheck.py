"""Re-check a module's surviving mutants against new test files only (docs/testing.md).

    .venv/bin/python bench/mutation.py play                       # the full run, once
    .venv/bin/python bench/mutation_recheck.py play tests/play/test_call_contract.py

A mutant that survived the whole suite is killed by the suite plus new tests exactly when one
of the new tests kills it: the old tests did not, and tests are only added. So instead of
running again every test that reaches each survivor (for ``play/app.py`` that is most of the
suite, about an hour on the shared machine), this runs only the given files, the way mutmut
runs a mutant: in ``mutants/``, on the mutated copy of ``src/``, in a forked process with
``MUTANT_UNDER_TEST`` naming the mutant. First the files must pass with no mutant active.

The survivors are read from bench/mutation-results/MODULE.json, and a killed mutant gets
its exit code there (1, or 36 when its tests ran longer than ``--timeout`` seconds: it made a
test hang, which mutmut also counts as killed); its diff is dropped. ``--mutants`` names the
folder with mutmut's mutated copy of the code (default ``mutants/``); the script copies
``tests/`` into it, so use a copy while a mutmut run is active there.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository root
from bench import mutation

ROOT = mutation.ROOT
MUTANTS = ROOT / "mutants"

# Runs in mutants/ with the mutated src/ first on the path: imports once, forks per mutant.
DRIVER = r"""
import json, os, signal, sys, time
import pytest
import voicehook.play, voicehook.store, voicehook.server  # warm imports for the forks

names, files, timeout = json.loads(sys.argv[1])
args = ["-x", "-q", "-p", "no:cacheprovider", *files]

def run(name):
    pid = os.fork()
    if pid == 0:
        os.environ["MUTANT_UNDER_TEST"] = name
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os._exit(int(pytest.main(args)))
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return 36  # mutmut's code for a timeout: killed

clean = run("")
print(json.dumps({"clean": clean}), flush=True)
if clean == 0:
    for name in names:
        print(json.dumps({"name": name, "code": run(name)}), flush=True)
"""


def results_file(key: str) -> Path:
    path: Path = mutation.RESULTS / f"{key}.json"
    return path


def survivors(key: str) -> list[str]:
    codes = json.loads(results_file(key).read_text())["codes"]
    return sorted(n for n, c in codes.items() if c is not None and c not in mutation.KILLED)


def mark_killed(key: str, killed: dict[str, int]) -> None:
    path = results_file(key)
    data = json.loads(path.read_text())
    for name, code in killed.items():
        data["codes"][name] = code
        data["diffs"].pop(name, None)
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("module", choices=sorted(mutation.MODULES))
    parser.add_argument("tests", nargs="+", help="test files (paths from the repository root)")
    parser.add_argument("--timeout", type=float, default=120.0)
    parser.add_argument("--mutants", type=Path, default=MUTANTS)
    args = parser.parse_args()
    if not (args.mutants / "src").exists() or not results_file(args.module).exists():
        sys.exit("no mutants or no results: run bench/mutation.py for the module first")
    names = survivors(args.module)
    shutil.copytree(ROOT / "tests", args.mutants / "tests", dirs_exist_ok=True)
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps([names, args.tests, args.timeout])],
        cwd=args.mutants,
        env={**os.environ, "PYTHONPATH": "src", "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines or lines[0].get("clean") != 0:
        sys.exit(f"the test files do not pass without a mutant:\n{proc.stdout}\n{proc.stderr}")
    killed = {d["name"]: d["code"] for d in lines[1:] if d["code"] in mutation.KILLED}
    left = [d["name"] for d in lines[1:] if d["code"] not in mutation.KILLED]
    mark_killed(args.module, killed)
    minutes = (time.monotonic() - start) / 60
    print(f"{args.module}: {len(names)} survivors re-checked in {minutes:.1f} min")
    print(f"killed {len(killed)}, still surviving {len(left)}:")
    for name in left:
        print("  " + name)


if __name__ == "__main__":
    main()
