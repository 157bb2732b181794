"""The recogniser seam of the dialog engine, and the rule for uncertain results.

The dialog engine needs one thing from an NLU: turn a text into an :class:`NluResult`
(intent, score, entities). :class:`Recognizer` is that interface. The built-in
:class:`voicehook.dialog.nlu.Nlu` is the default implementation; a play served where users
type (the Bot Framework channel) may plug in another one, e.g. a client of an external NLU
service or a model::

    class MyRecognizer:
        def parse(self, text, *, expect_types=None):
            answer = my_service.analyse(text)            # must not block for long
            return NluResult(answer.intent, answer.score,
                             [EntityMatch(e.type, e.type, e.text, e.value, e.start, e.end,
                                          confidence=e.score, source="fuzzy" if e.score < 1
                                          else "exact") for e in answer.entities])

    engine = DialogEngine(definition, caller, recognizer=MyRecognizer())

A recogniser that waits on a service implements ``async def recognize(text, *,
expect_types=None)`` instead (:class:`AsyncRecognizer`); the engine awaits it.

:func:`uncertain_entities` is the "never silently wrong" rule the engine applies to any
recogniser's result (see ``docs/nlu.md``).
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol, runtime_checkable

from voicehook.dialog.nlu import (
    AUDIO_PLAYER_INTENTS,
    DEFAULT_BUILTIN_INTENTS,
    EntityMatch,
    EntityTypeSpec,
    IntentSpec,
    Nlu,
    NluResult,
    Tokenizer,
)
from voicehook.dialog.particles import choose
from voicehook.play.definition import Parameter, PlayDefinition

__all__ = [
    "AnyRecognizer",
    "AsyncOnly",
    "AsyncRecognizer",
    "Doubt",
    "Recognizer",
    "build_recognizer",
    "certain",
    "confirm_prompt",
    "kiwi_available",
    "load_recognizer",
    "read_yes_no",
    "reask_prompt",
    "uncertain_entities",
    "warn_if_no_kiwi",
]


@runtime_checkable
class Recognizer(Protocol):
    """Intent and entity recognition for one play.

    ``parse`` must never raise for ordinary text and should return quickly (it runs on the
    event loop for every typed message). ``expect_types`` lists the entity types (``TYPE``
    or ``TYPE:ROLE``) the dialog waits for, or is None. Entities that are not certain carry
    ``source="fuzzy"`` and a ``confidence`` below 1; parts that were seen but not understood
    go to ``NluResult.unresolved``. The engine then asks before it answers.
    """

    def parse(self, text: str, *, expect_types: Collection[str] | None = None) -> NluResult:
        """Recognise one utterance."""
        ...


@runtime_checkable
class AsyncRecognizer(Protocol):
    """A recogniser that waits for something (an external NLU service, a model server).

    The engine awaits ``recognize`` for every typed message, so a network call does not
    block other sessions. The result follows the same rules as :meth:`Recognizer.parse`.
    An object may have both ``recognize`` and ``parse``: the engine then awaits
    ``recognize`` for turns, and callers that cannot wait (gateway intent routes) use
    ``parse``. The built-in :class:`Nlu` is synchronous: it has no ``recognize``, and the
    engine calls its ``parse`` directly, with no extra cost.
    """

    async def recognize(
        self, text: str, *, expect_types: Collection[str] | None = None
    ) -> NluResult:
        """Recognise one utterance."""
        ...


AnyRecognizer = Recognizer | AsyncRecognizer


class AsyncOnly:
    """The synchronous face of an :class:`AsyncRecognizer` without ``parse``.

    ``DialogEngine.nlu`` must have ``parse`` for callers that cannot await. For an
    asynchronous-only recogniser that is this object: ``parse`` raises :class:`TypeError`
    saying so (await ``DialogEngine.recognize`` instead, or give the recogniser a ``parse``).
    """

    def __init__(self, recognizer: AsyncRecognizer) -> None:
        self.recognizer = recognizer

    def parse(self, text: str, *, expect_types: Collection[str] | None = None) -> NluResult:
        raise TypeError(
            f"{type(self.recognizer).__name__} is asynchronous (recognize() only): "
            "await DialogEngine.recognize(text), or give it a parse() method too"
        )


def build_recognizer(
    definition: PlayDefinition,
    *,
    audio_player: bool,
    tokenizer: Tokenizer | None = None,
    threshold: float = 0.4,
) -> Nlu:
    """The built-in :class:`Nlu` for a play, as :class:`DialogEngine` builds it.

    Built-in intents: stop and open, the AudioPlayer ones when ``audio_player``, and any
    ``NUGU.INTENT.*`` an action is triggered by. Built-in entity types: those the examples
    use and those the actions' parameters map (so ``금욜`` is found although no example
    marks a weekday).
    """
    builtins = set(DEFAULT_BUILTIN_INTENTS)
    if audio_player:
        builtins |= AUDIO_PLAYER_INTENTS
    known = DEFAULT_BUILTIN_INTENTS | AUDIO_PLAYER_INTENTS
    extra: set[str] = set()
    for act in definition.actions.values():
        if act.trigger and act.trigger.intent in known:
            builtins.add(act.trigger.intent)
        for p in act.parameters.values():
            extra.update(m.type for m in p.mappings)
    for p in definition.parameters.values():
        extra.update(m.type for m in p.mappings)
    return Nlu(
        [IntentSpec(i.name, i.examples) for i in definition.intents.values()],
        [EntityTypeSpec(e.name, e.values) for e in definition.entities.values()],
        tokenizer=tokenizer,
        builtin_intents=builtins,
        threshold=threshold,
        invocation=definition.invocation,
        extra_types=extra,
    )


@dataclass(frozen=True, slots=True)
class Doubt:
    """Something to ask about: ``typed`` was read as ``read_as`` (None: not understood).

    ``choices`` is set for an entity beyond what the parameters take: the texts of all the
    entities of its type, of which the user should say one.
    """

    typed: str
    read_as: str | None
    choices: tuple[str, ...] = ()


def load_recognizer(spec: str, definition: PlayDefinition) -> AnyRecognizer:
    """The recogniser named by the ``recognizer`` setting: ``"package.module:factory"``;
    ``factory(definition)`` returns it. Raises :class:`ValueError` when it cannot be loaded
    (a start-up error, with the reason)."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise ValueError(f"recognizer {spec!r}: expected 'package.module:factory'")
    try:
        factory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ValueError(f"recognizer {spec!r} cannot be loaded: {exc}") from exc
    recognizer = factory(definition)
    if not isinstance(recognizer, Recognizer | AsyncRecognizer):
        raise ValueError(
            f"recognizer {spec!r}: {attr}() returned no object with parse() or recognize()"
        )
    return recognizer


