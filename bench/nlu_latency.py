"""Per-utterance cost of the NLU on typed chat (issue 11: p99 ≤ 2 ms per utterance).

Usage (pin to one core; the machine is shared, so keep it short)::

    taskset -c 1 .venv/bin/python -m bench.nlu_latency
    taskset -c 1 .venv/bin/python -m bench.nlu_latency --tokenizer simple --rounds 7

Every utterance of ``bench/typed_chat/{dev,heldout}.yaml`` is parsed by its play's
recogniser (built once, as the dialog engine builds it). After a warm-up pass, each round
times every utterance once; an utterance's cost is its median over the rounds, and the
report gives p50 / p99 / max over utterances. The same run measures a baseline: the
tokenizer alone on the same texts (Kiwi's morphological analysis, which the NLU also does),
so the ratio NLU / tokenizer does not depend on how loaded the machine is. It also measures
the NLU with typo correction off, to show what the typed-chat work costs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.nlu_typed import ROOT, build, load_items
from voicehook.dialog.nlu import KiwiTokenizer, Nlu, SimpleTokenizer, Tokenizer
from voicehook.play.definition import load_definition


def _costs(
    calls: Sequence[Callable[[], Any]], rounds: int
) -> list[float]:  # pragma: no cover - bench
    for call in calls:  # warm-up
        call()
    per_round: list[list[float]] = []
    for _ in range(rounds):
        times: list[float] = []
        for call in calls:
            t0 = time.perf_counter_ns()
            call()
            times.append((time.perf_counter_ns() - t0) / 1e6)
        per_round.append(times)
    return [statistics.median(r[i] for r in per_round) for i in range(len(calls))]


def _pct(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokenizer", choices=("kiwi", "simple"), default="kiwi")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    tokenizer: Tokenizer = KiwiTokenizer() if args.tokenizer == "kiwi" else SimpleTokenizer()
    items = load_items("all")
    nlus: dict[str, Nlu] = {}
    plain: dict[str, Nlu] = {}
    for play in sorted({str(i["play"]) for i in items}):
        defn = load_definition(ROOT / "examples" / play / "play.yaml")
        nlus[play] = build(defn, tokenizer)
        bare = build(defn, tokenizer)
        bare._corrector = bare._near = None  # the same recogniser without typo correction
        plain[play] = bare
    texts = [(str(i["play"]), str(i["text"])) for i in items]
    base = _costs([lambda t=t: tokenizer.tokenize(t) for _, t in texts], args.rounds)
    full = _costs([lambda p=p, t=t: nlus[p].parse(t) for p, t in texts], args.rounds)
    notypo = _costs([lambda p=p, t=t: plain[p].parse(t) for p, t in texts], args.rounds)
    print(f"tokenizer: {args.tokenizer}; {len(texts)} utterances; {args.rounds} rounds (medians)")
    print("| measured | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for name, costs in (
        ("baseline: tokenizer alone", base),
        ("NLU, typo correction off", notypo),
        ("NLU (default)", full),
    ):
        print(f"| {name} | {_pct(costs, 0.5):.3f} | {_pct(costs, 0.99):.3f} | {max(costs):.3f} |")
    ratio = _pct(full, 0.99) / max(_pct(base, 0.99), 1e-9)
    print(f"NLU p99 / tokenizer p99 = {ratio:.2f}")
    slowest = sorted(zip(full, texts, strict=True), reverse=True)[:3]
    for cost, (play, text) in slowest:
        print(f"slowest: {cost:.3f} ms [{play}] {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
