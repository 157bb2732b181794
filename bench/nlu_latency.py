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

It also measures the engine's recogniser seam: ``DialogEngine.recognize`` with the built-in
(synchronous) NLU, which calls ``parse`` directly, and with an asynchronous recogniser that
wraps the same NLU (``async def recognize``), which the engine awaits. The coroutines are
driven without an event loop (neither suspends), so the rows show the seam's own cost.
``--set heldout2`` (or any set of ``bench/nlu_typed.py``) times other utterances.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench.nlu_typed import ROOT, build, load_items
from voicehook.dialog.engine import DialogEngine
from voicehook.dialog.nlu import KiwiTokenizer, Nlu, NluResult, SimpleTokenizer, Tokenizer
from voicehook.play.definition import load_definition


class _Awaited:
    """An asynchronous recogniser around the built-in NLU (no I/O: the seam's cost)."""

    def __init__(self, nlu: Nlu) -> None:
        self.nlu = nlu

    async def recognize(self, text: str, *, expect_types: Any = None) -> NluResult:
        return self.nlu.parse(text, expect_types=expect_types)


def _drive(engine: DialogEngine, text: str) -> NluResult:  # pragma: no cover - bench
    """Run ``engine.recognize(text)`` to its end without an event loop."""
    coro = engine.recognize(text)
    try:
        coro.send(None)
    except StopIteration as done:
        result: NluResult = done.value
        return result
    coro.close()
    raise RuntimeError("the recogniser suspended")


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
    parser.add_argument("--set", choices=("dev", "heldout", "heldout2", "all"), default="all")
    args = parser.parse_args(argv)
    tokenizer: Tokenizer = KiwiTokenizer() if args.tokenizer == "kiwi" else SimpleTokenizer()
    items = load_items(args.set)
    nlus: dict[str, Nlu] = {}
    plain: dict[str, Nlu] = {}
    engines: dict[str, DialogEngine] = {}
    awaited: dict[str, DialogEngine] = {}
    for play in sorted({str(i["play"]) for i in items}):
        defn = load_definition(ROOT / "examples" / play / "play.yaml")
        nlus[play] = build(defn, tokenizer)
        bare = build(defn, tokenizer)
        bare._corrector = bare._near = None  # the same recogniser without typo correction
        plain[play] = bare
        engines[play] = DialogEngine(defn, None, nlu=nlus[play])
        awaited[play] = DialogEngine(defn, None, recognizer=_Awaited(nlus[play]))
    texts = [(str(i["play"]), str(i["text"])) for i in items]
    base = _costs([lambda t=t: tokenizer.tokenize(t) for _, t in texts], args.rounds)
    full = _costs([lambda p=p, t=t: nlus[p].parse(t) for p, t in texts], args.rounds)
    notypo = _costs([lambda p=p, t=t: plain[p].parse(t) for p, t in texts], args.rounds)
    seam = _costs([lambda p=p, t=t: _drive(engines[p], t) for p, t in texts], args.rounds)
    seam_async = _costs([lambda p=p, t=t: _drive(awaited[p], t) for p, t in texts], args.rounds)
    print(
        f"tokenizer: {args.tokenizer}; set {args.set}; {len(texts)} utterances; "
        f"{args.rounds} rounds (medians)"
    )
    print("| measured | p50 ms | p99 ms | max ms |")
    print("|---|---|---|---|")
    for name, costs in (
        ("baseline: tokenizer alone", base),
        ("NLU, typo correction off", notypo),
        ("NLU (default)", full),
        ("engine.recognize, built-in NLU (sync)", seam),
        ("engine.recognize, async recogniser (same NLU)", seam_async),
    ):
        print(f"| {name} | {_pct(costs, 0.5):.3f} | {_pct(costs, 0.99):.3f} | {max(costs):.3f} |")
    ratio = _pct(full, 0.99) / max(_pct(base, 0.99), 1e-9)
    print(f"NLU p99 / tokenizer p99 = {ratio:.2f}")
    extra = [a - b for a, b in zip(seam, full, strict=True)]
    extra_async = [a - b for a, b in zip(seam_async, full, strict=True)]
    print(
        f"engine seam p50 extra per utterance: sync {statistics.median(extra) * 1000:.1f} µs, "
        f"async {statistics.median(extra_async) * 1000:.1f} µs"
    )
    slowest = sorted(zip(full, texts, strict=True), reverse=True)[:3]
    for cost, (play, text) in slowest:
        print(f"slowest: {cost:.3f} ms [{play}] {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