def uncertain_entities(result: NluResult, params: Iterable[Parameter]) -> list[Doubt]:
    """What the user should confirm before ``params`` are filled from ``result``.

    Empty when the result can be used as it is. Otherwise:

    - every corrected (``fuzzy``) or ``partial`` entity whose type one of the utterance
      ``params`` maps: ``Doubt("모래", "모레")``, ``Doubt("신나는", "신나는 음악")``;
    - every ``unresolved`` part, when any utterance parameter exists (a date or a number
      the parameters could have used was not understood: answering with the defaults would
      be wrong): ``Doubt("13/45", None)``;
    - every entity beyond the parameters that map its type (a second operator, a second
      place): ``Doubt("더하기", None)``.
    """
    uparams = [p for p in params if p.kind == "utterance"]
    types = {m.type for p in uparams for m in p.mappings}
    out: list[Doubt] = []
    for e in result.entities:
        if not e.corrected or e.type not in types:
            continue
        fixes = [c for c in result.corrections if c.start < e.end and c.end > e.start]
        read_as = " ".join(c.corrected for c in fixes) if fixes else e.value
        out.append(Doubt(e.text, read_as))
    if uparams:
        out.extend(Doubt(part, None) for part in result.unresolved)
        for e in _surplus(result.entities, uparams):
            same = tuple(x.text for x in result.entities if x.type == e.type)
            if all(d.choices != same for d in out):
                out.append(Doubt(e.text, None, same))
    return out


