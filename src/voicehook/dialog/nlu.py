"""NLU-lite: intent and entity recognition from a play's example utterances and dictionaries.

This is the recogniser the local NUGU Dialog Manager simulator uses. It is small,
deterministic and explainable, not a statistical model:

1. **Entities** are found on the raw text: custom entity values and synonyms by dictionary
   matching (longest match first, spacing-insensitive, Hangul-aware word boundaries), and the
   built-in ``BID_*`` types by the recognisers in :mod:`voicehook.dialog.builtin_entities`.
   Overlaps keep the longest span (custom types win ties).
2. **Built-in intents** (``NUGU.INTENT.stop`` and friends) are whole-utterance commands
   matched by patterns: "그만", "그만해", "종료해 줘", "일시정지", "다음 곡" ...
3. **Custom intents** are scored against every example: entity spans become type placeholders
   (``<LOCATION>``), the rest is split into content morphemes (nouns, verb/adjective stems,
   numbers; particles and endings dropped) by a :class:`Tokenizer`, and the utterance is compared
   with each example by an IDF-weighted cosine over morpheme unigrams and bigrams. The best
   example's intent wins when its score reaches ``threshold``; otherwise the intent is ``None``
   (the dialog engine then runs ``NUGU.ACTION.fallback``).
4. **Roles** (``[3](BID_QT:first)``) are given by order, from the chosen intent's examples.

kiwipiepy (the ``voicehook[korean]`` extra) is used for morphemes when it is installed; it is
imported lazily. Without it :class:`SimpleTokenizer` strips common particles and endings from
whitespace-separated words, which is less accurate (see ``docs/nlu.md`` for the numbers).
"""

from __future__ import annotations

import itertools
import math
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol, runtime_checkable

from voicehook.dialog.builtin_entities import (
    SUPPORTED_BUILTIN_TYPES,
    find_builtin_entities,
    normalize_builtin,
)

__all__ = [
    "AUDIO_PLAYER_INTENTS",
    "DEFAULT_BUILTIN_INTENTS",
    "INTENT_NEXT",
    "INTENT_OPEN",
    "INTENT_PAUSE",
    "INTENT_PLAY",
    "INTENT_PREVIOUS",
    "INTENT_RESUME",
    "INTENT_REWIND",
    "INTENT_STOP",
    "EntityMatch",
    "EntityTypeSpec",
    "IntentSpec",
    "KiwiTokenizer",
    "Nlu",
    "NluResult",
    "SimpleTokenizer",
    "Token",
    "Tokenizer",
    "default_tokenizer",
    "parse_example",
    "specs_from_play_data",
]

INTENT_STOP: Final = "NUGU.INTENT.stop"
INTENT_OPEN: Final = "NUGU.INTENT.open"
INTENT_PAUSE: Final = "NUGU.INTENT.pause"
INTENT_RESUME: Final = "NUGU.INTENT.resume"
INTENT_NEXT: Final = "NUGU.INTENT.next"
INTENT_PREVIOUS: Final = "NUGU.INTENT.previous"
INTENT_PLAY: Final = "NUGU.INTENT.play"
INTENT_REWIND: Final = "NUGU.INTENT.rewind"

#: Built-in intents every play gets. Spec §5.6: stop and rewind are universal.
DEFAULT_BUILTIN_INTENTS: Final[frozenset[str]] = frozenset(
    {INTENT_STOP, INTENT_OPEN, INTENT_REWIND}
)
#: The AudioPlayer control intents (enable them for plays with the AudioPlayer interface).
AUDIO_PLAYER_INTENTS: Final[frozenset[str]] = frozenset(
    {INTENT_PAUSE, INTENT_RESUME, INTENT_NEXT, INTENT_PREVIOUS, INTENT_PLAY, INTENT_REWIND}
)


# =========================================================================== input and output


@dataclass(frozen=True, slots=True)
class EntityTypeSpec:
    """A custom entity type: representative value (대표값) → synonyms (동의어)."""

    name: str
    values: Mapping[str, Sequence[str]]


@dataclass(frozen=True, slots=True)
class IntentSpec:
    """A custom intent and its example utterances.

    Examples mark entities as ``[text](TYPE)`` or ``[text](TYPE:ROLE)``.
    """

    name: str
    examples: Sequence[str]


@dataclass(frozen=True, slots=True)
class EntityMatch:
    """One recognised entity.

    ``value`` is what the backend receives: the representative value for a custom synonym,
    the normalised value for a built-in type (``TOMORROW``, ``"23"``), else the spoken text.
    ``start``/``end`` index the parsed text (``text == utterance[start:end]``).
    """

    type: str
    role: str
    text: str
    value: str
    start: int
    end: int


