"""Typed-chat accuracy of the NLU (issue 11): per kind, understood / asks / silently wrong.

Usage::

    .venv/bin/python -m bench.nlu_typed                      # dev set, kiwi
    .venv/bin/python -m bench.nlu_typed --set heldout        # the held-out set (score once)
    .venv/bin/python -m bench.nlu_typed --set heldout2       # the second held-out set
    .venv/bin/python -m bench.nlu_typed --set heldout3       # the third, blind held-out set
    .venv/bin/python -m bench.nlu_typed --tokenizer simple --failures

The sets are ``bench/typed_chat/{dev,heldout,heldout2,heldout3}.yaml`` (format in their
header). Each utterance is parsed by the recogniser the dialog engine builds for the play
(:func:`voicehook.dialog.recognizer.build_recognizer`), alone (no dialog context).

- **understood**: the intent is right and the entities are exactly the gold ones (type or
  type:role, normalised value; a corrected typo counts when the corrected value is right).
  For an out-of-domain utterance: no intent.
- **asks**: the engine would not answer at once: no intent (fallback prompt), an entity to
  confirm or a part not understood (``uncertain_entities``), or a required parameter still
  missing (slot prompt).
- **silently wrong**: not understood and not asking: the user gets an answer to another
  question. The target is 0.
- **ood→intent**: out-of-domain utterances given an intent. The target is 0.

Run against an older source tree (``PYTHONPATH=/tmp/old/src``) it measures the NLU before
the typed-chat work: without ``voicehook.dialog.recognizer`` nothing is ever uncertain.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from voicehook.dialog.nlu import (
    AUDIO_PLAYER_INTENTS,
    DEFAULT_BUILTIN_INTENTS,
    EntityMatch,
    EntityTypeSpec,
    IntentSpec,
    KiwiTokenizer,
    Nlu,
    NluResult,
    SimpleTokenizer,
    Tokenizer,
)
from voicehook.play.definition import Parameter, PlayDefinition, load_definition

ROOT = Path(__file__).resolve().parent.parent
SETS = ROOT / "bench" / "typed_chat"
KINDS = ("spacing", "typo", "informal", "emoticon", "numeral", "polite", "symbol", "ood")
KIND_NAMES = {
    "spacing": "missing spaces",
    "typo": "typos / jamo slips",
    "informal": "informal",
    "emoticon": "emoticons, laughter, punctuation",
    "numeral": "numerals",
    "polite": "polite register",
    "symbol": "symbols and English",
    "ood": "out of domain → no intent",
}


def _uses_audio(defn: PlayDefinition) -> bool:
    for act in defn.actions.values():
        trig = act.trigger
        if trig and trig.event and trig.event.startswith("AudioPlayer."):
            return True
        if trig and trig.intent in AUDIO_PLAYER_INTENTS:
            return True
    return False


def build(defn: PlayDefinition, tokenizer: Tokenizer) -> Nlu:
    """The play's recogniser, as the engine builds it (older trees: as it built it)."""
    try:
        from voicehook.dialog.recognizer import build_recognizer
    except ImportError:  # the tree before the typed-chat work
        builtins = set(DEFAULT_BUILTIN_INTENTS)
        if _uses_audio(defn):
            builtins |= AUDIO_PLAYER_INTENTS
        return Nlu(
            [IntentSpec(i.name, i.examples) for i in defn.intents.values()],
            [EntityTypeSpec(e.name, e.values) for e in defn.entities.values()],
            tokenizer=tokenizer,
            builtin_intents=builtins,
            invocation=defn.invocation,
        )
    return build_recognizer(defn, audio_player=_uses_audio(defn), tokenizer=tokenizer)


def _uncertain(result: NluResult, params: Iterable[Parameter]) -> list[str]:
    try:
        from voicehook.dialog.recognizer import uncertain_entities
    except ImportError:
        return []
    return uncertain_entities(result, params)


def _pairs(entities: Sequence[EntityMatch], gold_keys: set[str]) -> Counter[tuple[str, str]]:
    typed_roles = {k.partition(":")[0] for k in gold_keys if ":" in k}
    out: Counter[tuple[str, str]] = Counter()
    for e in entities:
        key = f"{e.type}:{e.role}" if e.type in typed_roles else e.type
        out[(key, e.value)] += 1
    return out


