"""Recognisers and normalisers for NUGU built-in entity types (``BID_*``).

NUGU delivers some built-in entity types with a *normalised* value instead of the spoken text
(see the backend-proxy spec, §2.2). This module finds those entities in raw Korean text and
computes the value NUGU would send:

========================  ====================================  ===========================
type                      examples of spoken text               value
========================  ====================================  ===========================
``BID_DT_DAY``            오늘, 내일, 모레, 글피, 어제, 그저께   ``TODAY``, ``TOMORROW``, ...
``BID_DT_YMONTH``         2월, 이월, 십이월, 시월               ``"2"``, ``"12"``, ``"10"``
``BID_DT_MDAY``           28일, 이십팔일, 삼십일일              ``"28"``, ``"31"``
``BID_DT_WDAY``           금요일, 금욜, 다음 주 금요일          ``FRI``, ``FRI.W.1``
``BID_QT``                3, 1,000, 3.5, 삼, 이십삼, 스물셋      ``"3"``, ``"1000"``, ``"23"``
========================  ====================================  ===========================

Everything here is pure, deterministic Python with no third-party dependency. The functions
return *all* candidates; when candidates overlap (``"2월"`` is a month, and its ``"2"`` could
be a quantity) the caller keeps the longest one (:mod:`voicehook.dialog.nlu` does this).

Number words:

* Sino-Korean (한자어 수사): 영/공, 일 … 구, 십, 백, 천, 만, 억, 조, also mixed with digits
  (``"2만 5천"``). ``parse_korean_number("이천삼백사십오") == 2345``.
* Native Korean (고유어 수사) 1–99: 하나 … 아홉, 열, 스물, 서른 … 아흔. The attributive forms
  한/두/세/네/석/넉 are accepted alone only before a counter (``"세 개"``, ``"두 번"``),
  because ``"세"`` and ``"네"`` are ordinary words too.
* Digits: ``"3"``, ``"1,000"``, ``"3.5"``, ``"-2"``. The word ``"마이너스"`` is *not* read as a
  sign, because many plays use it as an operator ("5 마이너스 3").
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

__all__ = [
    "BID_DT_DAY",
    "BID_DT_MDAY",
    "BID_DT_WDAY",
    "BID_DT_YMONTH",
    "BID_QT",
    "SUPPORTED_BUILTIN_TYPES",
    "BuiltinMatch",
    "find_builtin_entities",
    "normalize_builtin",
    "parse_korean_number",
]

BID_DT_DAY: Final = "BID_DT_DAY"
BID_DT_YMONTH: Final = "BID_DT_YMONTH"
BID_DT_MDAY: Final = "BID_DT_MDAY"
BID_DT_WDAY: Final = "BID_DT_WDAY"
BID_QT: Final = "BID_QT"

#: The built-in types this module can recognise.
SUPPORTED_BUILTIN_TYPES: Final[frozenset[str]] = frozenset(
    {BID_DT_DAY, BID_DT_YMONTH, BID_DT_MDAY, BID_DT_WDAY, BID_QT}
)


@dataclass(frozen=True, slots=True)
class BuiltinMatch:
    """One built-in entity found in a text.

    ``start``/``end`` are indexes into the searched text (``text[start:end] == self.text``).
    ``value`` is the normalised value NUGU delivers to the backend.
    """

    type: str
    text: str
    value: str
    start: int
    end: int


# --------------------------------------------------------------------------- characters


def _is_hangul(ch: str) -> bool:
    return "가" <= ch <= "힣"


def _is_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _is_latin(ch: str) -> bool:
    return ("a" <= ch <= "z") or ("A" <= ch <= "Z")


def _script(ch: str) -> str:
    if _is_hangul(ch):
        return "h"
    if _is_digit(ch):
        return "d"
    if _is_latin(ch):
        return "l"
    return ""


def _left_boundary(text: str, i: int) -> bool:
    """True when a word may start at ``text[i]``: start of text, after a non-letter, or at a
    change of script (``"3더하기"``: ``더`` starts a word after the digit)."""
    if i == 0:
        return True
    prev = _script(text[i - 1])
    return prev == "" or prev != _script(text[i])


# --------------------------------------------------------------------------- suffixes

# Particles (조사), copula endings and counters (단위 명사) that may follow a number word.
_PARTICLES: Final = (
    "이",
    "가",
    "은",
    "는",
    "을",
    "를",
    "에",
    "에서",
    "에게",
    "에다",
    "에다가",
    "와",
    "과",
    "하고",
    "랑",
    "이랑",
    "로",
    "으로",
    "의",
    "도",
    "만",
    "까지",
    "부터",
    "요",
    "이요",
    "야",
    "이야",
    "이에요",
    "예요",
    "입니다",
    "이고",
    "고",
    "이면",
    "면",
    "이지",
    "지",
    "인가",
    "인가요",
    "이냐",
    "냐",
    "라고",
    "이라고",
)
_COUNTERS: Final = (
    "개",
    "명",
    "번",
    "번째",
    "째",
    "살",
    "마리",
    "잔",
    "권",
    "장",
    "시",
    "시간",
    "일",
    "주일",
    "분",
    "초",
    "원",
    "달",
    "년",
    "주",
    "점",
    "배",
    "등",
    "층",
    "호",
    "쪽",
    "대",
    "병",
    "곡",
    "문제",
    "그릇",
    "인분",
    "킬로",
    "미터",
)
_SUFFIXES: Final[tuple[str, ...]] = tuple(
    sorted(set(_PARTICLES) | set(_COUNTERS), key=len, reverse=True)
)
# Single-syllable Sino-Korean numbers are common syllables (이, 일, 사, 오 ...). After them we
# accept fewer particles: "사과" (apple) and "일이" (work + 이) are not numbers.
_AMBIGUOUS_AFTER_SHORT: Final = frozenset({"이", "가", "와", "과", "고", "지", "도", "시", "대"})


def _strip_suffixes(rest: str, *, short_number: bool) -> bool:
    """True when ``rest`` (the Hangul that follows a number in the same word) consists only of
    particles and counters, e.g. ``"개를"`` or ``"번이야"``."""
    if short_number and rest[:1] in _AMBIGUOUS_AFTER_SHORT and rest not in ("이야", "이요"):
        return False
    if rest.startswith(("요일", "욜")):  # 일요일 is a weekday, not "1 + 요일"
        return False
    for _ in range(3):
        if not rest:
            return True
        for suffix in _SUFFIXES:
            if rest.startswith(suffix):
                rest = rest[len(suffix) :]
                break
        else:
            return False
    return not rest


def _starts_with_counter(rest: str) -> bool:
    return any(rest.startswith(c) for c in _COUNTERS)


# --------------------------------------------------------------------------- number words

_SINO_DIGITS: Final[dict[str, int]] = {
    "영": 0,
    "공": 0,
    "일": 1,
    "이": 2,
    "삼": 3,
    "사": 4,
    "오": 5,
    "육": 6,
    "륙": 6,
    "칠": 7,
    "팔": 8,
    "구": 9,
}
_SMALL_UNITS: Final[dict[str, int]] = {"십": 10, "백": 100, "천": 1000}
_BIG_UNITS: Final[dict[str, int]] = {"만": 10**4, "억": 10**8, "조": 10**12}
_SINO_CHARS: Final = frozenset(_SINO_DIGITS) | frozenset(_SMALL_UNITS) | frozenset(_BIG_UNITS)

_NATIVE_TENS: Final[dict[str, int]] = {
    "열": 10,
    "스물": 20,
    "서른": 30,
    "마흔": 40,
    "쉰": 50,
    "예순": 60,
    "일흔": 70,
    "여든": 80,
    "아흔": 90,
}
_NATIVE_UNITS: Final[dict[str, int]] = {
    "하나": 1,
    "둘": 2,
    "셋": 3,
    "넷": 4,
    "다섯": 5,
    "여섯": 6,
    "일곱": 7,
    "여덟": 8,
    "아홉": 9,
}
# Attributive forms (관형사형): used before a counter ("한 개", "세 번", "스무 살").
_NATIVE_DETERMINERS: Final[dict[str, int]] = {"한": 1, "두": 2, "세": 3, "석": 3, "네": 4, "넉": 4}


def _parse_sino(text: str) -> int | None:
    """Parse a Sino-Korean numeral, optionally with ASCII-digit coefficients (``"2만5천"``)."""
    if not text:
        return None
    if text in ("영", "공"):
        return 0
    total = 0
    section = 0
    pending: int | None = None
    pending_digits = False
    last_small = 10**4
    last_big = 10**16
    section_used = False
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if _is_digit(ch):
            if pending is not None:
                return None
            j = i
            while j < n and _is_digit(text[j]):
                j += 1
            pending = int(text[i:j])
            pending_digits = True
            i = j
            continue
        if ch in _SINO_DIGITS:
            value = _SINO_DIGITS[ch]
            if pending is not None or value == 0:
                return None
            pending = value
            pending_digits = False
            i += 1
            continue
        if ch in _SMALL_UNITS:
            unit = _SMALL_UNITS[ch]
            if unit >= last_small:
                return None
            coef = 1 if pending is None else pending
            if not 1 <= coef <= 9:
                return None
            section += coef * unit
            section_used = True
            last_small = unit
            pending = None
            i += 1
            continue
        if ch in _BIG_UNITS:
            unit = _BIG_UNITS[ch]
            if unit >= last_big:
                return None
            if pending is not None:
                if pending_digits and section_used:
                    return None
                section += pending
            if section == 0:
                if section_used or pending is not None:
                    return None
                section = 1
            if section >= 10**4:
                return None
            total += section * unit
            section = 0
            section_used = False
            last_small = 10**4
            last_big = unit
            pending = None
            i += 1
            continue
        return None
    if pending is not None:
        if section_used and pending >= min(last_small, 10):
            return None
        section += pending
    return total + section


def _parse_native(text: str) -> tuple[int, bool] | None:
    """Parse a native Korean numeral 1–99. Returns ``(value, attributive)``."""
    if text == "스무":
        return 20, True
    tens = 0
    rest = text
    for word, value in _NATIVE_TENS.items():
        if rest.startswith(word):
            tens = value
            rest = rest[len(word) :]
            break
    if not rest:
        return (tens, False) if tens else None
    if rest in _NATIVE_UNITS:
        return tens + _NATIVE_UNITS[rest], False
    if rest in _NATIVE_DETERMINERS:
        return tens + _NATIVE_DETERMINERS[rest], True
    return None


def parse_korean_number(text: str) -> int | None:
    """Parse a whole number written in digits, Sino-Korean or native Korean words.

    Spaces are ignored, so ``"이천 삼백"`` and ``"열 둘"`` work. Returns ``None`` when the text
    is not exactly one number.

    >>> parse_korean_number("이십삼"), parse_korean_number("스물셋"), parse_korean_number("1,000")
    (23, 23, 1000)
    """
    compact = "".join(text.split())
    if not compact:
        return None
    if re.fullmatch(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+", compact):
        return int(compact.replace(",", ""))
    native = _parse_native(compact)
    if native is not None:
        return native[0]
    return _parse_sino(compact)


# --------------------------------------------------------------------------- quantities

_DIGIT_NUMBER = re.compile(r"-?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")
_MAX_WORD = 12


@dataclass(frozen=True, slots=True)
class _Num:
    start: int
    end: int
    value: str
    digits: bool  # led by ASCII digits
    attributive: bool  # 한/두/세/네/스무 ...: needs a counter unless longer


def _digit_value(token: str) -> str:
    negative = token.startswith("-")
    body = token.lstrip("-").replace(",", "")
    whole, _, frac = body.partition(".")
    value = str(int(whole))
    if frac:
        value = f"{value}.{frac}"
    if negative and value.strip("0.") != "":
        value = "-" + value
    return value


def _hangul_run_end(text: str, i: int) -> int:
    while i < len(text) and _is_hangul(text[i]):
        i += 1
    return i


def _number_at(text: str, i: int) -> _Num | None:
    """The longest number that starts at ``text[i]`` and is followed by an acceptable end."""
    ch = text[i]
    if _is_digit(ch) or (ch == "-" and i + 1 < len(text) and _is_digit(text[i + 1])):
        if ch == "-" and i > 0 and (_script(text[i - 1]) or text[i - 1] in ".,"):
            return None
        m = _DIGIT_NUMBER.match(text, i)
        if m is None:  # pragma: no cover - guarded by the checks above
            return None
        end = m.end()
        # "2만 5천", "3천": digits followed by Sino-Korean units.
        if end < len(text) and text[end] in _SINO_CHARS and "." not in m.group():
            run_end = _hangul_run_end(text, end)
            best = None
            for j in range(min(run_end, end + _MAX_WORD), end, -1):
                value = _parse_sino(text[i:j].replace(",", ""))
                rest = text[j:run_end]
                if value is not None and _strip_suffixes(rest, short_number=False):
                    best = _Num(i, j, str(value), True, False)
                    break
            if best is not None:
                return best
        return _Num(i, end, _digit_value(m.group()), True, False)
    if not _is_hangul(ch):
        return None
    run_end = _hangul_run_end(text, i)
    for j in range(min(run_end, i + _MAX_WORD), i, -1):
        candidate = text[i:j]
        rest = text[j:run_end]
        native = _parse_native(candidate)
        if native is not None:
            value, attributive = native
            if attributive and len(candidate) == 1:
                if rest and not _starts_with_counter(rest):
                    continue
            elif not _strip_suffixes(rest, short_number=False):
                continue
            return _Num(i, j, str(value), False, attributive and len(candidate) == 1)
        sino = _parse_sino(candidate)
        if sino is not None and _strip_suffixes(rest, short_number=len(candidate) == 1):
            return _Num(i, j, str(sino), False, False)
    return None


def _next_word_start(text: str, i: int) -> int | None:
    """Index of the next word after ``text[i:]`` when only spaces lie between."""
    j = i
    while j < len(text) and text[j] in " \t":
        j += 1
    if j == i or j >= len(text):
        return None
    return j


def _find_quantities(text: str) -> list[BuiltinMatch]:
    out: list[BuiltinMatch] = []
    i = 0
    n = len(text)
    while i < n:
        if not _left_boundary(text, i) or not (
            _is_hangul(text[i]) or _is_digit(text[i]) or text[i] == "-"
        ):
            i += 1
            continue
        if i > 0 and _is_hangul(text[i]) and _is_digit(text[i - 1]):
            # "28일": a Hangul syllable right after digits is a unit, not a new number.
            i += 1
            continue
        num = _number_at(text, i)
        if num is None:
            i += 1
            continue
        start, end, value = num.start, num.end, num.value
        attributive = num.attributive
        # Join following words that continue the number: "열 두", "이천 삼백", "2만 5천".
        while True:
            nxt = _next_word_start(text, end)
            if nxt is None or (_is_digit(text[end - 1]) and _is_digit(text[nxt])):
                break
            run_end = nxt
            while run_end < n and (_is_hangul(text[run_end]) or _is_digit(text[run_end])):
                run_end += 1
            joined: tuple[int, int] | None = None
            for j in range(min(run_end, nxt + _MAX_WORD), nxt, -1):
                combined = "".join(text[start:end].split()) + text[nxt:j]
                parsed = _parse_native(combined)
                if parsed is None:
                    sino = _parse_sino(combined.replace(",", ""))
                    parsed = None if sino is None else (sino, False)
                if parsed is None:
                    continue
                rest = text[j:run_end]
                if parsed[1] and rest and not _starts_with_counter(rest):
                    continue
                if not parsed[1] and not _strip_suffixes(rest, short_number=False):
                    continue
                joined = (j, parsed[0])
                break
            if joined is None:
                break
            end, value, attributive = joined[0], str(joined[1]), False
        if attributive:
            nxt = _next_word_start(text, end)
            after = text[end:] if nxt is None else text[nxt:]
            if not (end < n and _is_hangul(text[end])) and not _starts_with_counter(after):
                i = end
                continue
        out.append(BuiltinMatch(BID_QT, text[start:end], value, start, end))
        i = end
    return out


# --------------------------------------------------------------------------- dates

_DAY_WORDS: Final[dict[str, str]] = {
    "오늘": "TODAY",
    "금일": "TODAY",
    "내일": "TOMORROW",
    "낼": "TOMORROW",
    "명일": "TOMORROW",
    "모레": "A_TOMORROW",
    "내일모레": "A_TOMORROW",
    "낼모레": "A_TOMORROW",
    "글피": "AA_TOMORROW",
    "그글피": "AAA_TOMORROW",
    "어제": "YESTERDAY",
    "어저께": "YESTERDAY",
    "그제": "B_YESTERDAY",
    "그저께": "B_YESTERDAY",
    "그끄제": "BB_YESTERDAY",
    "그끄저께": "BB_YESTERDAY",
}
_DAY_RE = re.compile("|".join(sorted(_DAY_WORDS, key=len, reverse=True)))

_WDAYS: Final[dict[str, str]] = {
    "월": "MON",
    "화": "TUE",
    "수": "WED",
    "목": "THU",
    "금": "FRI",
    "토": "SAT",
    "일": "SUN",
}
_WEEK_OFFSETS: Final[dict[str, int]] = {
    "이번": 0,
    "다음": 1,
    "담": 1,
    "다다음": 2,
    "지난": -1,
    "저번": -1,
    "지지난": -2,
}
_WDAY_RE = re.compile(
    r"(?:(?P<week>다다음|다음|담|이번|지지난|지난|저번)\s*주\s*)?(?P<day>[월화수목금토일])(?:요일|욜)"
)

_WDAY_VALUE_RE = re.compile(r"(?:MON|TUE|WED|THU|FRI|SAT|SUN)(?:\.W\.-?[0-9])?")

_MONTH_SPECIAL: Final[dict[str, int]] = {"유": 6, "시": 10}


def _find_days(text: str) -> list[BuiltinMatch]:
    out: list[BuiltinMatch] = []
    for m in _DAY_RE.finditer(text):
        if not _left_boundary(text, m.start()):
            continue
        word = m.group()
        if (
            word == "낼"
            and m.end() < len(text)
            and _is_hangul(text[m.end()])
            and text[m.end()] not in "은도"
        ):
            continue
        out.append(BuiltinMatch(BID_DT_DAY, word, _DAY_WORDS[word], m.start(), m.end()))
    return out


def _find_wdays(text: str) -> list[BuiltinMatch]:
    out: list[BuiltinMatch] = []
    for m in _WDAY_RE.finditer(text):
        if not _left_boundary(text, m.start()):
            # "일요일" in "28일일요일" is unlikely; but "토요일" after a digit is fine.
            continue
        value = _WDAYS[m.group("day")]
        week = m.group("week")
        if week is not None and _WEEK_OFFSETS[week] != 0:
            value = f"{value}.W.{_WEEK_OFFSETS[week]}"
        out.append(BuiltinMatch(BID_DT_WDAY, m.group(), value, m.start(), m.end()))
    return out


# "4일 뒤", "이틀 후", "2일 전": days counted from today, as the BID_DT_DAY values NUGU has.
_RELATIVE_COUNTS: Final[dict[str, int]] = {"하루": 1, "이틀": 2, "사흘": 3, "나흘": 4}
_RELATIVE_AFTER: Final[dict[int, str]] = {
    1: "TOMORROW",
    2: "A_TOMORROW",
    3: "AA_TOMORROW",
    4: "AAA_TOMORROW",
}
_RELATIVE_BEFORE: Final[dict[int, str]] = {1: "YESTERDAY", 2: "B_YESTERDAY", 3: "BB_YESTERDAY"}
_RELATIVE_RE = re.compile(
    r"(?:(?P<digits>[0-9]{1,2})\s*일|(?P<sino>[일이삼사])\s*일|(?P<word>하루|이틀|사흘|나흘))"
    r"\s*(?P<dir>뒤|후|있다가|이따가|지나서|전)"
)
_SINO_SMALL: Final[dict[str, int]] = {"일": 1, "이": 2, "삼": 3, "사": 4}


def _find_relative_days(text: str) -> list[BuiltinMatch]:
    out: list[BuiltinMatch] = []
    for m in _RELATIVE_RE.finditer(text):
        if not _left_boundary(text, m.start()):
            continue
        if m.group("digits"):
            count = int(m.group("digits"))
        elif m.group("sino"):
            count = _SINO_SMALL[m.group("sino")]
        else:
            count = _RELATIVE_COUNTS[m.group("word")]
        table = _RELATIVE_BEFORE if m.group("dir") == "전" else _RELATIVE_AFTER
        value = table.get(count)
        if value is not None:
            out.append(BuiltinMatch(BID_DT_DAY, m.group(), value, m.start(), m.end()))
    return out


# "7/4", "12/25": month/day as typed in chat (only when both types are looked for).
_SLASH_DATE_RE = re.compile(r"(?<![0-9/.])([0-9]{1,2})\s*/\s*([0-9]{1,2})(?![0-9/])")


def _find_slash_dates(text: str) -> list[BuiltinMatch]:
    out: list[BuiltinMatch] = []
    for m in _SLASH_DATE_RE.finditer(text):
        month, day = int(m.group(1)), int(m.group(2))
        if 1 <= month <= 12 and 1 <= day <= 31:
            out.append(BuiltinMatch(BID_DT_YMONTH, m.group(1), str(month), m.start(1), m.end(1)))
            out.append(BuiltinMatch(BID_DT_MDAY, m.group(2), str(day), m.start(2), m.end(2)))
    return out


def _numbers_before(text: str, unit_index: int, max_value: int) -> list[tuple[int, int]]:
    """Numbers that end right before ``text[unit_index]``: ``[(start, value), ...]``."""
    found: list[tuple[int, int]] = []
    # ASCII digits.
    j = unit_index
    while j > 0 and _is_digit(text[j - 1]):
        j -= 1
    if j < unit_index and unit_index - j <= 2:
        value = int(text[j:unit_index])
        if 1 <= value <= max_value and _left_boundary(text, j):
            found.append((j, value))
        return found
    # Sino-Korean words (and 유월/시월).
    for length in range(1, 5):
        j = unit_index - length
        if j < 0:
            break
        word = text[j:unit_index]
        if not all(c in _SINO_CHARS or c in _MONTH_SPECIAL for c in word):
            break
        if word in _MONTH_SPECIAL:
            number: int | None = _MONTH_SPECIAL[word] if max_value == 12 else None
        else:
            number = _parse_sino(word)
        if number is not None and 1 <= number <= max_value:
            prev_ok = j == 0 or not _is_hangul(text[j - 1]) or text[j - 1] in "월년"
            if prev_ok:
                found.append((j, number))
    return found


def _find_calendar(text: str, unit: str, type_name: str, max_value: int) -> list[BuiltinMatch]:
    out: list[BuiltinMatch] = []
    for idx in (i for i, c in enumerate(text) if c == unit):
        nxt = text[idx + 1 : idx + 3]
        if nxt.startswith(("요일", "욜")) or (type_name == BID_DT_MDAY and nxt[:1] == "월"):
            continue
        for start, value in _numbers_before(text, idx, max_value):
            out.append(BuiltinMatch(type_name, text[start : idx + 1], str(value), start, idx + 1))
    return out


# --------------------------------------------------------------------------- public API


def find_builtin_entities(text: str, types: Collection[str]) -> list[BuiltinMatch]:
    """Find every candidate entity of the requested built-in ``types`` in ``text``.

    Unsupported type names are ignored. Candidates may overlap (``"2월"`` gives a month and,
    when ``BID_QT`` is requested too, the quantity ``"2"``); the caller resolves overlaps,
    normally by keeping the longest span. The result is sorted by position.
    """
    out: list[BuiltinMatch] = []
    if BID_DT_DAY in types:
        out.extend(_find_days(text))
        out.extend(_find_relative_days(text))
    if BID_DT_YMONTH in types and BID_DT_MDAY in types:
        out.extend(_find_slash_dates(text))
    if BID_DT_WDAY in types:
        out.extend(_find_wdays(text))
    if BID_DT_YMONTH in types:
        out.extend(_find_calendar(text, "월", BID_DT_YMONTH, 12))
    if BID_DT_MDAY in types:
        out.extend(_find_calendar(text, "일", BID_DT_MDAY, 31))
    if BID_QT in types:
        out.extend(_find_quantities(text))
    out.sort(key=lambda m: (m.start, -(m.end - m.start), m.type))
    return out


def normalize_builtin(type_name: str, text: str) -> str | None:
    """Normalise ``text`` as a whole for ``type_name``; ``None`` if it does not fit.

    Values that are already normalised pass through (``normalize_builtin("BID_DT_DAY",
    "TOMORROW") == "TOMORROW"``), which is what the structured input form needs.
    """
    stripped = text.strip()
    if type_name == BID_DT_DAY and stripped in _DAY_WORDS.values():
        return stripped
    if type_name == BID_DT_WDAY and _WDAY_VALUE_RE.fullmatch(stripped):
        return stripped
    if type_name in (BID_DT_YMONTH, BID_DT_MDAY, BID_QT):
        number = _DIGIT_NUMBER.fullmatch(stripped)
        if number is not None:
            return _digit_value(stripped)
        if type_name == BID_QT:
            value = parse_korean_number(stripped)
            return None if value is None else str(value)
    for match in find_builtin_entities(stripped, (type_name,)):
        if match.start == 0 and match.end == len(stripped):
            return match.value
    return None