@dataclass(slots=True)
class NluResult:
    """The result of :meth:`Nlu.parse`.

    ``intent`` is ``None`` when no intent scored above the threshold (→ fallback).
    ``score`` is in ``[0, 1]``; built-in command patterns and exact matches score ``1.0``.
    """

    intent: str | None
    score: float
    entities: list[EntityMatch] = field(default_factory=list)

    def entity(self, type_or_role: str) -> EntityMatch | None:
        """The first entity whose role or type is ``type_or_role``, if any."""
        for match in self.entities:
            if type_or_role in (match.role, match.type):
                return match
        return None


def specs_from_play_data(
    data: Mapping[str, Any],
) -> tuple[list[IntentSpec], list[EntityTypeSpec]]:
    """Read the ``intents`` and ``entities`` sections of a ``play.yaml`` already parsed into
    plain data (``yaml.safe_load``). Missing sections give empty lists; values are
    converted with ``str``. No validation: use the play loader for that.
    """
    intents = [
        IntentSpec(str(name), [str(e) for e in (spec or {}).get("examples") or []])
        for name, spec in (data.get("intents") or {}).items()
    ]
    entity_types = [
        EntityTypeSpec(
            str(name),
            {
                str(value): [str(s) for s in (synonyms or [])]
                for value, synonyms in ((spec or {}).get("values") or {}).items()
            },
        )
        for name, spec in (data.get("entities") or {}).items()
    ]
    return intents, entity_types


# =========================================================================== tokenizers


@dataclass(frozen=True, slots=True)
class Token:
    """A content morpheme: ``lemma`` is compared, ``start``/``end`` locate it in the text."""

    lemma: str
    start: int
    end: int


@runtime_checkable
class Tokenizer(Protocol):
    """Splits text into content morphemes (particles, endings and punctuation dropped)."""

    def tokenize(self, text: str) -> list[Token]:
        """Return the content morphemes of ``text`` in order."""
        ...


# Kiwi (Sejong) tags we keep: nouns, numerals, pronouns, verb/adjective stems, roots,
# adverbs and determiners, foreign words and numbers.
_KIWI_KEEP_PREFIXES: Final = ("NN", "NR", "NP", "VV", "VA", "XR", "MAG", "MM", "SL", "SN", "SH")
_KIWI_VERB_PREFIXES: Final = ("VV", "VA")


class KiwiTokenizer:
    """Morphological tokenizer backed by kiwipiepy (the ``voicehook[korean]`` extra).

    Loading the model takes about a second: create one and share it between :class:`Nlu`
    instances (``Nlu(..., tokenizer=shared)``). ``kiwi`` may be an existing
    ``kiwipiepy.Kiwi`` object. Raises :class:`ImportError` when kiwipiepy is not installed.
    """

    def __init__(self, kiwi: Any = None) -> None:
        if kiwi is None:
            from kiwipiepy import Kiwi  # lazy: optional dependency, slow to load

            kiwi = Kiwi()
        self._kiwi = kiwi

    def tokenize(self, text: str) -> list[Token]:
        """Content morphemes; verbs and adjectives as their dictionary form (알려 → 알리다)."""
        out: list[Token] = []
        for tok in self._kiwi.tokenize(text):
            tag = str(tok.tag)
            if not tag.startswith(_KIWI_KEEP_PREFIXES):
                continue
            form = str(tok.form)
            if tag.startswith(_KIWI_VERB_PREFIXES):
                lemma = str(getattr(tok, "lemma", "") or form + "다")
            else:
                lemma = form.lower()
            start = int(tok.start)
            out.append(Token(lemma, start, start + int(tok.len)))
        return out


# Particles and endings the simple tokenizer strips from the end of a word, longest first.
_SIMPLE_SUFFIXES: Final[tuple[str, ...]] = tuple(
    sorted(
        {
            # particles
            *("은", "는", "이", "가", "을", "를", "의", "에", "에서", "에게", "한테", "께"),
            *("로", "으로", "와", "과", "도", "만", "랑", "이랑", "하고", "까지", "부터"),
            *("이야", "야", "이요", "요", "이에요", "예요", "입니다", "이지", "인가", "인가요"),
            # verb endings (after 해/어/아 forms)
            *("줘", "줘요", "줄래", "줄래요", "주세요", "주실래요", "주라", "줘봐", "봐", "봐요"),
            *("래", "래요", "니", "나요", "냐", "면", "으면", "죠", "지", "네", "다"),
            *("습니다", "ㅂ니다", "는데", "은데", "던데", "까", "을까", "ㄹ까", "할까", "할래"),
            # 하다 verbs: 계산해 → 계산, 시작하세요 → 시작
            *("해", "해요", "하세요", "세요", "합니다", "하자", "하고", "하기", "해서", "하면"),
        },
        key=len,
        reverse=True,
    )
)
_SINGLE_SYLLABLE_SUFFIXES: Final = frozenset(s for s in _SIMPLE_SUFFIXES if len(s) == 1)
_WORD_RE: Final = re.compile(r"[0-9A-Za-z가-힣]+")


