"""The typed-chat sets (bench/typed_chat/*.yaml, issue 11) are well-formed.

These tests check the gold labels against the play definitions only: every play and kind
exists, every intent is the play's own or a built-in one the play gets, every entity key is
an entity type (or a TYPE:ROLE mapping) of the play or a built-in type, and every value is a
representative value or a normalised built-in value. They never run the NLU, so they give
no score and cannot leak one (the held-out sets are scored once, by bench/nlu_typed.py).
Failure messages name the set and the item index, not the text.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from voicehook.dialog.builtin_entities import SUPPORTED_BUILTIN_TYPES
from voicehook.dialog.nlu import AUDIO_PLAYER_INTENTS, DEFAULT_BUILTIN_INTENTS
from voicehook.play import load_definition
from voicehook.play.definition import PlayDefinition

ROOT = Path(__file__).resolve().parents[2]
SETS = ROOT / "bench" / "typed_chat"
PLAYS = ("weather", "calc", "quiz", "music")
KINDS = {"spacing", "typo", "informal", "emoticon", "numeral", "polite", "symbol", "ood"}
SET_NAMES = sorted(p.stem for p in SETS.glob("*.yaml"))

_DAYS = {
    "TODAY",
    "TOMORROW",
    "A_TOMORROW",
    "AA_TOMORROW",
    "AAA_TOMORROW",
    "YESTERDAY",
    "B_YESTERDAY",
    "BB_YESTERDAY",
}
_WDAY = re.compile(r"(MON|TUE|WED|THU|FRI|SAT|SUN)(\.W\.-?[1-9])?")
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?")


@cache
def _play(name: str) -> PlayDefinition:
    return load_definition(ROOT / "examples" / name / "play.yaml")


def _intents(defn: PlayDefinition) -> set[str]:
    """The play's intents and the built-in ones it gets (AudioPlayer ones if it plays audio)."""
    out = set(defn.intents) | set(DEFAULT_BUILTIN_INTENTS)
    for action in defn.actions.values():
        trigger = action.trigger
        if trigger is None:
            continue
        if (trigger.event or "").startswith("AudioPlayer.") or trigger.intent in (
            AUDIO_PLAYER_INTENTS
        ):
            out |= set(AUDIO_PLAYER_INTENTS)
    return out


def _roles(defn: PlayDefinition) -> set[str]:
    """``TYPE:ROLE`` keys the play's parameters map (``BID_QT:first``)."""
    return {
        f"{m.type}:{m.role}"
        for action in defn.actions
        for p in defn.action_parameters(action).values()
        for m in p.mappings
        if m.role and m.role != m.type
    }


def _builtin_value_ok(type_name: str, value: str) -> bool:
    if type_name == "BID_DT_DAY":
        return value in _DAYS
    if type_name == "BID_DT_YMONTH":
        return value.isdigit() and 1 <= int(value) <= 12 and not value.startswith("0")
    if type_name == "BID_DT_MDAY":
        return value.isdigit() and 1 <= int(value) <= 31 and not value.startswith("0")
    if type_name == "BID_DT_WDAY":
        return _WDAY.fullmatch(value) is not None
    if type_name == "BID_QT":
        return _DECIMAL.fullmatch(value) is not None
    return False


def label_problems(item: Any) -> list[str]:
    """What is wrong with one item's labels (empty: well-formed)."""
    if not isinstance(item, dict):
        return ["not a mapping"]
    problems: list[str] = []
    unknown = set(item) - {"play", "kind", "text", "intent", "entities", "expect"}
    if unknown:
        problems.append(f"unknown keys {sorted(unknown)}")
    play, kind, intent = item.get("play"), item.get("kind"), item.get("intent")
    if play not in PLAYS:
        return [*problems, f"unknown play {play!r}"]
    defn = _play(str(play))
    if kind not in KINDS:
        problems.append(f"unknown kind {kind!r}")
    if not isinstance(item.get("text"), str) or not item["text"].strip():
        problems.append("text missing or empty")
    if intent is not None and intent not in _intents(defn):
        problems.append(f"intent {intent!r} is neither the play's nor a built-in one")
    if kind == "ood" and intent is not None:
        problems.append("an out-of-domain item must have intent null")
    entities = item.get("entities") or {}
    if not isinstance(entities, dict):
        return [*problems, "entities is not a mapping"]
    if intent is None:
        return problems  # entities of out-of-domain items are not scored
    roles = _roles(defn)
    for key, value in entities.items():
        type_name = str(key).partition(":")[0]
        if ":" in str(key) and key not in roles:
            problems.append(f"{key} is not a TYPE:ROLE mapping of the play")
        if not isinstance(value, str):
            problems.append(f"{key}: value {value!r} is not a string")
        elif type_name in defn.entities:
            if value not in defn.entities[type_name].values:
                problems.append(f"{key}: {value!r} is not a representative value")
        elif type_name in SUPPORTED_BUILTIN_TYPES:
            if not _builtin_value_ok(type_name, value):
                problems.append(f"{key}: {value!r} is not a normalised {type_name} value")
        else:
            problems.append(f"{key}: unknown entity type")
    return problems


