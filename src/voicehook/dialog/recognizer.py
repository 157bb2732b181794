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

:func:`uncertain_entities` is the "never silently wrong" rule the engine applies to any
recogniser's result (see ``docs/nlu.md``).
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Collection, Iterable
from dataclasses import replace
from typing import Protocol, runtime_checkable

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
from voicehook.play.definition import Parameter, PlayDefinition

__all__ = [
    "Recognizer",
    "build_recognizer",
    "certain",
    "kiwi_available",
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


def uncertain_entities(result: NluResult, params: Iterable[Parameter]) -> list[str]:
    """What the user should confirm before ``params`` are filled from ``result``.

    Returns the texts to ask about, empty when the result can be used as it is:

    - every corrected (``fuzzy``) entity whose type one of the utterance ``params`` maps,
      as ``"모래 → 모레"``;
    - every ``unresolved`` part, when any utterance parameter exists (a date or a number
      the parameters could have used was not understood: answering with the defaults would
      be wrong).
    """
    uparams = [p for p in params if p.kind == "utterance"]
    types = {m.type for p in uparams for m in p.mappings}
    out = [f"{e.text} → {e.value}" for e in result.entities if e.corrected and e.type in types]
    if uparams:
        out.extend(result.unresolved)
    return out


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
        "the simple tokenizer and understands typed Korean less well; "
        "install it with: pip install 'voicehook[korean]'",
        channel,
    )
    return True