class SimpleTokenizer:
    """Dependency-free fallback: whitespace words with particles and endings stripped.

    ``"서울의 날씨는 알려줄래"`` → ``서울``, ``날씨``, ``알려``. Stems of conjugated verbs are
    left as spoken (``알려`` and ``알리`` differ), so give intents varied examples.
    """

    def tokenize(self, text: str) -> list[Token]:
        """Words with at most two particles/endings removed from their end."""
        out: list[Token] = []
        for m in _WORD_RE.finditer(text):
            word = m.group().lower()
            for _ in range(2):
                for suffix in _SIMPLE_SUFFIXES:
                    min_stem = 2 if suffix in _SINGLE_SYLLABLE_SUFFIXES else 1
                    if word.endswith(suffix) and len(word) - len(suffix) >= min_stem:
                        word = word[: -len(suffix)]
                        break
                else:
                    break
            if word in _SIMPLE_SUFFIXES:
                continue  # a bare particle or ending ("할래", "줘"): no content
            out.append(Token(word, m.start(), m.start() + len(word)))
        return out


def default_tokenizer() -> Tokenizer:
    """A :class:`KiwiTokenizer` when kiwipiepy is importable, else a :class:`SimpleTokenizer`."""
    try:
        return KiwiTokenizer()
    except ImportError:
        return SimpleTokenizer()


# =========================================================================== example markup

_MARKUP_RE: Final = re.compile(r"\[([^\[\]]+)\]\(([^()\s]+)\)")


@dataclass(frozen=True, slots=True)
class _Span:
    type: str
    role: str
    text: str
    value: str
    start: int
    end: int


def _asked_roles(expect_types: Iterable[str]) -> dict[str, str]:
    """The types of ``TYPE:ROLE`` entries that name exactly one role (and no bare ``TYPE``),
    with that role."""
    roles: dict[str, set[str]] = {}
    for entry in expect_types:
        type_name, _, role = entry.partition(":")
        roles.setdefault(type_name, set()).add(role or type_name)
    return {t: next(iter(rs)) for t, rs in roles.items() if len(rs) == 1 and t not in rs}


def parse_example(example: str) -> tuple[str, list[tuple[str, str, int, int]]]:
    """Strip the entity markup from an example utterance.

    Returns the plain text and the marked spans as ``(type, role, start, end)``; the role
    defaults to the type. ``"[3](BID_QT:first) 더하기"`` → ``("3 더하기", [("BID_QT", "first",
    0, 1)])``.
    """
    plain: list[str] = []
    spans: list[tuple[str, str, int, int]] = []
    pos = 0
    length = 0
    for m in _MARKUP_RE.finditer(example):
        before = example[pos : m.start()]
        plain.append(before)
        length += len(before)
        text = m.group(1)
        type_name, _, role = m.group(2).partition(":")
        spans.append((type_name, role or type_name, length, length + len(text)))
        plain.append(text)
        length += len(text)
        pos = m.end()
    plain.append(example[pos:])
    return "".join(plain), spans


# =========================================================================== built-in intents

_NOUN_TAIL: Final = (
    r"(?:해|하기|하자|할래|해라|해요|합니다|하세요|해봐|시켜|)"
    r"(?:줘|줄래|주세요|줘요|줄래요|봐|)요?"
)
_VERB_TAIL: Final = r"(?:줘|줄래|주세요|줘요|줄래요|봐|라|요|)요?"
_FILLER: Final = r"(?:이제|그냥|좀|다|제발|그럼|지금|바로)*"


def _command(nouns: Iterable[str] = (), verbs: Iterable[str] = (), prefix: str = "") -> str:
    alternatives = [f"(?:{'|'.join(nouns)}){_NOUN_TAIL}"] if nouns else []
    if verbs:
        alternatives.append(f"(?:{'|'.join(verbs)}){_VERB_TAIL}")
    return f"^{_FILLER}{prefix}(?:{'|'.join(alternatives)})$"


