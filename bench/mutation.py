"""Mutation testing of voicehook's critical modules, with mutmut (docs/testing.md).

    .venv/bin/pip install -e '.[all,dev,mutation]'
    .venv/bin/python bench/mutation.py                 # every critical module (~25 min)
    .venv/bin/python bench/mutation.py particles auth  # only some modules
    .venv/bin/python bench/mutation.py --report-only   # rewrite the report from the results

mutmut (configured in pyproject.toml, ``[tool.mutmut]``) copies ``src/`` to ``mutants/``,
makes every small change it knows in each function of the critical modules, runs the test
files listed there once to learn which tests reach which function, and then, for each mutant,
runs only the tests that reach it. A mutant is *killed* when a test fails, *survived* when
they all pass. This script runs mutmut one module at a time (so you can rerun one module after
adding tests), times each module, and writes docs/mutation-report.md: the score per module
and every surviving mutant, as a diff, with the reason it is equivalent when
bench/mutation-equivalent.toml gives one. Each module's outcome is kept in
bench/mutation-results/MODULE.json (committed), and the report is written from those files, so
modules run at different times or on different branches add up.

The machine is shared: the script runs mutmut with ``--max-children 2`` by default.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tomllib
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MUTMUT = Path(sys.executable).with_name("mutmut")
REPORT = ROOT / "docs" / "mutation-report.md"
# Why a surviving mutant is equivalent: bench/mutation-equivalent.toml (the first modules) and
# bench/mutation-equivalent/MODULE.toml (one file per module, so branches do not collide).
EQUIVALENT = ROOT / "bench" / "mutation-equivalent.toml"
EQUIVALENT_DIR = ROOT / "bench" / "mutation-equivalent"
# One committed file per module: every mutant's outcome, the survivors' diffs and the run's
# minutes. The report is written from these files, so runs of different modules (on different
# machines or branches) add up without sharing a mutants/ folder.
RESULTS = ROOT / "bench" / "mutation-results"

# key → (mutant name prefixes, the tests that aim at it; for the report).
MODULES: dict[str, tuple[tuple[str, ...], str]] = {
    "particles": (("voicehook.dialog.particles.",), "tests/dialog/test_particles*.py"),
    "auth": (("voicehook.nugu.auth.",), "tests/nugu/"),
    "deadline": (("voicehook.play.deadline.",), "tests/play/"),
    "rules": (("voicehook.nugu.answer.",), "tests/check/"),
    "store": (
        tuple(f"voicehook.store.{m}." for m in ("base", "memory", "sqlite", "redis")),
        "tests/store/ (the conformance kit on every backend), tests/state/",
    ),
    "play": (("voicehook.play.app.",), "tests/play/"),
    "endpoint": (("voicehook.nugu.endpoint.",), "tests/nugu/"),
    "server": (("voicehook.server.app.",), "tests/server/"),
    "clova-auth": (("voicehook.clova.signature.",), "tests/clova/"),
    "clova-channel": (("voicehook.clova.channel.",), "tests/clova/"),
    "botframework-auth": (("voicehook.botframework.auth.",), "tests/botframework/"),
    "botframework-skill": (("voicehook.botframework.skill.",), "tests/botframework/"),
    "engine": (("voicehook.dialog.engine.",), "tests/dialog/test_engine*.py, tests/state/"),
    # The turn rules alone: a quicker run than the whole engine (about a third of its mutants).
    "engine-turns": (
        tuple(
            f"voicehook.dialog.engine.{f}__"
            for f in (
                "x__fill",
                "xǁDialogEngineǁ_understood",
                "xǁDialogEngineǁ_slot_turn",
                "xǁDialogEngineǁ_exception_turn",
                "xǁDialogEngineǁ_continue_slots",
                "xǁDialogEngineǁ_start_action",
                "xǁDialogEngineǁ_stack",
                "xǁDialogEngineǁ_rewind",
                "xǁDialogEngineǁ_stop",
                "xǁDialogEngineǁ_fallback",
                "xǁDialogEngineǁ_welcome",
                "xǁDialogEngineǁ_walk",
            )
        ),
        "tests/dialog/test_engine*.py, tests/state/",
    ),
    "store-support": (
        # store/__init__.py's mutants are named voicehook.store.x_... / voicehook.store.xǁ...
        ("voicehook.store.x", "voicehook.store.codec."),
        "tests/store/",
    ),
}

# Keys that only choose what to run; their mutants are reported under the whole module.
RUN_ONLY = {"engine-turns"}

KILLED = {1, 3, 36, -24, 24, 152, 255, 37}  # test failure, pytest error, timeout, type check
SURVIVED = {0}
NO_TESTS = {5, 33}


def forget_survivors(prefixes: tuple[str, ...]) -> None:
    """Mark the module's survivors unchecked, so that mutmut tries them again with the tests
    added since (a killed mutant stays killed: tests only get added)."""
    for meta in (ROOT / "mutants" / "src").rglob("*.py.meta"):
        data = json.loads(meta.read_text())
        codes = data["exit_code_by_key"]
        stale = [
            k
            for k, c in codes.items()
            if k.startswith(prefixes) and c is not None and c not in KILLED
        ]
        if stale:
            for k in stale:
                codes[k] = None
            meta.write_text(json.dumps(data))


def run_module(key: str, children: int) -> float:
    prefixes = MODULES[key][0]
    if (ROOT / "mutants" / "src").exists():
        forget_survivors(prefixes)
    log = ROOT / "mutants" / f"{key}.log"
    log.parent.mkdir(exist_ok=True)
    start = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.run(
            [str(MUTMUT), "run", "--max-children", str(children), *(f"{p}*" for p in prefixes)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            check=False,
        )
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit(f"mutmut failed for {key} (exit {proc.returncode}); see {log}")
    return seconds


def mutmut_codes() -> dict[str, int | None]:
    """Every mutant's exit code, from mutmut's .meta files in mutants/."""
    codes: dict[str, int | None] = {}
    for meta in (ROOT / "mutants" / "src").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def save_results(key: str, seconds: float | None) -> None:
    """Write bench/mutation-results/KEY.json from mutants/: outcomes, survivors' diffs, time."""
    codes = {n: c for n, c in sorted(mutmut_codes().items()) if module_of(n) == key}
    old = load_results().get(key, {})
    diffs = {n: diff(n) for n, c in codes.items() if c is not None and c not in KILLED}
    RESULTS.mkdir(exist_ok=True)
    data = {
        "module": key,
        "seconds": seconds if seconds is not None else old.get("seconds"),
        "codes": codes,
        "diffs": diffs,
    }
    (RESULTS / f"{key}.json").write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n")