def _items(name: str) -> list[Any]:
    data = yaml.safe_load((SETS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict) and isinstance(data.get("items"), list), name
    return list(data["items"])


@pytest.mark.parametrize("name", SET_NAMES)
def test_every_item_is_labelled_with_the_plays_definitions(name: str) -> None:
    bad = {i: p for i, item in enumerate(_items(name)) if (p := label_problems(item))}
    assert not bad, f"{name}: {bad}"


def test_the_sets_are_found() -> None:
    assert {"dev", "heldout", "heldout2", "heldout3"} <= set(SET_NAMES)


def test_the_blind_set_covers_the_issue() -> None:
    """heldout3: ≥ 160 items over all four plays and every kind, ≥ 20 out of domain, no
    repeated text and no text (spacing ignored) shared with the other sets."""
    items = _items("heldout3")
    assert len(items) >= 160
    kinds = Counter(item["kind"] for item in items)
    assert set(kinds) == KINDS
    assert kinds["ood"] >= 20
    assert set(Counter(item["play"] for item in items)) == set(PLAYS)
    texts = ["".join(str(item["text"]).split()) for item in items]
    assert len(set(texts)) == len(texts)
    others = {
        "".join(str(item["text"]).split())
        for name in SET_NAMES
        if name != "heldout3"
        for item in _items(name)
    }
    shared = sorted(set(texts) & others)  # only heldout3's own texts in the message
    assert not shared, shared


@pytest.mark.parametrize(
    ("item", "problem"),
    [
        ({"play": "radio", "kind": "typo", "text": "x", "intent": None}, "unknown play"),
        ({"play": "calc", "kind": "slang", "text": "x", "intent": None}, "unknown kind"),
        ({"play": "calc", "kind": "typo", "text": " ", "intent": None}, "text missing"),
        ({"play": "calc", "kind": "typo", "text": "x", "intent": "play.music"}, "neither"),
        ({"play": "calc", "kind": "ood", "text": "x", "intent": "ask.calc"}, "must have"),
        ({"play": "quiz", "kind": "typo", "text": "다음", "intent": "NUGU.INTENT.next"}, "neither"),
        (
            {
                "play": "music",
                "kind": "typo",
                "text": "x",
                "intent": "play.music",
                "entities": {"PLAYLIST": "조용한 음악"},
            },
            "not a representative value",
        ),
        (
            {
                "play": "calc",
                "kind": "typo",
                "text": "x",
                "intent": "ask.calc",
                "entities": {"BID_QT:third": "3"},
            },
            "not a TYPE:ROLE mapping",
        ),
        (
            {
                "play": "calc",
                "kind": "typo",
                "text": "x",
                "intent": "ask.calc",
                "entities": {"BID_QT:first": "1,000"},
            },
            "not a normalised BID_QT",
        ),
        (
            {
                "play": "weather",
                "kind": "typo",
                "text": "x",
                "intent": "ask.weather",
                "entities": {"BID_DT_DAY": "NEXT_WEEK"},
            },
            "not a normalised BID_DT_DAY",
        ),
        (
            {
                "play": "weather",
                "kind": "typo",
                "text": "x",
                "intent": "ask.weather",
                "entities": {"BID_DT_YMONTH": "13"},
            },
            "not a normalised BID_DT_YMONTH",
        ),
        (
            {
                "play": "weather",
                "kind": "typo",
                "text": "x",
                "intent": "ask.weather",
                "entities": {"CITY": "서울"},
            },
            "unknown entity type",
        ),
        ({"play": "calc", "kind": "typo", "text": "x", "intent": None, "gold": 1}, "unknown keys"),
    ],
)
def test_label_problems_are_found(item: dict[str, Any], problem: str) -> None:
    assert any(problem in p for p in label_problems(item)), label_problems(item)


def test_good_labels_pass() -> None:
    good = [
        {
            "play": "music",
            "kind": "polite",
            "text": "다음 곡 부탁해요",
            "intent": "NUGU.INTENT.next",
        },
        {
            "play": "calc",
            "kind": "numeral",
            "text": "1,000 빼기 1",
            "intent": "ask.calc",
            "entities": {"BID_QT:first": "1000", "BID_QT:second": "1", "OPERATOR": "빼기"},
        },
        {
            "play": "weather",
            "kind": "informal",
            "text": "담주 금욜 서울",
            "intent": "ask.weather",
            "entities": {"BID_DT_WDAY": "FRI.W.1", "LOCATION": "서울"},
        },
        {"play": "quiz", "kind": "ood", "text": "ㅋㅋ", "intent": None},
    ]
    assert [label_problems(item) for item in good] == [[], [], [], []]
