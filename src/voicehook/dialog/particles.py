"""Korean particle (조사) auto-selection, the way NUGU Play Builder does it.

A prompt such as ``{{location}은} 맑아요`` needs 은 after 서울 and 는 after 부산. The choice
depends on the sound that ends the word: does it end with a final consonant (받침)?

This module answers that question for the words a prompt can contain:

- Hangul: the final consonant (종성) of the last syllable. 서울 → ㄹ, 부산 → ㄴ, 학교 → none.
- Digits: read in Sino-Korean (한자어 수사). 1 → 일 (ㄹ), 2 → 이, 10 → 십 (ㅂ), 100 → 백 (ㄱ),
  1000 → 천 (ㄴ), 10000 → 만 (ㄴ), 3.5 → 삼 점 오 → 오.
- A number with a unit: the Korean unit word. 10g → 그램 (ㅁ), 5 km → 킬로미터, 30% → 퍼센트.
- Latin letters: American-English pronunciation written in Hangul. KBS → 에스, LG → 지,
  IBM → 엠 (ㅁ), Google → 구글 (ㄹ, by a spelling heuristic).
- SKML tags are ignored (``<say as="unit">서울</say>`` is judged as 서울); ``<sub alias="…">``
  is judged by its alias. Brackets, punctuation and spaces at the end are skipped.
- Anything else (emoji, 漢字, かな, an empty value) cannot be judged: the particle is left
  unconverted, which means the first member written in the template is used.

The ㄹ rule for 로/으로 (서울로, not 서울으로) is not in the Play Builder docs. We apply it on
purpose, because it is standard Korean (spec: flagged [INF]).

All functions are pure: no I/O, no global state.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

__all__ = [
    "SUPPORTED_PAIRS",
    "Particle",
    "ParticleError",
    "attach",
    "choose",
    "final_consonant",
    "has_final_consonant",
    "has_rieul_final",
    "parse_particle",
]

# Final consonants (종성) in Unicode order; index 0 means "no final consonant".
_JONGSEONG = (
    "",
    "ㄱ",
    "ㄲ",
    "ㄳ",
    "ㄴ",
    "ㄵ",
    "ㄶ",
    "ㄷ",
    "ㄹ",
    "ㄺ",
    "ㄻ",
    "ㄼ",
    "ㄽ",
    "ㄾ",
    "ㄿ",
    "ㅀ",
    "ㅁ",
    "ㅂ",
    "ㅄ",
    "ㅅ",
    "ㅆ",
    "ㅇ",
    "ㅈ",
    "ㅊ",
    "ㅋ",
    "ㅌ",
    "ㅍ",
    "ㅎ",
)
_HANGUL_FIRST = 0xAC00
_HANGUL_LAST = 0xD7A3

# Sino-Korean readings. Only the last syllable matters, but whole words read better.
_DIGITS = ("영", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구")
_PLACES = ("", "십", "백", "천")  # 10^1 .. 10^3 inside a group of four digits
_BIG_PLACES = ("", "만", "억", "조", "경", "해")  # 10^4, 10^8, ... (groups of four digits)

# Units after a number, judged by the standard Korean unit word. Case-sensitive.
_UNITS: dict[str, str] = {
    "%": "퍼센트",
    "°C": "도",
    "°F": "도",
    "°": "도",
    "g": "그램",
    "kg": "킬로그램",
    "mg": "밀리그램",
    "t": "톤",
    "m": "미터",
    "km": "킬로미터",
    "cm": "센티미터",
    "mm": "밀리미터",
    "m2": "제곱미터",
    "km2": "제곱킬로미터",
    "cm2": "제곱센티미터",
    "m3": "세제곱미터",
    "L": "리터",
    "l": "리터",
    "ml": "밀리리터",
    "mL": "밀리리터",
    "cal": "칼로리",
    "kcal": "킬로칼로리",
    "KB": "킬로바이트",
    "MB": "메가바이트",
    "GB": "기가바이트",
    "TB": "테라바이트",
    "Hz": "헤르츠",
    "kHz": "킬로헤르츠",
    "MHz": "메가헤르츠",
    "GHz": "기가헤르츠",
    "W": "와트",
    "kW": "킬로와트",
    "kWh": "킬로와트시",
    "V": "볼트",
    "mAh": "밀리암페어시",
    "ms": "밀리초",
    "sec": "초",
    "min": "분",
    "h": "시간",
}

# American-English letter names written in Hangul.
_LETTERS: dict[str, str] = {
    "A": "에이",
    "B": "비",
    "C": "씨",
    "D": "디",
    "E": "이",
    "F": "에프",
    "G": "지",
    "H": "에이치",
    "I": "아이",
    "J": "제이",
    "K": "케이",
    "L": "엘",
    "M": "엠",
    "N": "엔",
    "O": "오",
    "P": "피",
    "Q": "큐",
    "R": "알",
    "S": "에스",
    "T": "티",
    "U": "유",
    "V": "브이",
    "W": "더블유",
    "X": "엑스",
    "Y": "와이",
    "Z": "지",
}

_SUB_ALIAS = re.compile(
    r"""<sub\b[^<>]*?\balias\s*=\s*(?:"([^"]*)"|'([^']*)')[^<>]*>.*?</sub\s*>""", re.DOTALL
)
_TAG = re.compile(r"<[^<>]*>")
_UNIT_TAIL = re.compile(
    r"[0-9]\s*(" + "|".join(re.escape(u) for u in sorted(_UNITS, key=len, reverse=True)) + r")$"
)
_NUMBER_TAIL = re.compile(r"([0-9][0-9,]*)(?:\.([0-9]+))?$")
_LATIN_TAIL = re.compile(r"[A-Za-z]+$")
_UPPER_TAIL = re.compile(r"[A-Z]+$")
_WORD_TAIL = re.compile(r"[A-Z]?[a-z]+$")
_VOWELS = frozenset("aeiouy")
# Unicode categories skipped at the end of a word: punctuation, spaces, controls and
# math/modifier/currency symbols. Other symbols (emoji, ℃) are kept and judged.
_SKIPPED_CATEGORIES = frozenset(
    {"Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Zs", "Zl", "Zp", "Cc", "Cf", "Sm", "Sk", "Sc"}
)
_KEPT_PUNCTUATION = frozenset("%")