_MEDIA: Final = r"(?:음악|노래|곡|재생|플레이|퀴즈|게임|계산|대화)?"
# Decision (documented in docs/nlu.md): the spec lists 멈춰 among the stop words, so a bare
# "멈춰" is NUGU.INTENT.stop; pause needs 일시정지/일시 중지 or 잠깐/잠시 + 멈춰/정지.
_BUILTIN_PATTERNS: Final[dict[str, re.Pattern[str]]] = {
    INTENT_PAUSE: re.compile(
        _command(
            nouns=(
                "일시정지",
                "일시중지",
                "일시멈춤",
                "잠깐정지",
                "잠시정지",
                "잠깐중지",
                "잠시중지",
            ),
            verbs=(
                "잠깐멈춰",
                "잠시멈춰",
                "잠깐만멈춰",
                "잠깐멈춤",
                "잠시멈춤",
                "잠깐멈추",
                "잠시멈추",
            ),
            prefix=_MEDIA,
        )
    ),
    INTENT_STOP: re.compile(
        _command(
            nouns=("그만", "정지", "중지", "종료", "스탑", "스톱", "끝", "닫기", "stop"),
            verbs=(
                *("멈춰", "멈추", "닫아", "끝내", "끝내자", "끝낼래", "나가", "나갈래", "꺼"),
                *("그만들을래", "그만듣자", "그만둘래", "그만두자", "그만둬", "그만할게"),
            ),
            prefix=_MEDIA,
        )
    ),
    INTENT_OPEN: re.compile(
        _command(
            nouns=("오픈", "시작", "스타트", "실행", "open"),
            verbs=("열어", "열기", "열자", "열래"),
        )
    ),
    INTENT_RESUME: re.compile(
        _command(
            nouns=(
                "다시재생",
                "재생재개",
                "재개",
                "계속재생",
                "이어서재생",
                "이어재생",
                "이어듣기",
            ),
            verbs=(
                "이어서",
                "이어서틀어",
                "이어서들려",
                "계속틀어",
                "계속들려",
                "다시틀어",
                "이어틀어",
            ),
            prefix=_MEDIA,
        )
    ),
    INTENT_NEXT: re.compile(
        _command(
            nouns=(
                "다음",
                "다음곡",
                "다음노래",
                "다음음악",
                "다음거",
                "다음걸로",
                "다음으로",
                "다음곡으로",
                "다음노래로",
                "스킵",
            ),
            verbs=(
                "넘겨",
                "건너뛰어",
                "다음곡틀어",
                "다음노래틀어",
                "다음곡들려",
                "다음노래들려",
                "다음거틀어",
            ),
        )
    ),
    INTENT_PREVIOUS: re.compile(
        _command(
            nouns=(
                *("이전", "이전으로", "이전곡으로", "이전노래로", "전곡으로", "앞곡으로"),
                *(f"{a}{b}" for a in ("이전", "전", "앞") for b in ("곡", "노래", "거", "음악")),
            ),
            verbs=("이전곡틀어", "이전노래틀어", "전곡틀어", "이전곡들려", "앞곡틀어", "돌아가"),
        )
    ),
    INTENT_PLAY: re.compile(
        _command(
            nouns=("재생", "플레이", "play"),
            verbs=("틀어", "들려", "틀자", "들려줄래"),
        )
    ),
    INTENT_REWIND: re.compile(
        _command(
            nouns=("되감기", "처음부터", "처음부터다시", "다시처음부터", "한번더"),
            verbs=(
                "다시말해",
                "한번더말해",
                "뭐라고",
                "되감아",
                "처음부터다시틀어",
                "처음부터틀어",
                "다시말해봐",
            ),
        )
    ),
}
_COMPACT_DROP_RE: Final = re.compile(r"[\s.,!?~…'\"]+")


def _compact(text: str) -> str:
    return _COMPACT_DROP_RE.sub("", text).lower()


# =========================================================================== entity dictionary


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣"


def _script(ch: str) -> str:
    if _is_hangul(ch):
        return "h"
    if ch.isascii() and ch.isdigit():
        return "d"
    if ch.isalpha():
        return "l"
    return ""


# What may follow a one-syllable dictionary form inside the same word ("곱" in "곱하면").
_ONE_SYLLABLE_TAILS: Final = frozenset(
    {"", "은", "는", "이", "가", "을", "를", "에", "로", "으로", "도", "요", "야", "이야"}
)


