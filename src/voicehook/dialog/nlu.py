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

For typed chat (:mod:`voicehook.dialog.typed`), noise (ㅋㅋ, emoji) is masked and common
English words are read as Korean first; forms are also found inside glued words; symbols
(``+``, ``×``) and romanised names are built-in forms; unknown words one jamo slip away
from a known word are corrected (``fuzzy`` entities, lower confidence); built-in commands
are also found at the start or end of a longer message. Digits no entity took and near
misses of entity forms go to :attr:`NluResult.unresolved`. Every step keeps the text's
length, so offsets index what was typed. See ``docs/nlu.md``.

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
    parse_korean_number,
)
from voicehook.dialog.typed import (
    BUILTIN_ALIASES,
    Correction,
    TypoCorrector,
    mask_noise,
    romanize,
    translate,
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
    ``confidence`` is 1.0 for an exact dictionary or built-in match and lower for a typo
    corrected by jamo distance; ``source`` says how it was found: ``exact``, ``alias``
    (a built-in symbol, English word or romanisation), ``fuzzy`` (a typo corrected:
    ``text`` is what was typed, ``value`` what it was read as) or ``partial`` (the first
    word of a longer form: 신나는 for 신나는 음악).
    """

    type: str
    role: str
    text: str
    value: str
    start: int
    end: int
    confidence: float = 1.0
    source: str = "exact"

    @property
    def corrected(self) -> bool:
        """True when the entity was found by typo correction or from part of a form
        (``fuzzy`` or ``partial``): ask before trusting it."""
        return self.source in ("fuzzy", "partial")


@dataclass(slots=True)
class NluResult:
    """The result of :meth:`Nlu.parse`.

    ``intent`` is ``None`` when no intent scored above the threshold (→ fallback).
    ``score`` is in ``[0, 1]``; built-in command patterns and exact matches score ``1.0``.
    """

    intent: str | None
    score: float
    entities: list[EntityMatch] = field(default_factory=list)
    #: Typed words read as another known word (``서을`` → ``서울``), in order.
    corrections: list[Correction] = field(default_factory=list)
    #: Parts that look like entity values but were not understood (``13/45``): the result
    #: is only partly recognised, so a dialog should ask again instead of using defaults.
    unresolved: list[str] = field(default_factory=list)

    @property
    def uncertain(self) -> bool:
        """True when an entity was corrected or part of the utterance was not understood."""
        return bool(self.unresolved) or any(e.corrected for e in self.entities)

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
    confidence: float = 1.0
    source: str = "exact"


def _asked_roles(expect_types: Iterable[str]) -> dict[str, str]:
    """The types of ``TYPE:ROLE`` entries that name exactly one role (and no bare ``TYPE``),
    with that role."""
    roles: dict[str, set[str]] = {}
    for entry in expect_types:
        type_name, _, role = entry.partition(":")
        roles.setdefault(type_name, set()).add(role or type_name)
    return {t: next(iter(rs)) for t, rs in roles.items() if len(rs) == 1 and t not in rs}


# Digits that no entity took ("13/45", "3시"): a sign that the utterance was only partly
# understood.
_LEFTOVER_RE: Final = re.compile(r"[0-9][0-9/.:,\-]*")
# A built-in command found inside a longer message scores this much, and only when the best
# custom intent scores less than _BUILTIN_SEARCH_BELOW and no custom entity was heard.
_BUILTIN_SEARCH_SCORE: Final = 0.8
_BUILTIN_SEARCH_BELOW: Final = 0.5
# Commands looked for inside longer messages (play and open are too weak a signal there).
_SEARCHED_INTENTS: Final = frozenset(
    {INTENT_STOP, INTENT_PAUSE, INTENT_RESUME, INTENT_NEXT, INTENT_PREVIOUS}
)


def _copula_after_form(masked: Sequence[str], start: int, end: int) -> bool:
    """이/일 right after a custom form and before more Hangul is a copula (서울이야,
    여름이에요, 세종대왕일걸), not a number, unless a particle follows (팔나누기이는)."""
    return (
        end - start == 1
        and masked[start] in "이일"
        and start > 0
        and masked[start - 1] == "|"
        and (end >= len(masked) or masked[end] not in "는를은을로와과")
    )


# Arithmetic symbols read as operator words (+, -, x, ÷): forms, but not words.
_SYMBOL_FORMS: Final = frozenset(a for forms in BUILTIN_ALIASES.values() for a in forms)


def _is_word_char(ch: str) -> bool:
    """A Hangul syllable, a Latin letter or a digit (ASCII or full width). Letters of
    other scripts in Korean chat are emoticon parts (ಠ益ಠ, ლ)."""
    return _is_hangul(ch) or (ch.isalnum() and (ch.isascii() or "\uff10" <= ch <= "\uff5a"))


def _has_words(text: str, spans: Sequence[_Span]) -> bool:
    """Whether ``text`` has word content: a word character (:func:`_is_word_char`) that
    is not an arithmetic symbol form (the ``x`` of ``3 x 5``). Noise is masked before,
    so ``ㅋㅋ``, ``^^`` and ``-_-`` have none; ``3-5`` and ``빼기`` have some."""
    symbols = [(s.start, s.end) for s in spans if text[s.start : s.end].lower() in _SYMBOL_FORMS]
    return any(
        _is_word_char(ch) and all(not a <= i < b for a, b in symbols) for i, ch in enumerate(text)
    )


_SEGMENT_LONGEST: Final = 12
# Informal written endings (비옴, 끄셈, 어케됨) besides the particles and endings the simple
# tokenizer strips.
_INFORMAL_ENDINGS: Final = ("셈", "삼", "음", "임", "듯", "당", "용", "여", "욤")
_T_MIEUM: Final = 16  # the final consonant ㅁ
_T_BIEUP: Final = 17  # the final consonant ㅂ


def _final(ch: str) -> int:
    """The final consonant index of a Hangul syllable (0: none)."""
    return (ord(ch) - 0xAC00) % 28


def _with_final(ch: str, final: int) -> str:
    return chr(ord(ch) - _final(ch) + final)


# Contracted vowels of 아/어 endings and their stems: 와 → 오, 줘 → 주, 봐 → 보, 려 → 리.
_CONTRACTED: Final = {"ㅘ": "ㅗ", "ㅝ": "ㅜ", "ㅕ": "ㅣ", "ㅙ": "ㅚ"}
_VOWELS: Final = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ"


def _uncontract(ch: str) -> str | None:
    index = ord(ch) - 0xAC00
    vowel = _VOWELS[(index % (21 * 28)) // 28]
    stem = _CONTRACTED.get(vowel)
    if stem is None or index % 28:
        return None
    return chr(0xAC00 + (index // (21 * 28)) * 21 * 28 + _VOWELS.index(stem) * 28)


def _word_forms(word: str) -> list[str]:
    """Other forms of a conjugated Hangul word, most likely first, for comparing it with
    the examples' lemmas: endings removed (내봐 → 내, 개요 → 개, 끄셈 → 끄), the informal
    nominal ㅁ dropped (비옴 → 비오, 더움 → 더우), ㅂ-irregular stems (추워 → 춥, 더우 → 덥),
    contracted vowels (와 → 오, 알려 → 알리), and each with 다 (춥다: Kiwi's lemmas)."""
    bases = [word]
    for suffix in (*_SIMPLE_SUFFIXES, *_INFORMAL_ENDINGS):
        if word.endswith(suffix) and len(word) > len(suffix):
            bases.append(word[: -len(suffix)])
    if _final(word[-1]) == _T_MIEUM:
        bases.append(word[:-1] + _with_final(word[-1], 0))
    out: list[str] = []
    for base in bases:
        out.append(base)
        last = base[-1]
        if len(base) >= 2 and last in "워와우운울웠" and not _final(base[-2]):
            out.append(base[:-2] + _with_final(base[-2], _T_BIEUP))
        plain = _uncontract(last)
        if plain is not None:
            out.append(base[:-1] + plain)
    out.extend([f + "다" for f in out])
    return [f for f in out[1:] if f]


def _cut_after_glued_numbers(text: str, masked: Sequence[str]) -> list[str]:
    """``masked`` with a boundary after a number word that follows a custom form and takes
    a topic or object particle before more Hangul: 백나누기사는얼마야 → 백|||사는|마야, so
    사 is found (a number glued between words is otherwise only found at the word end)."""
    cut = list(masked)
    for i in range(1, len(text)):
        if masked[i - 1] != "|" or masked[i] == "|":
            continue
        for n in (1, 2, 3):
            j = i + n
            if (
                j + 1 < len(text)
                and text[j] in "은는을를"
                and _is_hangul(text[j + 1])
                and masked[j + 1] != "|"
                and parse_korean_number(text[i:j]) is not None
            ):
                cut[j + 1] = "|"
                break
    return cut


def _leftovers(text: str, spans: Sequence[_Span]) -> list[str]:
    return [
        m.group()
        for m in _LEFTOVER_RE.finditer(text)
        if all(m.end() <= s.start or m.start() >= s.end for s in spans)
    ]


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
# ...셈/삼: informal written imperatives on the stem (끄셈, 멈추삼).
_VERB_TAIL: Final = r"(?:줘|줄래|주세요|줘요|줄래요|봐|라|요|셈|삼|)요?"
_FILLER: Final = r"(?:이제|그냥|좀|다|제발|그럼|지금|바로)*"


def _command(nouns: Iterable[str] = (), verbs: Iterable[str] = (), prefix: str = "") -> str:
    alternatives = [f"(?:{'|'.join(nouns)}){_NOUN_TAIL}"] if nouns else []
    if verbs:
        alternatives.append(f"(?:{'|'.join(verbs)}){_VERB_TAIL}")
    return f"^{_FILLER}{prefix}(?:{'|'.join(alternatives)})$"


_MEDIA: Final = r"(?:(?:음악|노래|곡|재생|플레이|퀴즈|게임|계산|대화)(?:을|를|은|는|도|좀)?)?"
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
                "pause",
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
            nouns=("그만", "정지", "중지", "종료", "스탑", "스톱", "끝", "닫기", "stop", "quit"),
            verbs=(
                *("멈춰", "멈추", "닫아", "끝내", "끝내자", "끝낼래", "나가", "나갈래", "꺼"),
                *("끄", "끌래", "끄자"),
                *("그만꺼", "그만멈춰", "그만틀어", "exit"),
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
                "resume",
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
                *("다음꺼", "다음께", "담꺼", "담거", "담곡", "담노래", "다음껄로", "next", "skip"),
            ),
            verbs=(
                "넘겨",
                *("다음곡으로넘겨", "다음으로넘겨", "다음걸로넘겨", "다음노래로넘겨", "스킵해"),
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

# Polite and written endings folded onto 줘 before the command patterns: 멈춰 주시겠어요,
# 꺼 주십시오, 넘겨 주실래요.
_POLITE_RE: Final = re.compile(
    r"(?:주시겠어요|주시겠습니까|주십시오|주실래요|주시겠나요|주실수있나요|주실수있어요"
    r"|주시면좋겠어요|주시면감사하겠습니다|주세용|줘용|줘여|줘라|주라|주셈|줘잉|주삼)$"
)
# Words of the built-in commands, for typo correction (일시정시 → 일시정지).
_COMMAND_WORDS: Final = (
    *("그만", "정지", "중지", "종료", "일시정지", "일시중지", "잠깐", "잠시", "멈춰", "멈춤"),
    *("다음", "다음곡", "다음노래", "이전", "이전곡", "재생", "다시", "이어서", "계속"),
    *("넘겨", "건너뛰어", "틀어", "틀어줘", "들려", "들려줘", "알려줘", "처음부터", "되감기"),
)
# Everyday words typed with these plays that are one jamo away from a known word and must
# not be "corrected" into it (이제 is not 어제, 지금 is not 기금).
_COMMON_WORDS: Final = (
    *("이제", "그냥", "지금", "제발", "그럼", "그래", "혹시", "진짜", "정말", "너무", "아주"),
    *("빨리", "천천히", "나중", "다시", "계속", "아무", "새로", "새로운", "이거", "저거"),
    *("그거", "여기", "거기", "저기", "우리", "나랑", "너랑", "얼마", "뭐야", "뭐지", "어디"),
    *("언제", "누구", "왜요", "네네", "아니", "아니야", "맞아", "좋아", "싫어", "고마워"),
    *("감사", "안녕", "배고파", "심심해", "사랑", "오케이", "괜찮아", "모르겠어", "몰라"),
    # chat spellings of everyday words (어케 is 어떻게, not 어제)
    *("어케", "어떡해", "왜케", "머해", "뭐해", "걍", "암튼", "근데", "넘", "젤", "글구"),
)
# What may follow a corrected word start in the same word: particles and endings.
_TYPO_ENDINGS: Final = frozenset(
    {*_SIMPLE_SUFFIXES, "임", "인듯", "일걸", "이다", "였어", "이었어", "도", "만", "좀"}
)
_DATE_WORDS: Final = (
    *("오늘", "내일", "모레", "글피", "어제", "그제", "그저께", "내일모레"),
    *(f"{d}요일" for d in "월화수목금토일"),
)


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


# Confidence of an entity found from the first word of a multi-word form (신나는).
_PARTIAL_CONFIDENCE: Final = 0.8

# What may follow a one-syllable dictionary form inside the same word ("곱" in "곱하면").
_ONE_SYLLABLE_TAILS: Final = frozenset(
    {"", "은", "는", "이", "가", "을", "를", "에", "로", "으로", "도", "요", "야", "이야"}
    | {"이요", "이에요", "예요", "입니다", "임", "인듯", "인가", "이지", "일걸", "이다"}
)


def _lower_char(ch: str) -> str:
    low = ch.lower()
    return low if len(low) == 1 else ch  # keep offsets: never change the length


def _form_key(text: str) -> str:
    return "".join(_lower_char(ch) for ch in text if not ch.isspace())


class _Dictionary:
    """Surface forms of custom (and unsupported built-in) types, matched spacing-insensitively."""

    def __init__(self) -> None:
        # form key (no spaces, lower case) -> [(type, value, source)]; one form may serve
        # several types. source: "exact" (the play's form) or "alias" (a built-in one).
        self._forms: dict[str, list[tuple[str, str, str]]] = {}
        self._lengths: list[int] = []

    def add(self, type_name: str, form: str, value: str, source: str = "exact") -> None:
        key = _form_key(form)
        if not key:
            return
        entries = self._forms.setdefault(key, [])
        if all(t != type_name for t, _, _ in entries):
            entries.append((type_name, value, source))
        if len(key) not in self._lengths:
            self._lengths = sorted([*self._lengths, len(key)], reverse=True)

    def forms(self) -> list[tuple[str, str, str, str]]:
        """Every ``(form key, type, value, source)``."""
        return [(k, t, v, src) for k, entries in self._forms.items() for t, v, src in entries]

    def value_of(self, type_name: str, text: str) -> str | None:
        for t, value, _ in self._forms.get(_form_key(text), ()):
            if t == type_name:
                return value
        return None

    def containing_value(self, type_name: str, text: str) -> str | None:
        """The value of the longest known form of ``type_name`` inside ``text``."""
        key = _form_key(text)
        best: tuple[int, str] | None = None
        for form, entries in self._forms.items():
            if form in key and (best is None or len(form) > best[0]):
                for t, value, _ in entries:
                    if t == type_name:
                        best = (len(form), value)
        return None if best is None else best[1]

    def find(
        self, text: str, types: Collection[str] | None, prefer: Collection[str] = ()
    ) -> list[_Span]:
        """Longest forms at word starts; a form of several types gives one of ``prefer``
        if it can, else the first of ``types`` it was added for.

        Typed chat glues words ("내일부산날씨", "정답은세종대왕"), so a Hangul form of two or
        more syllables may also start inside a word: always for three or more syllables, for
        two when at least two syllables (or a one-syllable particle) precede it in the word.
        So 부산 is found in 내일부산 and 광주 is still not found in 경광주의보."""
        chars: list[str] = []
        index: list[int] = []
        for i, ch in enumerate(text):
            if not ch.isspace():
                chars.append(_lower_char(ch))
                index.append(i)
        compact = "".join(chars)
        out: list[_Span] = []
        for ci, oi in enumerate(index):
            inside = (
                oi > 0
                and _script(text[oi - 1]) != ""
                and _script(text[oi - 1]) == _script(text[oi])
            )
            min_length = 1
            if inside:
                if not _is_hangul(text[oi]):
                    continue  # not at the start of a word
                ws = oi
                while ws > 0 and _is_hangul(text[ws - 1]):
                    ws -= 1
                before = text[ws:oi]
                short_ok = (
                    len(before) >= 2
                    or before in _ONE_SYLLABLE_TAILS
                    or parse_korean_number(before) is not None  # 백빼기이십
                )
                min_length = 2 if short_ok else 3
            for length in self._lengths:
                if length < min_length:
                    break
                key = compact[ci : ci + length]
                entries = self._forms.get(key, ()) if len(key) == length else ()
                allowed = [e for e in entries if types is None or e[0] in types]
                hit = next((e for e in allowed if e[0] in prefer), allowed[0] if allowed else None)
                if hit is None:
                    continue
                start, end = oi, index[ci + length - 1] + 1
                if inside and not all(_is_hangul(c) for c in key):
                    continue
                if not self._right_ok(text, key, end):
                    continue
                confidence = _PARTIAL_CONFIDENCE if hit[2] == "partial" else 1.0
                out.append(
                    _Span(hit[0], hit[0], text[start:end], hit[1], start, end, confidence, hit[2])
                )
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
        extra_types: Collection[str] = (),
        typos: bool = True,
    ) -> None:
        self._tokenizer = tokenizer if tokenizer is not None else default_tokenizer()
        self._threshold = threshold
        self._builtin_intents = frozenset(builtin_intents)
        unknown = self._builtin_intents - set(_BUILTIN_PATTERNS)
        if unknown:
            raise ValueError(f"unknown built-in intents: {sorted(unknown)}")
        self._invocation = _compact(invocation) if invocation else ""
        self._intent_names = [i.name for i in intents]
        self._lemma_vocab: set[str] = set()
        self._lemma_longest = 0

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
        self._builtin_types.update(t for t in extra_types if t in SUPPORTED_BUILTIN_TYPES)
        self._types = frozenset(self._custom_types | self._builtin_types)
        self._add_aliases()
        self._add_partial_forms(entity_types)

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
        # Lemmas of the examples, for words glued together at parse time (see _lemmas).
        self._lemma_vocab = {
            f for f in df if "|" not in f and len(f) >= 2 and all(_is_hangul(c) for c in f)
        }
        self._lemma_longest = max((len(f) for f in self._lemma_vocab), default=0)
        self._short_vocab = {f for f in df if len(f) == 1 and _is_hangul(f)}
        # Other forms of the examples' lemmas (덥니 → 덥, 덥다), for conjugated words.
        self._form_index: dict[str, str] = {}
        for lemma in sorted(self._lemma_vocab | self._short_vocab, key=lambda f: (len(f), f)):
            for form in _word_forms(lemma):
                if form not in _STOPWORDS and form not in _SIMPLE_SUFFIXES:
                    self._form_index.setdefault(form, lemma)
        self._exact: dict[str, _Example] = {}
        for example in self._examples:
            self._exact.setdefault(example.key, example)
        self._corrector: TypoCorrector | None = None
        self._near: TypoCorrector | None = None
        if typos:
            words, starts = self._vocabulary([p for _, _, examples in parsed for p in examples])
            self._corrector = TypoCorrector(
                words, keep=_COMMON_WORDS, endings=_TYPO_ENDINGS, starts=starts
            )
            # Entity forms one edit beyond what is corrected (머래 vs 모레): not understood.
            forms = [k for k, _, _, src in self._dictionary.forms() if src == "exact"]
            if self._types & {"BID_DT_DAY", "BID_DT_WDAY"}:
                forms.extend(_DATE_WORDS)
            self._near = TypoCorrector(
                forms, keep=[*_COMMON_WORDS, *words, *starts], endings=_TYPO_ENDINGS, slack=1
            )

    # ------------------------------------------------------------------ construction helpers

    def _add_aliases(self) -> None:
        """Built-in symbol/English forms (+, plus, classic) and romanised Hangul forms
        (seoul, busan) for the forms the play lists."""
        for key, type_name, value, source in self._dictionary.forms():
            if source != "exact" or type_name not in self._custom_types:
                continue
            for alias in BUILTIN_ALIASES.get(key, ()):
                self._dictionary.add(type_name, alias, value, "alias")
            if len(key) >= 2 and all(_is_hangul(c) for c in key):
                self._dictionary.add(type_name, romanize(key), value, "alias")

    def _add_partial_forms(self, entity_types: Sequence[EntityTypeSpec]) -> None:
        """The first word of a multi-word form, when it names one value of its type
        (신나는 → 신나는 음악), as a ``partial`` form: found, but to be confirmed."""
        for spec in entity_types:
            heads: dict[str, set[str]] = {}
            for value, synonyms in spec.values.items():
                for form in (value, *synonyms):
                    words = form.split()
                    if len(words) > 1 and len(words[0]) >= 2:
                        heads.setdefault(words[0], set()).add(value)
            for head, values in heads.items():
                if len(values) == 1 and self._dictionary.value_of(spec.name, head) is None:
                    self._dictionary.add(spec.name, head, next(iter(values)), "partial")

    def _vocabulary(self, examples: Iterable[tuple[str, list[Any]]]) -> tuple[list[str], list[str]]:
        """Known words for typo correction (entity forms, example words, command and date
        words) and word starts (날씨 of 날씨가) that may be corrections too."""
        words: list[str] = [k for k, _, _, src in self._dictionary.forms() if src != "alias"]
        words.extend(_COMMAND_WORDS)
        starts: list[str] = []
        for plain, _ in examples:
            for word in _WORD_RE.findall(plain):
                words.append(word)
                starts.extend(word[:n] for n in range(len(word) - 1, 1, -1))
        if self._types & {"BID_DT_DAY", "BID_DT_WDAY"}:
            words.extend(_DATE_WORDS)
        return words, starts

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
            found = find_builtin_entities(text, builtin)
            if candidates:
                # Custom forms are word boundaries too: "오더하기칠" → 오, 칠.
                masked = list(text)
                for c in candidates:
                    masked[c.start : c.end] = "|" * (c.end - c.start)
                cut = _cut_after_glued_numbers(text, masked) if "BID_QT" in builtin else masked
                seen = {(m.type, m.start, m.end) for m in found}
                found.extend(
                    m
                    for m in find_builtin_entities("".join(cut), builtin)
                    if (m.type, m.start, m.end) not in seen
                    and not _copula_after_form(masked, m.start, m.end)
                )
            candidates.extend(
                _Span(m.type, m.type, text[m.start : m.end], m.value, m.start, m.end) for m in found
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
                # A word glued to an entity ("12월25일인데무슨요일이야"): the rest of it.
                items.extend(self._outside(text, tok, spans))
                continue
            items.extend(self._lemmas(tok.start, tok.lemma))
        items.sort(key=lambda item: item[0])
        return [lemma for _, lemma in items]

    def _outside(self, text: str, tok: Token, spans: Sequence[_Span]) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        pos = tok.start
        for s in sorted(spans, key=lambda s: s.start):
            if s.end <= pos or s.start >= tok.end:
                continue
            if s.start - pos >= 1:
                out.extend(self._piece(text, pos, s.start))
            pos = max(pos, s.end)
        if tok.end - pos >= 1:
            out.extend(self._piece(text, pos, tok.end))
        return out

    def _piece(self, text: str, start: int, end: int) -> list[tuple[int, str]]:
        out: list[tuple[int, str]] = []
        for t in self._tokenizer.tokenize(text[start:end]):
            out.extend(self._lemmas(start + t.start, t.lemma))
        return out

    def _lemmas(self, start: int, lemma: str) -> list[tuple[int, str]]:
        """``lemma``, or the known lemmas glued inside it (날씨어때 → 날씨, 어때): a
        longest-match scan over the examples' lemmas, for words typed without spaces."""
        if lemma in _STOPWORDS:
            return []
        if lemma in self._lemma_vocab or not self._lemma_vocab or lemma in self._short_vocab:
            return [(start, lemma)]
        if len(lemma) >= 2 and all(_is_hangul(c) for c in lemma):
            known = self._known_form(lemma)
            if known is not None:
                return [(start, known)]
            parts = self._segment(lemma)
            if parts is not None:
                return [(start + i, w) for i, w in parts]
        if len(lemma) < 3:
            return [(start, lemma)]
        found: list[tuple[int, str]] = []
        i = 0
        while i < len(lemma):
            for n in range(min(len(lemma) - i, self._lemma_longest), 1, -1):
                if lemma[i : i + n] in self._lemma_vocab:
                    found.append((start + i, lemma[i : i + n]))
                    i += n
                    break
            else:
                i += 1
        return found or [(start, lemma)]

    def _known_form(self, word: str) -> str | None:
        """The examples' lemma ``word`` is a form of (:func:`_word_forms`), or None."""
        for form in (word, *_word_forms(word)):
            if form in _STOPWORDS:
                continue
            if form in self._lemma_vocab or form in self._short_vocab:
                return form
            known = self._form_index.get(form)
            if known is not None:
                return known
        return None

    def _segment(self, word: str) -> list[tuple[int, str]] | None:
        """``word`` read entirely as known lemmas (or their forms), particles and
        stopwords, fewest pieces first: 지금추워 → 춥, 에비오 → 비, 오. None when some part
        is unknown (so unrelated words do not become known ones)."""
        if len(word) > _SEGMENT_LONGEST:
            return None
        # best[i]: the fewest pieces covering word[:i], and the lemmas found.
        best: list[tuple[int, list[tuple[int, str]]] | None] = [None] * (len(word) + 1)
        best[0] = (0, [])
        for i in range(len(word)):
            here = best[i]
            if here is None:
                continue
            for j in range(i + 1, len(word) + 1):
                piece = word[i:j]
                lemma: str | None
                if piece in _STOPWORDS or piece in _SIMPLE_SUFFIXES:
                    lemma = ""
                elif piece in self._lemma_vocab or piece in self._short_vocab:
                    lemma = piece
                else:
                    lemma = self._known_form(piece)
                if lemma is None:
                    continue
                found = here[1] + [(i, lemma)] if lemma else here[1]
                there = best[j]
                if there is None or here[0] + 1 < there[0]:
                    best[j] = (here[0] + 1, found)
        last = best[len(word)]
        if last is None or not last[1]:
            return None
        return last[1]

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
        offset, typed = self._strip_invocation(text)
        if typed is None:
            return NluResult(INTENT_OPEN, 1.0, [])
        types = self._types if expected is None else self._types | expected
        prefer = expected or ()
        body, corrections = translate(mask_noise(typed))
        spans = _resolve_overlaps(self._recognise(body, types, prefer=prefer))
        if self._corrector is not None:
            fixed, typos = self._corrector.correct(body, [(s.start, s.end) for s in spans])
            if typos:
                body = fixed
                corrections = sorted([*corrections, *typos], key=lambda c: c.start)
                spans = _resolve_overlaps(self._recognise(body, types, prefer=prefer))
        if corrections:
            spans = self._mark_corrected(spans, corrections, typed)
        spans = [
            s if s.text == typed[s.start : s.end] else replace(s, text=typed[s.start : s.end])
            for s in spans
        ]  # noise was masked: report what was typed
        key = self._key(body, spans)
        intent: str | None
        score: float
        best: _Example | None = None
        compact = _compact(body)
        if not compact:
            return NluResult(None, 0.0, [], corrections)
        if not _has_words(body, spans):
            # Emoticons, laughter, punctuation and bare symbols (-_-, +_+, ?!) are no
            # evidence of an intent. An expected entity typed as a symbol ("+" while the
            # operator is asked) is still returned.
            if expected is None:
                return NluResult(None, 0.0, [], corrections)
            heard = self._assign_roles(None, None, spans, offset)
            return NluResult(None, 0.0, [e for e in heard if e.type in expected], corrections)
        if key in self._exact:
            best = self._exact[key]
            intent, score = best.intent, 1.0
        elif (builtin := self._match_builtin(compact)) is not None:
            intent, score = builtin, 1.0
        else:
            intent, score, best = self._score(body, spans)
            if (intent is None or score < _BUILTIN_SEARCH_BELOW) and not any(
                s.type in self._custom_types for s in spans
            ):
                found = self._search_builtin(body)
                if found is not None:
                    intent, score, best = found, _BUILTIN_SEARCH_SCORE, None
        if corrections and intent is not None:
            score = round(score * min(c.confidence for c in corrections), 4)
            if best is not None and score < self._threshold and key not in self._exact:
                intent, best = None, None  # read only through a corrected word: too weak
        entities = self._assign_roles(intent, best, spans, offset)
        unresolved: list[str] = []
        if intent is not None and not intent.startswith("NUGU.INTENT."):
            unresolved = _leftovers(body, spans)
            if self._near is not None:
                taken = [(s.start, s.end) for s in spans] + [(c.start, c.end) for c in corrections]
                unresolved.extend(c.typed for c in self._near.correct(body, taken)[1])
        if expected is not None:
            entities = [e for e in entities if e.type in expected]
            counts = Counter(e.type for e in entities)
            entities = [
                replace(e, role=asked_roles[e.type])
                if e.type in asked_roles and counts[e.type] == 1
                else e
                for e in entities
            ]
        if offset:
            corrections = [
                replace(c, start=c.start + offset, end=c.end + offset) for c in corrections
            ]
        return NluResult(intent, score, entities, corrections, unresolved)

    @staticmethod
    def _mark_corrected(
        spans: Sequence[_Span], corrections: Sequence[Correction], typed: str
    ) -> list[_Span]:
        """Spans over a corrected word become ``fuzzy`` (a typo: lower confidence) or
        ``alias`` (an English word), with the typed text."""
        out: list[_Span] = []
        for s in spans:
            hits = [c for c in corrections if c.start < s.end and c.end > s.start]
            if hits:
                start = min(s.start, *(c.start for c in hits))
                end = max(s.end, *(c.end for c in hits))
                typo = [c.confidence for c in hits if c.kind == "typo"]
                s = replace(
                    s,
                    text=typed[start:end],
                    start=start,
                    end=end,
                    confidence=min(typo) if typo else s.confidence,
                    source="fuzzy" if typo else "alias",
                )
            out.append(s)
        return out

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

    def _match_builtin(self, compact: str, only: Collection[str] | None = None) -> str | None:
        compact = _POLITE_RE.sub("줘", compact)
        for name, pattern in _BUILTIN_PATTERNS.items():
            if name not in self._builtin_intents or (only is not None and name not in only):
                continue
            if pattern.match(compact):
                return name
        return None

    def _search_builtin(self, text: str) -> str | None:
        """A command that is the start or the end of a longer message ("이제 음악 그만",
        "잠깐 멈춰 줄래 지금 전화 왔어"), cut at word boundaries."""
        bounds = [m.start() for m in re.finditer(r"(?<!\S)\S", text)]
        ends = [m.end() for m in re.finditer(r"\S(?!\S)", text)]
        for start in bounds[1:]:
            found = self._match_builtin(_compact(text[start:]), _SEARCHED_INTENTS)
            if found is not None:
                return found
        for end in reversed(ends[:-1]):
            found = self._match_builtin(_compact(text[:end]), _SEARCHED_INTENTS)
            if found is not None:
                return found
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
            out.append(
                EntityMatch(
                    s.type,
                    role,
                    s.text,
                    s.value,
                    s.start + offset,
                    s.end + offset,
                    s.confidence,
                    s.source,
                )
            )
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