def load_results() -> dict[str, dict[str, Any]]:
    """The committed results of every module that has been run."""
    out: dict[str, dict[str, Any]] = {}
    if RESULTS.exists():
        for path in sorted(RESULTS.glob("*.json")):
            data = json.loads(path.read_text())
            out[data["module"]] = data
    return out


def diff(name: str) -> str:
    """The changed lines of one mutant, from ``mutmut show``."""
    out = subprocess.run(
        [str(MUTMUT), "show", name], cwd=ROOT, capture_output=True, text=True, check=False
    ).stdout
    lines = [
        line
        for line in out.splitlines()
        if line[:1] in "-+" and not line.startswith(("---", "+++"))
    ]
    return "\n".join(lines)


def module_of_run_only(key: str) -> str:
    """The module a run-only key belongs to (engine-turns → engine)."""
    prefix = MODULES[key][0][0]
    found = module_of(prefix)
    assert found is not None, key
    return found


def module_of(name: str) -> str | None:
    for key, (prefixes, _) in MODULES.items():
        if key not in RUN_ONLY and name.startswith(prefixes):
            return key
    return None


def write_report() -> tuple[str, bool]:
    equivalent: dict[str, str] = {}
    for path in [EQUIVALENT, *sorted(EQUIVALENT_DIR.glob("*.toml"))]:
        if path.exists():
            equivalent.update(tomllib.loads(path.read_text()))
    saved = load_results()
    times = {k: d["seconds"] for k, d in saved.items() if d.get("seconds") is not None}
    diffs = {n: t for d in saved.values() for n, t in d["diffs"].items()}
    by_module: dict[str, Counter[str]] = {key: Counter() for key in MODULES}
    survivors: dict[str, list[str]] = {key: [] for key in MODULES}
    codes = {n: c for d in saved.values() for n, c in d["codes"].items()}
    for name, code in sorted(codes.items()):
        key = module_of(name)
        if key is None:
            continue
        if code is None:
            by_module[key]["not checked"] += 1
        elif code in KILLED:
            by_module[key]["killed"] += 1
        elif code in SURVIVED or code in NO_TESTS:
            if name in equivalent:
                by_module[key]["equivalent"] += 1
            else:
                by_module[key]["survived"] += 1
            survivors[key].append(name)
        else:
            by_module[key]["other"] += 1
            survivors[key].append(name)
    rows = []
    all_met = True
    for key, (prefixes, tests) in MODULES.items():
        if key in RUN_ONLY:
            continue
        label = ", ".join(p[:-1] for p in prefixes)
        c = by_module[key]
        checked = c["killed"] + c["survived"] + c["equivalent"] + c["other"]
        if not checked:
            rows.append(f"| {label} | not run | | | | | | {tests} |")
            all_met = False
            continue
        unchecked = f" (of {checked + c['not checked']})" if c["not checked"] else ""
        score = c["killed"] / checked
        real = c["killed"] / (checked - c["equivalent"]) if checked > c["equivalent"] else 1.0
        all_met &= real >= 0.9 and not c["not checked"]
        minutes = f"{times[key] / 60:.1f}" if key in times else "?"
        rows.append(
            f"| {label} | {checked}{unchecked} | {c['killed']} | {c['survived'] + c['other']} "
            f"| {c['equivalent']} | {score:.1%} / **{real:.1%}** | {minutes} | {tests} |"
        )
    parts = [
        "# Mutation report",
        "",
        "Written by `bench/mutation.py` (mutmut 3.8.1; see docs/testing.md). Do not edit by",
        "hand: add a test, or give the reason a mutant is equivalent in",
        "bench/mutation-equivalent.toml, and run the script again.",
        "",
        "Mutants: how many were checked (of how many there are, when a run was partial).",
        "Score = killed / checked, then killed / (checked − equivalent). Killed includes",
        "timeouts (the mutant made a test hang). Min: wall time of the module's last run on",
        "the shared 2-core machine (load average about 10); a rerun retries only survivors.",
        "",
        "| module | mutants | killed | survived | equivalent | score | min | tests |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        *rows,
        "",
    ]
    for key, names in survivors.items():
        if not names or key in RUN_ONLY:
            continue
        parts += [f"## {key}: survivors", ""]
        for name in names:
            reason = equivalent.get(name, "**not explained yet**")
            parts += [f"- `{name}`: {reason}", ""]
            changed = diffs.get(name, "")
            if changed:
                parts += ["  ```diff", *("  " + line for line in changed.splitlines()), "  ```", ""]
    text = "\n".join(parts).rstrip() + "\n"
    return text, all_met


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", metavar="MODULE", help=", ".join(MODULES))
    parser.add_argument("--children", type=int, default=2)
    parser.add_argument("--report-only", action="store_true")
    args = parser.parse_args()
    unknown = set(args.modules) - set(MODULES)
    if unknown:
        parser.error(f"unknown module(s): {', '.join(sorted(unknown))}")
    if not args.report_only:
        for key in args.modules or list(MODULES):
            seconds = run_module(key, args.children)
            for part in [key] if key not in RUN_ONLY else [module_of_run_only(key)]:
                save_results(part, seconds if part == key else None)
            print(f"{key}: {seconds / 60:.1f} min", flush=True)
    text, all_met = write_report()
    REPORT.write_text(text)
    print(f"wrote {REPORT.relative_to(ROOT)}; every module ≥ 90%: {all_met}")


if __name__ == "__main__":
    main()