def _surplus(entities: Sequence[EntityMatch], uparams: Sequence[Parameter]) -> list[EntityMatch]:
    """Entities no parameter can take: more of a type than parameters mapping it
    ("3 곱하기 4 더하기 5" has two operators for one parameter). The later ones are surplus;
    answering without them would answer another question."""
    slots = {
        t: sum(1 for p in uparams if t in {m.type for m in p.mappings})
        for t in {e.type for e in entities}
    }
    seen: dict[str, int] = {}
    out: list[EntityMatch] = []
    for e in entities:
        seen[e.type] = seen.get(e.type, 0) + 1
        if slots[e.type] and seen[e.type] > slots[e.type]:
            out.append(e)
    return out


_YES: Final = frozenset(
    {"네", "예", "응", "어", "웅", "넹", "넵", "네네", "ㅇㅇ", "ㅇ", "맞아", "맞아요", "맞습니다"}
    | {"맞음", "그래", "그래요", "좋아", "좋아요", "오케이", "ㅇㅋ", "yes", "ok", "okay", "y"}
    | {"네맞아요", "응맞아", "어맞아", "맞아맞아", "그렇습니다", "그렇지", "그럼"}
)
_NO: Final = frozenset(
    {"아니", "아니요", "아뇨", "아니야", "아니에요", "아닙니다", "ㄴㄴ", "ㄴ", "노", "no", "n"}
    | {"틀려", "틀렸어", "틀려요", "아니거든", "아닌데", "아니오"}
)
_NOT_LETTERS: Final = re.compile(r"[^0-9A-Za-z가-힣ㄱ-ㅎ]+")


def read_yes_no(text: str) -> bool | None:
    """True for yes (네, 응, 맞아요, ㅇㅇ, ok), False for no (아니요, ㄴㄴ, no), else None."""
    compact = _NOT_LETTERS.sub("", text).lower()
    compact = re.sub(r"(ㅋ|ㅎ|ㅠ|ㅜ)+$", "", compact)
    if compact in _YES:
        return True
    if compact in _NO:
        return False
    return None


def confirm_prompt(doubts: Sequence[Doubt]) -> str:
    """The question asked before using corrected entities.

    ``[Doubt("모래", "모레")]`` → ``'모래'를 '모레'로 알아들었어요. 맞으면 네, 아니면 다시
    말씀해 주세요.``
    """
    read = ", ".join(
        f"'{d.typed}'{choose(d.typed, '을/를')} '{d.read_as}'{choose(d.read_as or '', '로/으로')}"
        for d in doubts
    )
    return f"{read} 알아들었어요. 맞으면 네, 아니면 다시 말씀해 주세요."


def reask_prompt(doubts: Sequence[Doubt]) -> str:
    """The request to say it again: ``'13/45'를 잘 모르겠어요. 다시 말씀해 주세요.``, or for
    too many values ``'부산', '서울' 중에 하나만 말씀해 주세요.``"""
    sentences: list[str] = []
    unclear = [d for d in doubts if not d.choices]
    if unclear:
        parts = ", ".join(f"'{d.typed}'" for d in unclear)
        sentences.append(f"{parts}{choose(unclear[-1].typed, '을/를')} 잘 모르겠어요.")
    for d in doubts:
        if d.choices:
            sentences.append(", ".join(f"'{c}'" for c in d.choices) + " 중에 하나만 말씀해 주세요.")
    if unclear:
        sentences.append("다시 말씀해 주세요.")
    return " ".join(sentences)


def certain(entities: Iterable[EntityMatch]) -> list[EntityMatch]:
    """The entities as confirmed by the user: confidence 1, source ``confirmed``."""
    return [replace(e, confidence=1.0, source="confirmed") for e in entities]


def kiwi_available() -> bool:
    """True when kiwipiepy (the ``voicehook[korean]`` extra) can be imported."""
    return importlib.util.find_spec("kiwipiepy") is not None


def warn_if_no_kiwi(logger: logging.Logger, *, channel: str = "botframework") -> bool:
    """Log a start-up warning when kiwipiepy is missing; True when it warned.

    Call it when a channel whose users type (the Bot Framework channel) is enabled: there,
    voicehook's NLU is the production NLU, and without Kiwi intent recognition is weaker
    (``docs/nlu.md`` has the numbers).
    """
    if kiwi_available():
        return False
    logger.warning(
        "the %s channel is enabled but kiwipiepy is not installed: the NLU falls back to "
        "the simple tokenizer, which recognises phrasings the examples do not cover less "
        "well; install it with: pip install 'voicehook[korean]'",
        channel,
    )
    return True