@dataclass
class Tally:
    """Counts for one kind (or all)."""

    n: int = 0
    understood: int = 0
    intent_ok: int = 0
    asks: int = 0
    silently_wrong: int = 0
    ood: int = 0
    ood_intent: int = 0
    failures: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        for name in ("n", "understood", "intent_ok", "asks", "silently_wrong", "ood"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.ood_intent += other.ood_intent
        self.failures.extend(other.failures)


def asks_back(defn: PlayDefinition, result: NluResult) -> bool:
    """Would the engine ask (fallback, confirm, re-ask, slot prompt) instead of answering?"""
    if result.intent is None:
        return True
    action = next(
        (a.name for a in defn.actions.values() if a.trigger and a.trigger.intent == result.intent),
        None,
    )
    if action is None:
        return result.intent not in ("NUGU.INTENT.stop", "NUGU.INTENT.open")
    params = defn.action_parameters(action)
    if _uncertain(result, params.values()):
        return True
    free = [e.type for e in result.entities]
    for p in params.values():
        if p.kind != "utterance" or not p.required:
            continue
        taken = next((t for t in free if t in {m.type for m in p.mappings}), None)
        if taken is None:
            return True  # the slot prompt asks for it
        free.remove(taken)
    return False


def evaluate(items: Sequence[dict[str, Any]], tokenizer: Tokenizer) -> dict[str, Tally]:
    """Tallies by kind for ``items``."""
    plays: dict[str, tuple[PlayDefinition, Nlu]] = {}
    tallies = {k: Tally() for k in KINDS}
    for item in items:
        play = str(item["play"])
        if play not in plays:
            defn = load_definition(ROOT / "examples" / play / "play.yaml")
            plays[play] = (defn, build(defn, tokenizer))
        defn, nlu = plays[play]
        text = str(item["text"])
        result = nlu.parse(text, expect_types=item.get("expect"))
        want_intent = item.get("intent")
        gold_entities = {str(k): str(v) for k, v in (item.get("entities") or {}).items()}
        gold = Counter(gold_entities.items())
        got = _pairs(result.entities, set(gold_entities))
        intent_ok = result.intent == want_intent
        understood = intent_ok if want_intent is None else intent_ok and gold == got
        asks = asks_back(defn, result)
        t = tallies[str(item["kind"])]
        t.n += 1
        t.intent_ok += intent_ok
        t.understood += understood
        t.asks += asks
        wrong = not understood and not asks
        t.silently_wrong += wrong
        if want_intent is None:
            t.ood += 1
            t.ood_intent += result.intent is not None
        if not understood:
            mark = "SILENTLY WRONG" if wrong else "asks"
            got_s = ", ".join(f"{k}={v}" for (k, v) in sorted(got.elements()))
            want_s = ", ".join(f"{k}={v}" for k, v in sorted(gold.elements()))
            fixes = ", ".join(
                f"{c.typed}→{c.corrected}" for c in getattr(result, "corrections", [])
            )
            t.failures.append(
                f"[{play}/{item['kind']}] {text!r}: {result.intent} ({result.score:.2f}) want"
                f" {want_intent}; {{{got_s}}} want {{{want_s}}}"
                + (f"; fixed {fixes}" if fixes else "")
                + f" — {mark}"
            )
    return tallies


def load_items(name: str) -> list[dict[str, Any]]:
    names = ("dev", "heldout") if name == "all" else (name,)
    items: list[dict[str, Any]] = []
    for n in names:
        data = yaml.safe_load((SETS / f"{n}.yaml").read_text(encoding="utf-8"))
        items.extend(data["items"])
    return items


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--set", choices=("dev", "heldout", "heldout2", "heldout3", "all"), default="dev"
    )
    parser.add_argument("--tokenizer", choices=("kiwi", "simple"), default="kiwi")
    parser.add_argument("--failures", action="store_true", help="list every failure")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    tokenizer: Tokenizer = KiwiTokenizer() if args.tokenizer == "kiwi" else SimpleTokenizer()
    tallies = evaluate(load_items(args.set), tokenizer)
    total = Tally()
    for t in tallies.values():
        total.add(t)
    print(f"set: {args.set}  tokenizer: {args.tokenizer}")
    print("| kind | n | understood | intent | asks back | silently wrong |")
    print("|---|---|---|---|---|---|")
    rows: dict[str, dict[str, int]] = {}
    for kind, t in [*tallies.items(), ("total", total)]:
        if not t.n:
            continue
        name = KIND_NAMES.get(kind, "**total**")
        print(
            f"| {name} | {t.n} | {t.understood}/{t.n} | {t.intent_ok}/{t.n} | {t.asks} |"
            f" {t.silently_wrong} |"
        )
        rows[kind] = {
            "n": t.n,
            "understood": t.understood,
            "intent": t.intent_ok,
            "asks": t.asks,
            "silently_wrong": t.silently_wrong,
        }
    share = total.understood / total.n if total.n else 0.0
    print(
        f"fully understood {total.understood}/{total.n} = {share:.1%}; out-of-domain given an"
        f" intent: {total.ood_intent}/{total.ood}; silently wrong: {total.silently_wrong}"
    )
    if args.failures or len(total.failures) <= 40:
        for line in total.failures:
            print(line)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