def _strip_markup(word: str) -> str:
    """Normalise width/compatibility forms, keep ``<sub>`` aliases and drop other SKML tags."""
    text = unicodedata.normalize("NFKC", word)
    if "<" in text:
        text = _SUB_ALIAS.sub(lambda m: m.group(1) if m.group(1) is not None else m.group(2), text)
        text = _TAG.sub("", text)
    return text


def _strip_tail(text: str) -> str:
    """Drop brackets, punctuation and spaces at the end (``서울(주).`` → ``서울(주``)."""
    end = len(text)
    while end > 0:
        ch = text[end - 1]
        if ch in _KEPT_PUNCTUATION or unicodedata.category(ch) not in _SKIPPED_CATEGORIES:
            break
        end -= 1
    return text[:end]


def _read_integer(digits: str) -> str:
    """Sino-Korean reading of the end of an integer: ``"20"`` → ``"이십"``, ``"105"`` → ``"오"``."""
    digits = digits.lstrip("0")
    if not digits:
        return _DIGITS[0]
    trailing_zeros = len(digits) - len(digits.rstrip("0"))
    group, place = divmod(trailing_zeros, 4)
    if group == 0:
        lead = _DIGITS[int(digits[-1 - place])]
        return lead + _PLACES[place]
    if group < len(_BIG_PLACES):
        return _BIG_PLACES[group]
    return ""  # beyond 10^20: nobody says it; treat as unjudgeable


