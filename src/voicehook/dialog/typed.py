"""Typed-chat helpers of the NLU: noise masking, jamo typo correction, aliases, romanisation.

Typed Korean is not a speech transcript. Users glue words, slip on jamo (``서을``, ``날시``),
add laughter and emoticons (``ㅋㅋ``, ``ㅠㅠ``, ``^^``, emoji), and write symbols or English
(``25+17``, ``plus``, ``Seoul``). :class:`voicehook.dialog.nlu.Nlu` uses this module so that
such text reaches the dictionary and the intent scoring in a known form.

Every function here keeps the **length** of the text: masking replaces characters with
spaces and a typo correction replaces a word by a word of the same number of syllables.
So the offsets of recognised entities still index the text the user typed.

Jamo distances use `rapidfuzz <https://pypi.org/project/rapidfuzz/>`_ (a maintained C++
Levenshtein implementation) over syllables decomposed into their jamo, so ``서을``/``서울``
differ by one edit, not by one whole syllable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

__all__ = [
    "BUILTIN_ALIASES",
    "ENGLISH_WORDS",
    "Correction",
    "TypoCorrector",
    "decompose",
    "mask_noise",
    "pronounce",
    "romanize",
    "translate",
]

_S_BASE: Final = 0xAC00
_S_END: Final = 0xD7A3
_V_COUNT: Final = 21
_T_COUNT: Final = 28


def decompose(text: str) -> str:
    """``text`` with every Hangul syllable split into its conjoining jamo (L, V, optional T).

    >>> len(decompose("서울")), decompose("서울") == decompose("서을")
    (5, False)
    """
    out: list[str] = []
    for ch in text:
        code = ord(ch)
        if _S_BASE <= code <= _S_END:
            index = code - _S_BASE
            out.append(chr(0x1100 + index // (_V_COUNT * _T_COUNT)))
            out.append(chr(0x1161 + (index % (_V_COUNT * _T_COUNT)) // _T_COUNT))
            tail = index % _T_COUNT
            if tail:
                out.append(chr(0x11A7 + tail))
        else:
            out.append(ch.lower())
    return "".join(out)


# --------------------------------------------------------------------------- noise

# Laughter and crying written in bare jamo (ㅋㅋ, ㅎㅎ, ㅠㅠ, ㄱㄱ, ㄴㄴ), ASCII and Unicode
# emoticons, emoji, and runs of tildes. None of them carries an intent or an entity here.
_NOISE_RE: Final = re.compile(
    r"[\u3131-\u318e]+"  # compatibility jamo: ㅋㅋ ㅠㅠ ㄱㄱ
    r"|\^+[_\-.]?\^+|[;:][\-']?[()DPp](?![A-Za-z])|T_T|;;+|~+"
    r"|[\u2600-\u27bf\u2b00-\u2bff\u2764\ufe0f\u200d]"  # ♡ ★ ☆ ✨ and joiners
    r"|[\U0001f000-\U0001faff]"  # emoji
)


def mask_noise(text: str) -> str:
    """Replace laughter, emoticons and emoji by spaces (the length is kept).

    >>> mask_noise("음악 그만 ㅠㅠ")
    '음악 그만   '
    """
    return _NOISE_RE.sub(lambda m: " " * len(m.group()), text)


# --------------------------------------------------------------------------- aliases

#: Built-in surface forms for common Korean forms: a play whose entity type lists the key
#: (as a value or a synonym) also gets these forms for the same value. Arithmetic symbols,
#: as typed in chat (English words go through :data:`ENGLISH_WORDS`).
BUILTIN_ALIASES: Final[Mapping[str, tuple[str, ...]]] = {
    "더하기": ("+", "＋"),
    "플러스": ("+",),
    "빼기": ("-", "−", "－"),
    "마이너스": ("-",),
    "곱하기": ("*", "x", "×", "＊"),
    "곱": ("*", "x", "×"),
    "나누기": ("/", "÷", "／"),
}

#: Common English words typed in Korean chat, read as the Korean word (which is never
#: longer, so the text keeps its length: the rest is padded with spaces).
ENGLISH_WORDS: Final[Mapping[str, str]] = {
    "plus": "더하기",
    "add": "더해",
    "minus": "빼기",
    "times": "곱하기",
    "multiply": "곱하기",
    "multiplied": "곱하기",
    "divide": "나누기",
    "divided": "나누기",
    "by": "",
    "classic": "클래식",
    "classical": "클래식",
    "music": "음악",
    "song": "노래",
    "songs": "노래",
    "quiz": "퀴즈",
    "weather": "날씨",
    "today": "오늘",
    "tomorrow": "내일",
    "answer": "정답",
    "start": "시작",
}
_ENGLISH_RE: Final = re.compile(r"[A-Za-z]+")


def translate(text: str) -> tuple[str, list[Correction]]:
    """Replace the English words of :data:`ENGLISH_WORDS` by their Korean word, padded with
    spaces to the same length. Returns the text and one ``alias`` correction per word."""
    fixes: list[Correction] = []
    for m in _ENGLISH_RE.finditer(text):
        korean = ENGLISH_WORDS.get(m.group().lower())
        if korean is not None:
            fixes.append(Correction(m.start(), m.end(), m.group(), korean, 0, "alias"))
    if not fixes:
        return text, fixes
    parts: list[str] = []
    pos = 0
    for fix in fixes:
        parts.append(text[pos : fix.start])
        parts.append(fix.corrected.ljust(fix.end - fix.start))
        pos = fix.end
    parts.append(text[pos:])
    return "".join(parts), fixes


_INITIALS: Final = (
    "g",
    "kk",
    "n",
    "d",
    "tt",
    "r",
    "m",
    "b",
    "pp",
    "s",
    "ss",
    "",
    "j",
    "jj",
    "ch",
    "k",
    "t",
    "p",
    "h",
)
_VOWELS: Final = (
    *("a", "ae", "ya", "yae", "eo", "e", "yeo", "ye", "o", "wa", "wae"),
    *("oe", "yo", "u", "wo", "we", "wi", "yu", "eu", "ui", "i"),
)
_FINALS: Final = (
    *("", "k", "k", "k", "n", "n", "n", "t", "l", "k", "m", "l", "l", "l"),
    *("p", "l", "m", "p", "p", "t", "t", "ng", "t", "t", "k", "t", "p", "t"),
)
# A final consonant moved to the next syllable when that one starts with silent ㅇ.
_LIAISON: Final = {1: "g", 4: "n", 7: "d", 8: "r", 16: "m", 17: "b", 19: "s", 22: "j", 23: "ch"}


def romanize(text: str) -> str:
    """Revised Romanization of a Hangul word, lower case, with the common sound changes.

    Non-Hangul characters are dropped. ``romanize("서울") == "seoul"``,
    ``romanize("강릉") == "gangneung"``, ``romanize("제주") == "jeju"``.
    """
    sylls = [ord(c) - _S_BASE for c in text if _S_BASE <= ord(c) <= _S_END]
    out: list[str] = []
    for i, index in enumerate(sylls):
        lead = index // (_V_COUNT * _T_COUNT)
        vowel = (index % (_V_COUNT * _T_COUNT)) // _T_COUNT
        tail = index % _T_COUNT
        if i > 0:
            prev_tail = sylls[i - 1] % _T_COUNT
            if lead == 11 and prev_tail in _LIAISON:  # liaison: 서울, 음악 → eumak
                out[-1] = out[-1][: len(out[-1]) - len(_FINALS[prev_tail])]
                out.append(_LIAISON[prev_tail])
            elif lead == 5 and prev_tail in (4, 8):  # ㄴㄹ, ㄹㄹ → ll
                out[-1] = out[-1][:-1] + "l"
                out.append("l")
            elif lead == 5 and prev_tail in (16, 21):  # ㅁㄹ, ㅇㄹ → n (강릉)
                out.append("n")
            else:
                out.append(_INITIALS[lead])
        else:
            out.append(_INITIALS[lead])
        out.append(_VOWELS[vowel])
        out.append(_FINALS[tail])
    return "".join(out)


# --------------------------------------------------------------------------- typos


@dataclass(frozen=True, slots=True)
class Correction:
    """One word read as another: ``text[start:end]`` was ``typed``.

    ``kind`` is ``typo`` (a jamo slip fixed by :class:`TypoCorrector`) or ``alias`` (an
    English word read by :func:`translate`, certain).
    """

    start: int
    end: int
    typed: str
    corrected: str
    distance: int
    kind: str = "typo"

    @property
    def confidence(self) -> float:
        """``1 - distance / jamo length`` of the corrected form, at least 0.5."""
        if self.kind == "alias":
            return 1.0
        return max(0.5, 1.0 - self.distance / max(len(decompose(self.corrected)), 1))


_WORD_RE: Final = re.compile(r"[가-힣]+|[A-Za-z]+")
_MAX_PREFIX: Final = 6

# Liaison (연음): a final consonant before a syllable starting with silent ㅇ is heard as
# that syllable's initial. final index -> (final left behind, initial index); ㅎ is silent.
_SOUND_SHIFT: Final[dict[int, tuple[int, int]]] = {
    1: (0, 0), 2: (0, 1), 4: (0, 2), 7: (0, 3), 8: (0, 5), 16: (0, 6), 17: (0, 7),
    19: (0, 9), 20: (0, 10), 22: (0, 12), 23: (0, 14), 24: (0, 15), 25: (0, 16),
    26: (0, 17), 27: (0, 11), 3: (1, 9), 5: (4, 12), 6: (0, 2), 9: (8, 0), 10: (8, 6),
    11: (8, 7), 15: (0, 5), 18: (17, 9),
}  # fmt: skip


def pronounce(word: str) -> str:
    """``word`` spelled as it sounds, for liaison only: 틀어줘 → 트러줘, 많이 → 마니,
    없어 → 업서, 좋아 → 조아. Users type what they hear; :class:`TypoCorrector` reads such
    a spelling as the word it sounds like."""
    codes = [ord(c) - _S_BASE if _S_BASE <= ord(c) <= _S_END else -1 for c in word]
    for i in range(1, len(codes)):
        prev, cur = codes[i - 1], codes[i]
        if prev < 0 or cur < 0 or cur // (_V_COUNT * _T_COUNT) != 11:
            continue
        shift = _SOUND_SHIFT.get(prev % _T_COUNT)
        if shift is None:
            continue
        left, initial = shift
        codes[i - 1] = prev - prev % _T_COUNT + left
        codes[i] = cur + (initial - 11) * _V_COUNT * _T_COUNT
    return "".join(chr(_S_BASE + c) if c >= 0 else ch for c, ch in zip(codes, word, strict=True))


def _allowed(length: int, latin: bool) -> int:
    """Edits allowed for a form of ``length`` syllables (letters for Latin words)."""
    if latin:
        return 1 if length >= 5 else 0
    if length < 2:
        return 0
    return 1 if length <= 3 else 2


class TypoCorrector:
    """Fixes jamo slips against a vocabulary, one word (or word start) at a time.

    ``vocabulary`` holds the known surface words (entity forms, words of the example
    utterances, command words). A typed word that is not known and has no known prefix is
    compared with known words of the same number of syllables; the closest one within the
    allowed jamo edits (1 for 2–3 syllables, 2 for longer, none for one syllable) replaces
    it when it keeps the first jamo. Ties keep the word that came first in ``vocabulary``.

    ``keep`` are everyday words that are known (never corrected) but never a correction
    either (이제 must not become 어제). ``starts`` are word starts (곱하 of 곱하면) that may
    be corrections but do not make a typed word known (곱하가 is still read as 곱하기).
    ``slack`` widens the allowed distance: with ``slack=1`` the corrector finds *near misses*
    (머래 for 모레), which the NLU reports as not understood rather than corrects.
    When only the start of a word is corrected, the rest
    must be one of ``endings`` (particles, verb endings) or start with a known word:
    서을에서 → 서울에서 and 서을날씨 → 서울날씨, but 모래사장 stays.
    """

    def __init__(
        self,
        vocabulary: Iterable[str],
        *,
        keep: Iterable[str] = (),
        endings: Iterable[str] = (),
        starts: Iterable[str] = (),
        slack: int = 0,
    ) -> None:
        self._slack = slack
        self._endings = frozenset(endings)
        self._known: set[str] = {w.lower() for w in keep}
        self._buckets: dict[tuple[int, bool], list[str]] = {}
        self._jamo: dict[tuple[int, bool], list[str]] = {}
        self._sounds: dict[str, str] = {}  # a known word's liaison spelling -> the word
        words = [w.lower() for w in vocabulary]
        self._known.update(words)
        targets: set[str] = set()
        for w in [*words, *(s.lower() for s in starts)]:
            if len(w) < 2 or w in targets or not _WORD_RE.fullmatch(w):
                continue
            if w in self._known and w not in words:
                continue  # a keep word
            targets.add(w)
            key = (len(w), w.isascii())
            self._buckets.setdefault(key, []).append(w)
            self._jamo.setdefault(key, []).append(decompose(w))
            heard = pronounce(w)
            if heard != w:
                self._sounds.setdefault(heard, w)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self._known

    def correct(
        self, text: str, protected: Sequence[tuple[int, int]] = ()
    ) -> tuple[str, list[Correction]]:
        """``text`` with unknown words replaced by their closest known word.

        Words overlapping a ``protected`` span (already recognised) are left alone. The
        result has the length of ``text``.
        """
        fixes: list[Correction] = []
        for m in _WORD_RE.finditer(text):
            start, end = m.start(), m.end()
            if any(start < pe and end > ps for ps, pe in protected):
                continue
            fix = self._fix_word(m.group(), start)
            if fix is not None:
                fixes.append(fix)
        if not fixes:
            return text, fixes
        parts: list[str] = []
        pos = 0
        for fix in fixes:
            parts.append(text[pos : fix.start])
            parts.append(fix.corrected)
            pos = fix.end
        parts.append(text[pos:])
        return "".join(parts), fixes

    def _fix_word(self, word: str, offset: int) -> Correction | None:
        lower = word.lower()
        latin = lower.isascii()
        longest = min(len(lower), _MAX_PREFIX) if not latin else len(lower)
        lengths = range(longest, 1, -1) if not latin else (len(lower),)
        if any(lower[:n] in self._known and self._rest_ok(lower[n:]) for n in lengths):
            return None
        for n in lengths:
            heard = self._sounds.get(pronounce(lower[:n])) if n >= 2 and not latin else None
            if heard is not None and heard != lower[:n] and self._rest_ok(lower[n:]):
                return Correction(offset, offset + n, word[:n], heard, 1)
            allowed = _allowed(n, latin)
            bucket = self._jamo.get((n, latin))
            if not allowed or not bucket:
                continue
            allowed += self._slack
            query = decompose(lower[:n])
            hit = process.extractOne(
                query, bucket, scorer=Levenshtein.distance, score_cutoff=allowed
            )
            if hit is None:
                continue
            _, distance, index = hit
            candidate = self._buckets[(n, latin)][index]
            if bucket[index][0] != query[0] or distance == 0:
                continue
            if not self._rest_ok(lower[n:]):
                continue
            return Correction(offset, offset + n, word[:n], candidate, int(distance))
        return None

    def _rest_ok(self, rest: str) -> bool:
        """What follows a corrected word start: nothing, endings, or a known word."""
        if not rest or not self._endings:
            return True
        for _ in range(3):
            if not rest:
                return True
            if any(rest[:n] in self._known for n in range(len(rest), 1, -1)):
                return True
            ending = next(
                (rest[:n] for n in range(len(rest), 0, -1) if rest[:n] in self._endings), None
            )
            if ending is None:
                return False
            rest = rest[len(ending) :]
        return not rest
