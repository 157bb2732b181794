"""Measure NLU-lite accuracy on the example plays' test sets.

Usage::

    .venv/bin/python -m bench.nlu_accuracy                     # kiwi, all example plays
    .venv/bin/python -m bench.nlu_accuracy --tokenizer simple  # without kiwipiepy
    .venv/bin/python -m bench.nlu_accuracy examples/calc --failures

Each play directory holds ``play.yaml`` (only its ``entities`` and ``intents`` sections are
read, with plain YAML: no dependency on the play loader) and ``nlu-test.yaml``::

    builtin_intents: [NUGU.INTENT.pause]      # optional, on top of stop/open
    utterances:
      - text: 내일 부산 날씨 좀 알려줄래
        intent: ask.weather                   # null: expect no intent (fallback)
        entities: {LOCATION: 부산, BID_DT_DAY: TOMORROW}   # TYPE or TYPE:ROLE -> value
        expect: [LOCATION]                    # optional: parse with expect_types

Intent accuracy counts exact intent matches (``None`` included). Entities are compared as
multisets of (key, value), key being ``TYPE`` or ``TYPE:ROLE`` as written in the test set.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicehook.dialog.nlu import (
    DEFAULT_BUILTIN_INTENTS,
    EntityMatch,
    KiwiTokenizer,
    Nlu,
    SimpleTokenizer,
    Tokenizer,
    specs_from_play_data,
)

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLAYS = ("weather", "music", "calc", "quiz")


@dataclass
class Score:
    """Counts for one play (or the total)."""

    name: str
    total: int = 0
    intent_ok: int = 0
    gold: int = 0
    predicted: int = 0
    matched: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Score) -> None:
        self.total += other.total
        self.intent_ok += other.intent_ok
        self.gold += other.gold
        self.predicted += other.predicted
        self.matched += other.matched
        self.failures.extend(other.failures)

    @property
    def intent_accuracy(self) -> float:
        return self.intent_ok / self.total if self.total else 0.0

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.gold if self.gold else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_nlu(play_dir: Path, tokenizer: Tokenizer) -> tuple[Nlu, dict[str, Any]]:
    """Build an :class:`Nlu` from ``play.yaml`` and return it with the parsed test set."""
    play = yaml.safe_load((play_dir / "play.yaml").read_text(encoding="utf-8")) or {}
    tests = yaml.safe_load((play_dir / "nlu-test.yaml").read_text(encoding="utf-8")) or {}
    intents, entity_types = specs_from_play_data(play)
    builtin = DEFAULT_BUILTIN_INTENTS | set(tests.get("builtin_intents") or [])
    nlu = Nlu(
        intents,
        entity_types,
        tokenizer=tokenizer,
        builtin_intents=builtin,
        invocation=play.get("invocation"),
    )
    return nlu, tests


def _pairs(entities: Sequence[EntityMatch], gold_keys: set[str]) -> Counter[tuple[str, str]]:
    typed_roles = {k.partition(":")[0] for k in gold_keys if ":" in k}
    out: Counter[tuple[str, str]] = Counter()
    for e in entities:
        key = f"{e.type}:{e.role}" if e.type in typed_roles else e.type
        out[(key, e.value)] += 1
    return out


def evaluate(play_dir: Path, tokenizer: Tokenizer) -> Score:
    """Run one play's ``nlu-test.yaml`` and count the results."""
    nlu, tests = load_nlu(play_dir, tokenizer)
    score = Score(play_dir.name)
    for item in tests["utterances"]:
        text = str(item["text"])
        expect = item.get("expect")
        result = nlu.parse(text, expect_types=expect)
        gold_entities = {str(k): str(v) for k, v in (item.get("entities") or {}).items()}
        gold = Counter(gold_entities.items())
        predicted = _pairs(result.entities, set(gold_entities))
        matched = sum((gold & predicted).values())
        score.total += 1
        score.gold += sum(gold.values())
        score.predicted += sum(predicted.values())
        score.matched += matched
        intent_ok = result.intent == item.get("intent")
        score.intent_ok += intent_ok
        if not intent_ok or matched != sum(gold.values()) or matched != sum(predicted.values()):
            got = ", ".join(f"{k}={v}" for (k, v) in sorted(predicted.elements()))
            want = ", ".join(f"{k}={v}" for k, v in sorted(gold.elements()))
            score.failures.append(
                f"[{play_dir.name}] {text!r}: intent {result.intent} ({result.score:.2f})"
                f" want {item.get('intent')}; entities {{{got}}} want {{{want}}}"
            )
    return score


def make_tokenizer(name: str) -> Tokenizer:
    """``kiwi`` or ``simple``."""
    return KiwiTokenizer() if name == "kiwi" else SimpleTokenizer()


def run(play_dirs: Sequence[Path], tokenizer: Tokenizer) -> tuple[list[Score], Score]:
    """Evaluate several plays; returns the per-play scores and the overall score."""
    scores = [evaluate(d, tokenizer) for d in play_dirs]
    total = Score("overall")
    for s in scores:
        total.add(s)
    return scores, total


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("plays", nargs="*", type=Path, help="play directories (default: examples)")
    parser.add_argument("--tokenizer", choices=("kiwi", "simple"), default="kiwi")
    parser.add_argument("--failures", action="store_true", help="list every failure")
    args = parser.parse_args(argv)
    dirs = args.plays or [EXAMPLES / p for p in PLAYS]
    scores, total = run(dirs, make_tokenizer(args.tokenizer))
    print(f"tokenizer: {args.tokenizer}")
    print(f"{'play':10} {'n':>4} {'intent':>7} {'ent P':>6} {'ent R':>6} {'ent F1':>6}")
    for s in [*scores, total]:
        print(
            f"{s.name:10} {s.total:4d} {s.intent_accuracy:7.3f} {s.precision:6.3f}"
            f" {s.recall:6.3f} {s.f1:6.3f}"
        )
    if args.failures or len(total.failures) <= 30:
        for line in total.failures:
            print(line)
    else:
        print(f"{len(total.failures)} failures (use --failures to list them)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