def _read_latin(letters: str) -> str | None:
    """Hangul reading of the end of a Latin-letter word (only the last syllable matters)."""
    upper = _UPPER_TAIL.search(letters)
    if upper is not None:
        # Ends in capitals: an acronym, read letter by letter (KBS → 케이비에스, iOS → 오에스).
        return _LETTERS[letters[-1]]
    word = _WORD_TAIL.search(letters)
    if word is None:  # pragma: no cover - letters is non-empty ASCII, one regex matches
        return None
    lower = word.group().lower()
    if len(lower) == 1 or not (_VOWELS & set(lower)):
        return _LETTERS[lower[-1].upper()]  # "x", "tv", "km": spelled out
    return _english_final(lower)


def _english_final(word: str) -> str:
    """Guess how a lowercase English word ends when written in Hangul.

    Returns a Hangul syllable with the guessed final consonant, or ``"아"`` for none.
    Based on the loanword spelling rules (외래어 표기법): m → ㅁ, n → ㄴ, ng → ㅇ, l/le → ㄹ,
    p after a vowel → ㅂ, t or k/c after one short vowel → ㅅ / ㄱ (robot 로봇, music 뮤직),
    silent e after m/n/l (game 게임, phone 폰, apple 애플). Everything else (-r, -s, -d, -g,
    -x, -f, -ke, -pe, vowels) gets 으-style or vowel endings, so no final consonant.
    """
    if word.endswith("ng"):
        return "앙"
    if word.endswith(("me", "mb")):
        return "암"
    if word.endswith("ne"):
        return "안"
    if word.endswith("le"):
        return "알"
    last = word[-1]
    before = word[-2]
    if last == "m":
        return "암"
    if last == "n":
        return "안"
    if last == "l":
        return "알"
    if last == "p" and (before in _VOWELS or before == "p"):
        return "압"  # app 앱, shop 숍, chip 칩
    short_vowel = before in "aeiou" and (len(word) == 2 or word[-3] not in _VOWELS)
    if last == "t" and short_vowel:
        return "앗"  # robot 로봇, chat 챗, internet 인터넷
    if last in "kc" and (short_vowel or word.endswith(("ck", "ook"))):
        return "악"  # music 뮤직, slack 슬랙, facebook 페이스북
    return "아"


def _reading(word: str) -> str | None:
    """Hangul text whose last syllable sounds like the end of ``word``; None if unknown."""
    text = _strip_tail(_strip_markup(word))
    if not text:
        return None
    last = text[-1]
    if _HANGUL_FIRST <= ord(last) <= _HANGUL_LAST:
        return last
    unit = _UNIT_TAIL.search(text)
    if unit is not None:
        return _UNITS[unit.group(1)]
    number = _NUMBER_TAIL.search(text)
    if number is not None:
        fraction = number.group(2)
        if fraction is not None:
            return _DIGITS[int(fraction[-1])]  # 3.14 → 삼 점 일사: digits one by one
        return _read_integer(number.group(1).replace(",", "")) or None
    latin = _LATIN_TAIL.search(text)
    if latin is not None:
        return _read_latin(latin.group())
    return None


def final_consonant(word: str) -> str | None:
    """Return the final consonant (받침) that ends ``word`` when spoken.

    Returns the consonant as a compatibility jamo (``"ㄹ"``), ``""`` when the word ends
    in a vowel, or ``None`` when it cannot be judged (emoji, 漢字, empty text).

    >>> [final_consonant(w) for w in ("서울", "학교", "10", "🙂")]
    ['ㄹ', '', 'ㅂ', None]
    """
    reading = _reading(word)
    if not reading:
        return None
    return _JONGSEONG[(ord(reading[-1]) - _HANGUL_FIRST) % 28]