def _lower_char(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch  # keep offsets: never change the length


def _form_key(text: str) -> str:
    return "".join(_lower_char(ch) for ch in text if not ch.isspace())


class _Dictionary:
    """Surface forms of custom (and unsupported built-in) types, matched spacing-insensitively."""

    def __init__(self) -> None:
        # form key (no spaces, lower case) -> [(type, value)]; one form may serve several types
        self._forms: dict[str, list[tuple[str, str]]] = {}
        self._lengths: list[int] = []

    def add(self, type_name: str, form: str, value: str) -> None:
        key = _form_key(form)
        if not key:
            return
        entries = self._forms.setdefault(key, [])
        if all(t != type_name for t, _ in entries):
            entries.append((type_name, value))
        if len(key) not in self._lengths:
            self._lengths = sorted([*self._lengths, len(key)], reverse=True)

    def value_of(self, type_name: str, text: str) -> str | None:
        for t, value in self._forms.get(_form_key(text), ()):
            if t == type_name:
                return value
        return None

    def containing_value(self, type_name: str, text: str) -> str | None:
        """The value of the longest known form of ``type_name`` inside ``text``."""
        key = _form_key(text)
        best: tuple[int, str] | None = None
        for form, entries in self._forms.items():
            if form in key and (best is None or len(form) > best[0]):
                for t, value in entries:
                    if t == type_name:
                        best = (len(form), value)
        return None if best is None else best[1]

    def find(
        self, text: str, types: Collection[str] | None, prefer: Collection[str] = ()
    ) -> list[_Span]:
        """Longest forms at word starts; a form of several types gives one of ``prefer``
        if it can, else the first of ``types`` it was added for."""
        chars: list[str] = []
        index: list[int] = []
        for i, ch in enumerate(text):
            if not ch.isspace():
                chars.append(_lower_char(ch))
                index.append(i)
        compact = "".join(chars)
        out: list[_Span] = []
        for ci, oi in enumerate(index):
            if oi > 0 and _script(text[oi - 1]) and _script(text[oi - 1]) == _script(text[oi]):
                continue  # not at the start of a word
            for length in self._lengths:
                key = compact[ci : ci + length]
                entries = self._forms.get(key, ()) if len(key) == length else ()
                allowed = [e for e in entries if types is None or e[0] in types]
                hit = next((e for e in allowed if e[0] in prefer), allowed[0] if allowed else None)
                if hit is None:
                    continue
                start, end = oi, index[ci + length - 1] + 1
                if not self._right_ok(text, key, end):
                    continue
                out.append(_Span(hit[0], hit[0], text[start:end], hit[1], start, end))
                break
        return out

    @staticmethod
    def _right_ok(text: str, key: str, end: int) -> bool:
        if end >= len(text):
            return True
        nxt, last = _script(text[end]), _script(key[-1])
        if last in ("d", "l"):
            return nxt != last
        if len(key) == 1 and nxt == "h":
            j = end
            while j < len(text) and _is_hangul(text[j]):
                j += 1
            return text[end:j] in _ONE_SYLLABLE_TAILS
        return True


_TYPE_PRIORITY: Final[dict[str, int]] = {
    "BID_DT_WDAY": 1,
    "BID_DT_DAY": 1,
    "BID_DT_YMONTH": 1,
    "BID_DT_MDAY": 1,
    "BID_QT": 2,
}


def _resolve_overlaps(candidates: Iterable[_Span]) -> list[_Span]:
    """Keep the longest candidates that do not overlap; custom types win ties."""
    ordered = sorted(
        candidates, key=lambda s: (-(s.end - s.start), _TYPE_PRIORITY.get(s.type, 0), s.start)
    )
    taken: list[_Span] = []
    for span in ordered:
        if all(span.end <= t.start or span.start >= t.end for t in taken):
            taken.append(span)
    taken.sort(key=lambda s: s.start)
    return taken


# =========================================================================== scoring

_STOPWORDS: Final = frozenset(
    {"좀", "혹시", "그럼", "그냥", "제발", "한번", "나", "저", "너", "거", "것", "수", "있다"}
    | {"하다", "되다", "주다", "이다", "요", "어", "음", "그", "이", "저기", "지금", "막"}
)


def _placeholder(type_name: str) -> str:
    return f"<{type_name}>"


@dataclass(frozen=True, slots=True)
class _Example:
    intent: str
    index: int  # order of the intent, for deterministic ties
    features: frozenset[str]
    key: str  # exact-match key: placeholders + compact text
    roles: Mapping[str, tuple[str, ...]]  # type -> roles in order of appearance


_STRUCTURED_RE: Final = re.compile(
    r"""\s*([A-Za-z_][\w.:-]*)=("(?:[^"\\]|\\.)*"|'[^']*'|[^\s"']+)\s*"""
)


class Nlu:
    """Intent + entity recogniser for one play.

    ``intents`` and ``entity_types`` come from the play definition. ``builtin_intents`` selects
    the ``NUGU.INTENT.*`` commands to recognise (default: stop and open; add
    :data:`AUDIO_PLAYER_INTENTS` for AudioPlayer plays). ``tokenizer`` defaults to
    :func:`default_tokenizer` — pass a shared one, the Kiwi model is slow to load.
    ``threshold`` is the minimum score for a custom intent. ``invocation`` (the play's 호출
    이름) is stripped from the start of an utterance ("날씨 알리미에서 서울 날씨"); the invocation
    name alone means ``NUGU.INTENT.open``.
    """

    def __init__(
        self,
        intents: Sequence[IntentSpec],
        entity_types: Sequence[EntityTypeSpec],
        *,
        tokenizer: Tokenizer | None = None,
        builtin_intents: Collection[str] = DEFAULT_BUILTIN_INTENTS,
        threshold: float = 0.4,
        invocation: str | None = None,
    ) -> None:
        self._tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
        self._threshold = threshold
        self._builtin_intents = frozenset(builtin_intents)
        unknown = self._builtin_intents - set(_BUILTIN_PATTERNS)
        if unknown:
            raise ValueError(f"unknown built-in intents: {sorted(unknown)}")
        self._invocation = _compact(invocation) if invocation else ""
        self._intent_names = [i.name for i in intents]

        self._dictionary = _Dictionary()
        self._custom_types: set[str] = set()
        for entity_type in entity_types:
            self._custom_types.add(entity_type.name)
            for value, synonyms in entity_type.values.items():
                self._dictionary.add(entity_type.name, value, value)
                for synonym in synonyms:
                    self._dictionary.add(entity_type.name, synonym, value)

        parsed = [
            (i, spec, [parse_example(e) for e in spec.examples]) for i, spec in enumerate(intents)
        ]
        self._builtin_types: set[str] = set()
        for _, _, examples in parsed:
            for plain, marks in examples:
                for type_name, _, start, end in marks:
                    self._learn_form(type_name, plain[start:end])
        self._types = frozenset(self._custom_types | self._builtin_types)

        raw: list[tuple[int, str, list[str], str, dict[str, tuple[str, ...]]]] = []
        for index, spec, examples in parsed:
            for plain, marked in examples:
                given = [_Span(t, r, plain[s:e], plain[s:e], s, e) for t, r, s, e in marked]
                spans = _resolve_overlaps([*given, *self._recognise(plain, self._types, given)])
                roles: dict[str, list[str]] = {}
                for t, r, _, _ in marked:
                    roles.setdefault(t, []).append(r)
                seq = self._sequence(plain, spans)
                raw.append(
                    (
                        index,
                        spec.name,
                        seq,
                        self._key(plain, spans),
                        {t: tuple(rs) for t, rs in roles.items()},
                    )
                )

        # IDF over intents: a feature that only one intent uses is more telling.
        df: Counter[str] = Counter()
        per_intent: dict[str, set[str]] = {}
        features = [self._features(seq) for _, _, seq, _, _ in raw]
        for (_, name, _, _, _), feats in zip(raw, features, strict=True):
            per_intent.setdefault(name, set()).update(feats)
        for feats in per_intent.values():
            df.update(feats)
        n = max(len(per_intent), 1)
        self._idf = {f: 1.0 + math.log(n / c) for f, c in df.items()}
        self._unseen_weight = 1.0 + math.log(n + 1)
        self._examples = [
            _Example(name, index, frozenset(feats), key, roles)
            for (index, name, _, key, roles), feats in zip(raw, features, strict=True)
        ]
        self._example_norms = [self._norm(e.features) for e in self._examples]
        self._exact: dict[str, _Example] = {}
        for example in self._examples:
            self._exact.setdefault(example.key, example)

    # ------------------------------------------------------------------ construction helpers

    def _learn_form(self, type_name: str, text: str) -> None:
        if type_name in SUPPORTED_BUILTIN_TYPES:
            self._builtin_types.add(type_name)
            return
        if type_name.startswith("BID_"):
            self._builtin_types.add(type_name)  # unsupported built-in: learn its examples
        value = self._dictionary.value_of(type_name, text)
        if value is None:
            value = self._dictionary.containing_value(type_name, text) or text
            self._dictionary.add(type_name, text, value)

    @property
    def entity_types(self) -> frozenset[str]:
        """The entity types this NLU looks for (custom + built-ins used by the examples)."""
        return self._types

    @property
    def intents(self) -> tuple[str, ...]:
        """The custom intent names, in definition order."""
        return tuple(self._intent_names)

    # ------------------------------------------------------------------ entities

    def _recognise(
        self,
        text: str,
        types: Collection[str],
        exclude: Sequence[_Span] = (),
        prefer: Collection[str] = (),
    ) -> list[_Span]:
        candidates = self._dictionary.find(text, types, prefer)
        builtin = [t for t in types if t in SUPPORTED_BUILTIN_TYPES]
        if builtin:
            candidates.extend(
                _Span(m.type, m.type, m.text, m.value, m.start, m.end)
                for m in find_builtin_entities(text, builtin)
            )
        if exclude:
            candidates = [
                c for c in candidates if all(c.end <= x.start or c.start >= x.end for x in exclude)
            ]
        return candidates

    # ------------------------------------------------------------------ features

    def _sequence(self, text: str, spans: Sequence[_Span]) -> list[str]:
        """Content lemmas with entity spans replaced by ``<TYPE>`` placeholders, in order."""
        items: list[tuple[int, str]] = [(s.start, _placeholder(s.type)) for s in spans]
        for tok in self._tokenizer.tokenize(text):
            if any(tok.start < s.end and tok.end > s.start for s in spans):
                continue
            if tok.lemma in _STOPWORDS:
                continue
            items.append((tok.start, tok.lemma))
        items.sort(key=lambda item: item[0])
        return [lemma for _, lemma in items]

    @staticmethod
    def _features(seq: Sequence[str]) -> set[str]:
        feats = set(seq)
        feats.update(f"{a}|{b}" for a, b in itertools.pairwise(seq))
        return feats

    @staticmethod
    def _key(text: str, spans: Sequence[_Span]) -> str:
        parts: list[str] = []
        pos = 0
        for s in spans:
            parts.append(_compact(text[pos : s.start]))
            parts.append(_placeholder(s.type))
            pos = s.end
        parts.append(_compact(text[pos:]))
        return "".join(parts)

    def _weight(self, feature: str) -> float:
        w = self._idf.get(feature, self._unseen_weight)
        return w * 0.5 if "|" in feature else w

    def _norm(self, feats: Iterable[str]) -> float:
        return math.sqrt(sum(self._weight(f) ** 2 for f in feats))

    # ------------------------------------------------------------------ parsing

    def parse(self, text: str, *, expect_types: Collection[str] | None = None) -> NluResult:
        """Recognise the intent and entities of one utterance. Never raises.

        ``expect_types`` (slot filling, exception-wait states): entities of these types are
        looked for even if no example uses them, and only they are returned. An utterance
        made of expected entities alone ("부산", "2월 28일 금요일") still yields them.
        Entries may be ``TYPE`` or ``TYPE:ROLE`` (a parameter's entity mapping); the type
        decides what is returned. When the only expected role of a type is ``ROLE`` and the
        utterance has one entity of that type, the entity gets ``ROLE`` instead of the role
        guessed from its position ("5" while ``BID_QT:second`` is asked for).
        Text in the structured form (``intent=ask.calc first=3``) goes to
        :meth:`parse_structured`.
        """
        expected = None if expect_types is None else {t.partition(":")[0] for t in expect_types}
        asked_roles = {} if expect_types is None else _asked_roles(expect_types)
        if text.lstrip().startswith("intent="):
            try:
                structured = self.parse_structured(text)
            except ValueError:
                pass
            else:
                if expected is not None:
                    structured.entities = [e for e in structured.entities if e.type in expected]
                return structured
        offset, body = self._strip_invocation(text)
        if body is None:
            return NluResult(INTENT_OPEN, 1.0, [])
        types = self._types if expected is None else self._types | expected
        spans = _resolve_overlaps(self._recognise(body, types, prefer=expected or ()))
        key = self._key(body, spans)
        intent: str | None
        score: float
        best: _Example | None = None
        compact = _compact(body)
        if key in self._exact:
            best = self._exact[key]
            intent, score = best.intent, 1.0
        elif (builtin := self._match_builtin(compact)) is not None:
            intent, score = builtin, 1.0
        else:
            intent, score, best = self._score(body, spans)
        entities = self._assign_roles(intent, best, spans, offset)
        if expected is not None:
            entities = [e for e in entities if e.type in expected]
            counts = Counter(e.type for e in entities)
            entities = [
                replace(e, role=asked_roles[e.type])
                if e.type in asked_roles and counts[e.type] == 1
                else e
                for e in entities
            ]
        return NluResult(intent, score, entities)

    def _strip_invocation(self, text: str) -> tuple[int, str | None]:
        if not self._invocation:
            return 0, text
        seen = 0
        for i, ch in enumerate(text):
            if ch.isspace():
                continue
            if seen == len(self._invocation):
                break
            if ch.lower() != self._invocation[seen]:
                return 0, text
            seen += 1
            end = i + 1
        else:
            if seen == len(self._invocation):
                return len(text), None
            return 0, text
        rest = text[end:]
        m = re.match(r"\s*(?:에게서|에게|에서|한테|으로|로|에|야|아)?(?=\s|$)", rest)
        if m is None:
            return 0, text
        remainder = rest[m.end() :]
        if not remainder.strip(" \t.,!?~"):
            return len(text), None
        return end + m.end(), remainder

    def _match_builtin(self, compact: str) -> str | None:
        for name, pattern in _BUILTIN_PATTERNS.items():
            if name in self._builtin_intents and pattern.match(compact):
                return name
        return None

    def _score(
        self, text: str, spans: Sequence[_Span]
    ) -> tuple[str | None, float, _Example | None]:
        seq = self._sequence(text, spans)
        feats = self._features(seq)
        if not feats or not self._examples:
            return None, 0.0, None
        norm = self._norm(feats)
        best_score = 0.0
        best: _Example | None = None
        for example, example_norm in zip(self._examples, self._example_norms, strict=True):
            shared = feats & example.features
            if not shared or example_norm == 0.0:
                continue
            score = sum(self._weight(f) ** 2 for f in shared) / (norm * example_norm)
            if score > best_score + 1e-12:
                best_score, best = score, example
        if best is None or best_score < self._threshold:
            return None, round(best_score, 4), None
        return best.intent, round(min(best_score, 1.0), 4), best

    def _assign_roles(
        self, intent: str | None, best: _Example | None, spans: Sequence[_Span], offset: int
    ) -> list[EntityMatch]:
        counts = Counter(s.type for s in spans)
        role_seqs: dict[str, tuple[str, ...]] = {}
        for type_name, count in counts.items():
            candidates: list[tuple[str, ...]] = []
            if best is not None and type_name in best.roles:
                candidates.append(best.roles[type_name])
            if intent is not None:
                candidates.extend(
                    e.roles[type_name]
                    for e in self._examples
                    if e.intent == intent and type_name in e.roles
                )
            exact = [c for c in candidates if len(c) == count]
            if exact:
                role_seqs[type_name] = exact[0]
            elif candidates:
                role_seqs[type_name] = max(candidates, key=len)
        seen: Counter[str] = Counter()
        out: list[EntityMatch] = []
        for s in spans:
            roles = role_seqs.get(s.type, ())
            i = seen[s.type]
            seen[s.type] += 1
            role = roles[i] if i < len(roles) else (roles[-1] if len(set(roles)) == 1 else s.type)
            out.append(EntityMatch(s.type, role, s.text, s.value, s.start + offset, s.end + offset))
        return out

    # ------------------------------------------------------------------ structured input

    def parse_structured(self, text: str) -> NluResult:
        """Parse exact test input: ``intent=ask.calc first=3 second=4``.

        Each token is ``key=value``; values may be quoted (``location="뉴욕 시티"``). ``intent``
        names the intent (omit it for an entity-only turn). Other keys are ``TYPE``,
        ``TYPE:ROLE`` or a ``ROLE`` used in the intent's examples. Values are normalised
        like spoken ones: synonyms become representative values, built-in types accept their
        spoken or normalised form (``BID_DT_DAY=내일`` or ``BID_DT_DAY=TOMORROW``).
        ``start``/``end`` locate each value in ``text``. Raises :class:`ValueError` on
        malformed input.
        """
        pos = 0
        intent: str | None = None
        pairs: list[tuple[str, str, int, int]] = []
        while pos < len(text):
            if not text[pos:].strip():
                break
            m = _STRUCTURED_RE.match(text, pos)
            if m is None:
                raise ValueError(f"expected key=value at offset {pos}: {text[pos : pos + 20]!r}")
            key, raw = m.group(1), m.group(2)
            v_start = m.start(2)
            if raw[:1] in "\"'" and len(raw) >= 2:
                value = raw[1:-1]
                if raw[0] == '"':
                    value = re.sub(r"\\(.)", r"\1", value)
                v_start += 1
                v_end = m.end(2) - 1
            else:
                value, v_end = raw, m.end(2)
            if key == "intent":
                intent = value
            else:
                pairs.append((key, value, v_start, v_end))
            pos = m.end()
        entities: list[EntityMatch] = []
        for key, value, start, end in pairs:
            type_name, role = self._resolve_key(intent, key)
            normalised: str | None
            if type_name in SUPPORTED_BUILTIN_TYPES:
                normalised = normalize_builtin(type_name, value)
            else:
                normalised = self._dictionary.value_of(type_name, value)
            entities.append(EntityMatch(type_name, role, value, normalised or value, start, end))
        return NluResult(intent, 1.0, entities)

    def _resolve_key(self, intent: str | None, key: str) -> tuple[str, str]:
        if ":" in key:
            type_name, _, role = key.partition(":")
            return type_name, role or type_name
        if key in self._types or key.startswith("BID_"):
            return key, key
        for example in self._examples:
            if intent is not None and example.intent != intent:
                continue
            for type_name, roles in example.roles.items():
                if key in roles:
                    return type_name, key
        return key, key
