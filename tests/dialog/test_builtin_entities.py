"""Tests for the built-in entity recognisers (voicehook.dialog.builtin_entities)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.dialog.builtin_entities import (
    BID_DT_DAY,
    BID_DT_MDAY,
    BID_DT_WDAY,
    BID_DT_YMONTH,
    BID_QT,
    SUPPORTED_BUILTIN_TYPES,
    BuiltinMatch,
    find_builtin_entities,
    normalize_builtin,
    parse_korean_number,
)

ALL = SUPPORTED_BUILTIN_TYPES


def found(text: str, type_name: str) -> list[tuple[str, str]]:
    return [(m.text, m.value) for m in find_builtin_entities(text, (type_name,))]


# ----------------------------------------------------------------------------- numbers

_DIGITS = ["", "일", "이", "삼", "사", "오", "육", "칠", "팔", "구"]


def sino_spelling(n: int, *, spaced: bool = False, explicit_one: bool = False) -> str:
    """Spell 0..9999 in Sino-Korean, written independently of the parser under test."""
    if n == 0:
        return "영"
    groups: list[str] = []
    for unit_value, unit in ((1000, "천"), (100, "백"), (10, "십")):
        digit = n // unit_value % 10
        if digit:
            coefficient = (
                "일" if digit == 1 and explicit_one else ("" if digit == 1 else _DIGITS[digit])
            )
            groups.append(coefficient + unit)
    if n % 10:
        groups.append(_DIGITS[n % 10])
    return (" " if spaced else "").join(groups)


@given(st.integers(min_value=0, max_value=9999), st.booleans(), st.booleans())
def test_sino_korean_round_trip(n: int, spaced: bool, explicit_one: bool) -> None:
    spelled = sino_spelling(n, spaced=spaced, explicit_one=explicit_one)
    assert parse_korean_number(spelled) == n


@given(st.integers(min_value=0, max_value=9999))
def test_sino_korean_quantity_recognised_in_a_sentence(n: int) -> None:
    text = f"{sino_spelling(n)} 더하기 일"
    matches = find_builtin_entities(text, (BID_QT,))
    assert [m.value for m in matches] == [str(n), "1"]


_NATIVE_TENS = ["", "열", "스물", "서른", "마흔", "쉰", "예순", "일흔", "여든", "아흔"]
_NATIVE_UNITS = ["", "하나", "둘", "셋", "넷", "다섯", "여섯", "일곱", "여덟", "아홉"]


@given(st.integers(min_value=1, max_value=99))
def test_native_korean_round_trip(n: int) -> None:
    assert parse_korean_number(_NATIVE_TENS[n // 10] + _NATIVE_UNITS[n % 10]) == n


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("이십삼", 23),
        ("스물셋", 23),
        ("백", 100),
        ("만", 10000),
        ("이만 오천", 25000),
        ("2만5천", 25000),
        ("1,000", 1000),
        ("열 둘", 12),
        ("열두", 12),
        ("스무", 20),
        ("구천구백구십구", 9999),
        ("백만", 1_000_000),
    ],
)
def test_parse_korean_number(text: str, value: int) -> None:
    assert parse_korean_number(text) == value


@pytest.mark.parametrize(
    "text", ["", "삼사", "십십", "영영", "사과", "세종", "백천", "1,00", "하나둘"]
)
def test_parse_korean_number_rejects(text: str) -> None:
    assert parse_korean_number(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3 더하기 4", [("3", "3"), ("4", "4")]),
        ("3더하기4", [("3", "3"), ("4", "4")]),
        ("5에 7을 곱하면?", [("5", "5"), ("7", "7")]),
        ("열 나누기 2는 얼마야", [("열", "10"), ("2", "2")]),
        ("스물셋 곱하기 백", [("스물셋", "23"), ("백", "100")]),
        ("이천 삼백 오십 빼기 일", [("이천 삼백 오십", "2350"), ("일", "1")]),
        ("열 두 개", [("열 두", "12")]),
        ("세 개 주세요", [("세", "3")]),
        ("한 번 더", [("한", "1")]),
        ("1,000 빼기 3.5", [("1,000", "1000"), ("3.5", "3.5")]),
        ("-2 더하기 5", [("-2", "-2"), ("5", "5")]),
        ("5-3", [("5", "5"), ("3", "3")]),
        ("2만 5천원", [("2만 5천", "25000")]),
        ("여덟 개요", [("여덟", "8")]),
        ("정답은 칠일", [("칠", "7")]),
        ("007", [("007", "7")]),
    ],
)
def test_quantities(text: str, expected: list[tuple[str, str]]) -> None:
    assert found(text, BID_QT) == expected


@pytest.mark.parametrize(
    "text",
    [
        "세종대왕",
        "사과 주세요",
        "네 알겠어요",
        "문 열어줘",
        "세상에",
        "이거 뭐야",
        "일요일",
        "오늘",
    ],
)
def test_words_that_are_not_quantities(text: str) -> None:
    assert found(text, BID_QT) == []


# ----------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("오늘", "TODAY"),
        ("내일", "TOMORROW"),
        ("모레", "A_TOMORROW"),
        ("내일모레", "A_TOMORROW"),
        ("글피", "AA_TOMORROW"),
        ("그글피", "AAA_TOMORROW"),
        ("어제", "YESTERDAY"),
        ("그저께", "B_YESTERDAY"),
        ("그제", "B_YESTERDAY"),
        ("그끄저께", "BB_YESTERDAY"),
    ],
)
def test_days(text: str, value: str) -> None:
    assert found(f"{text} 날씨 어때", BID_DT_DAY) == [(text, value)]
    assert found(f"{text}은 무슨 요일이야", BID_DT_DAY) == [(text, value)]


def test_day_inside_other_word_is_not_a_day() -> None:
    assert found("그내일", BID_DT_DAY) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("2월", "2"), ("12월", "12"), ("이월", "2"), ("십이월", "12"), ("유월", "6"), ("시월", "10")],
)
def test_months(text: str, value: str) -> None:
    assert found(f"{text}에 여행 가", BID_DT_YMONTH) == [(text, value)]


@pytest.mark.parametrize("text", ["월요일", "13월", "매월", "세월"])
def test_not_months(text: str) -> None:
    assert found(text, BID_DT_YMONTH) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("28일", "28"),
        ("1일", "1"),
        ("31일", "31"),
        ("삼십일일", "31"),
        ("이십일", "20"),
        ("일일", "1"),
    ],
)
def test_month_days(text: str, value: str) -> None:
    assert (text, value) in found(f"2월 {text}은", BID_DT_MDAY)
    # The longest candidate is the right one.
    best = max(
        find_builtin_entities(f"2월 {text}은", (BID_DT_MDAY,)), key=lambda m: m.end - m.start
    )
    assert (best.text, best.value) == (text, value)


@pytest.mark.parametrize("text", ["일요일", "일", "32일", "무슨 일이야", "금요일"])
def test_not_month_days(text: str) -> None:
    assert found(text, BID_DT_MDAY) == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("월요일", "MON"),
        ("화요일", "TUE"),
        ("수요일", "WED"),
        ("목요일", "THU"),
        ("금요일", "FRI"),
        ("토요일", "SAT"),
        ("일요일", "SUN"),
        ("금욜", "FRI"),
        ("다음주 금요일", "FRI.W.1"),
        ("다음 주 금요일", "FRI.W.1"),
        ("지난주 일요일", "SUN.W.-1"),
        ("다다음 주 월요일", "MON.W.2"),
        ("이번 주 토요일", "SAT"),
    ],
)
def test_weekdays(text: str, value: str) -> None:
    assert found(f"{text}에 만나", BID_DT_WDAY) == [(text, value)]


def test_date_and_quantity_candidates_overlap() -> None:
    matches = find_builtin_entities("2월 28일 금요일", ALL)
    by_type = {(m.type, m.text, m.value) for m in matches}
    assert (BID_DT_YMONTH, "2월", "2") in by_type
    assert (BID_DT_MDAY, "28일", "28") in by_type
    assert (BID_DT_WDAY, "금요일", "FRI") in by_type
    # "2" and "28" are also quantity candidates; the NLU keeps the longer date spans.
    assert all(m.type != BID_QT or m.text in ("2", "28") for m in matches)


def test_only_requested_types() -> None:
    assert find_builtin_entities("내일 3개", (BID_DT_DAY,)) == [
        BuiltinMatch(BID_DT_DAY, "내일", "TOMORROW", 0, 2)
    ]
    assert find_builtin_entities("내일 3개", ("BID_UNKNOWN",)) == []


# ----------------------------------------------------------------------------- normalise


@pytest.mark.parametrize(
    ("type_name", "text", "value"),
    [
        (BID_DT_DAY, "내일", "TOMORROW"),
        (BID_DT_DAY, "TOMORROW", "TOMORROW"),
        (BID_DT_WDAY, "금요일", "FRI"),
        (BID_DT_WDAY, "FRI.W.1", "FRI.W.1"),
        (BID_DT_YMONTH, "십이월", "12"),
        (BID_DT_YMONTH, "12", "12"),
        (BID_DT_MDAY, "삼십일일", "31"),
        (BID_QT, "스물셋", "23"),
        (BID_QT, "1,000", "1000"),
        (BID_QT, "3.5", "3.5"),
    ],
)
def test_normalize_builtin(type_name: str, text: str, value: str) -> None:
    assert normalize_builtin(type_name, text) == value


@pytest.mark.parametrize(
    ("type_name", "text"),
    [(BID_DT_DAY, "서울"), (BID_QT, "사과"), (BID_DT_WDAY, "FRIDAY"), ("BID_OTHER", "x")],
)
def test_normalize_builtin_rejects(type_name: str, text: str) -> None:
    assert normalize_builtin(type_name, text) is None


# ----------------------------------------------------------------------------- robustness


@settings(max_examples=300)
@given(st.text(max_size=40))
def test_find_never_raises_and_spans_are_consistent(text: str) -> None:
    for m in find_builtin_entities(text, ALL):
        assert text[m.start : m.end] == m.text
        assert m.type in ALL


_KOREANISH = st.text(
    alphabet=st.sampled_from(list("일이삼사오십백천만열스물셋두세개월요일금내모레 0123456789,.-")),
    max_size=30,
)


@settings(max_examples=300)
@given(_KOREANISH)
def test_number_like_text_never_raises(text: str) -> None:
    for m in find_builtin_entities(text, ALL):
        assert text[m.start : m.end] == m.text
        if m.type == BID_QT:
            float(m.value)  # always a plain decimal number
    parse_korean_number(text)


# --------------------------------------------------------------------------- typed chat dates

_DATE_TYPES = ("BID_DT_DAY", "BID_DT_YMONTH", "BID_DT_MDAY", "BID_DT_WDAY")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("7/4 무슨 요일이야", [("BID_DT_YMONTH", "7", "7"), ("BID_DT_MDAY", "4", "4")]),
        ("12/25", [("BID_DT_YMONTH", "12", "12"), ("BID_DT_MDAY", "25", "25")]),
        ("13/45 무슨 요일", []),
        ("1/2/3", []),
        ("4일 뒤 부산", [("BID_DT_DAY", "4일 뒤", "AAA_TOMORROW"), ("BID_DT_MDAY", "4일", "4")]),
        ("이틀 후", [("BID_DT_DAY", "이틀 후", "A_TOMORROW")]),
        ("하루 뒤에", [("BID_DT_DAY", "하루 뒤", "TOMORROW")]),
        ("3일 전", [("BID_DT_DAY", "3일 전", "BB_YESTERDAY"), ("BID_DT_MDAY", "3일", "3")]),
        ("9일 뒤", [("BID_DT_MDAY", "9일", "9")]),  # no BID_DT_DAY value that far
    ],
)
def test_typed_dates(text: str, want: list[tuple[str, str, str]]) -> None:
    got = [(m.type, m.text, m.value) for m in find_builtin_entities(text, _DATE_TYPES)]
    assert got == want


def test_slash_dates_need_both_month_and_day_types() -> None:
    assert find_builtin_entities("7/4", ("BID_DT_MDAY",)) == []
    assert [m.value for m in find_builtin_entities("7/4", ("BID_QT",))] == ["7", "4"]