def has_final_consonant(word: str) -> bool | None:
    """True if ``word`` ends with a final consonant (받침), False if not, None if unknown.

    >>> has_final_consonant("서울"), has_final_consonant("부산"), has_final_consonant("학교")
    (True, True, False)
    """
    jong = final_consonant(word)
    return None if jong is None else jong != ""


def has_rieul_final(word: str) -> bool | None:
    """True if ``word`` ends with ㄹ (서울, 7, L), False if not, None if unknown.

    Used by the 로/으로 rule: 서울로, 집으로.
    """
    jong = final_consonant(word)
    return None if jong is None else jong == "ㄹ"


class ParticleError(ValueError):
    """The text is not one of the supported particles (은/는, 이/가, ...)."""


@dataclass(frozen=True, slots=True)
class Particle:
    """A particle pair and how to choose between its forms.

    Attributes:
        final: the form after a final consonant (받침 있음), e.g. ``"은"``.
        no_final: the form after a vowel (받침 없음), e.g. ``"는"``.
        written: the form used when the word cannot be judged: the first member written
            in the template (``"는/은"`` → ``"는"``).
        rieul_as_vowel: True for 로/으로: a word ending in ㄹ takes the vowel form (서울로).
    """

    final: str
    no_final: str
    written: str
    rieul_as_vowel: bool = False

    def choose(self, word: str) -> str:
        """Return the form that fits after ``word``.

        >>> parse_particle("은/는").choose("서울"), parse_particle("로").choose("서울")
        ('은', '로')
        """
        jong = final_consonant(word)
        if jong is None:
            return self.written
        if jong == "" or (self.rieul_as_vowel and jong == "ㄹ"):
            return self.no_final
        return self.final


# (final, no_final) for every supported pair. 예요 is the standard spelling of 에요 after
# a vowel; Play Builder's table writes 에요, so both spellings are kept as written.
SUPPORTED_PAIRS: tuple[tuple[str, str], ...] = (
    ("은", "는"),
    ("이", "가"),
    ("을", "를"),
    ("과", "와"),
    ("으로", "로"),
    ("이에요", "에요"),
    ("이에요", "예요"),
    ("이야", "야"),
)


def _spellings() -> dict[str, Particle]:
    table: dict[str, Particle] = {}
    for final, no_final in SUPPORTED_PAIRS:
        rieul = no_final == "로"
        for first, second in ((final, no_final), (no_final, final)):
            particle = Particle(final, no_final, first, rieul)
            table[f"{first}/{second}"] = particle
            # A single member: the first pair that owns it wins (이에요 → 에요/이에요).
            table.setdefault(first, particle)
    return table


_PARTICLES: dict[str, Particle] = _spellings()
_SUPPORTED_TEXT = "은/는, 이/가, 을/를, 과/와, 로/으로, 에요/이에요 (or 예요/이에요), 야/이야"


def parse_particle(text: str) -> Particle:
    """Parse a particle as written in a template: ``"은"``, ``"는"``, ``"은/는"``, ``"는/은"``.

    Raises:
        ParticleError: ``text`` is not a supported particle.
    """
    particle = _PARTICLES.get(text)
    if particle is None:
        raise ParticleError(f"unknown particle {text!r}; supported: {_SUPPORTED_TEXT}")
    return particle


def choose(word: str, pair: str) -> str:
    """Return the particle form that fits after ``word``.

    >>> choose("서울", "은/는"), choose("부산", "이/가"), choose("학교", "로")
    ('은', '이', '로')

    Raises:
        ParticleError: ``pair`` is not a supported particle.
    """
    return parse_particle(pair).choose(word)


def attach(word: str, pair: str) -> str:
    """Return ``word`` followed by the fitting particle form.

    >>> attach("서울", "로/으로"), attach("집", "로/으로"), attach("KBS", "을/를")
    ('서울로', '집으로', 'KBS를')

    Raises:
        ParticleError: ``pair`` is not a supported particle.
    """
    return word + parse_particle(pair).choose(word)
