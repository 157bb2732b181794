"""Tests for Korean particle selection (voicehook.dialog.particles).

The CASES table is also printed in docs/prompts.md. Regenerate it with:

    .venv/bin/python tests/dialog/test_particles.py
"""

from __future__ import annotations

import doctest
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voicehook.dialog import particles
from voicehook.dialog.particles import (
    SUPPORTED_PAIRS,
    ParticleError,
    attach,
    choose,
    final_consonant,
    has_final_consonant,
    has_rieul_final,
    parse_particle,
)

# (word, pair as written in the template, expected particle form)
CASES: list[tuple[str, str, str]] = [
    # Hangul, with and without a final consonant, all seven pairs.
    ("서울", "은/는", "은"),
    ("부산", "은/는", "은"),
    ("대구", "은/는", "는"),
    ("대구", "는/은", "는"),
    ("날씨", "은", "는"),
    ("사과", "이/가", "가"),
    ("책", "이/가", "이"),
    ("물", "가", "이"),
    ("커피", "을/를", "를"),
    ("밥", "를", "을"),
    ("빵", "과/와", "과"),
    ("우유", "와", "와"),
    ("학생", "에요/이에요", "이에요"),
    ("의사", "에요/이에요", "에요"),
    ("의사", "예요/이에요", "예요"),
    ("학생", "이에요/예요", "이에요"),
    ("친구", "이에요", "에요"),
    ("민수", "야/이야", "야"),
    ("민준", "이야", "이야"),
    ("철수", "야", "야"),
    # 로/으로 and the ㄹ rule (서울로, not 서울으로).
    ("서울", "로/으로", "로"),
    ("서울", "으로", "로"),
    ("집", "로/으로", "으로"),
    ("학교", "로", "로"),
    ("부엌", "으로/로", "으로"),
    ("연필", "로", "로"),
    ("서울", "을/를", "을"),
    # Sino-Korean digits.
    ("1", "은/는", "은"),
    ("1", "로/으로", "로"),
    ("2", "은/는", "는"),
    ("3", "이/가", "이"),
    ("4", "이/가", "가"),
    ("6", "을/를", "을"),
    ("7", "로/으로", "로"),
    ("9", "과/와", "와"),
    ("0", "이/가", "이"),
    ("10", "은/는", "은"),
    ("20", "이/가", "이"),
    ("25", "이/가", "가"),
    ("100", "로/으로", "으로"),
    ("1000", "은/는", "은"),
    ("2000", "이/가", "이"),
    ("10000", "을/를", "을"),
    ("100000", "이/가", "이"),
    ("10,000", "이/가", "이"),
    ("105", "이/가", "가"),
    ("3.5", "이/가", "가"),
    ("2.0", "이/가", "이"),
    ("3.14", "이에요", "에요"),
    # A number fused with a unit: the Korean unit word.
    ("10g", "이/가", "이"),
    ("10 g", "이/가", "이"),
    ("1 m", "이/가", "가"),
    ("5 km", "로/으로", "로"),
    ("3kg", "이에요", "이에요"),
    ("30%", "은/는", "는"),
    ("25℃", "이/가", "가"),
    ("25°C", "예요/이에요", "예요"),
    ("500ml", "을/를", "를"),
    # Latin letters, acronyms and words.
    ("A", "은/는", "는"),
    ("L", "은/는", "은"),
    ("L", "로/으로", "로"),
    ("M", "이/가", "이"),
    ("N", "과/와", "과"),
    ("R", "로", "로"),
    ("KBS", "을/를", "를"),
    ("SKT", "이/가", "가"),
    ("LG", "과/와", "와"),
    ("BTS", "은/는", "는"),
    ("IBM", "이/가", "이"),
    ("iOS", "이/가", "가"),
    ("Google", "은/는", "은"),
    ("Google", "로/으로", "로"),
    ("iPhone", "이/가", "이"),
    ("YouTube", "을/를", "를"),
    ("Instagram", "이/가", "이"),
    ("Facebook", "이/가", "이"),
    ("Netflix", "를", "를"),
    ("Melon", "이에요", "이에요"),
    ("app", "이/가", "이"),
    ("robot", "이/가", "이"),
    ("Apple Music", "을/를", "을"),
    ("tv", "은/는", "는"),
    # Brackets and special characters are skipped.
    ("서울!", "은/는", "은"),
    ("(주)", "은/는", "는"),
    ("삼성(주)", "이/가", "가"),
    ("\u201c학교\u201d", "을/를", "를"),
    ("부산...", "이/가", "이"),
    ("C++", "이/가", "가"),
    # SKML speech-option tags are ignored; <sub> is judged by its alias.
    ('<say as="unit">서울</say>', "은/는", "은"),
    ("학교<break/>", "은/는", "는"),
    ('<sub alias="구글">GOOGLE</sub>', "이/가", "이"),
    ('<say as="digit">10</say>', "이/가", "이"),
    # Unconvertible: the first member as written.
    ("😀", "은/는", "은"),
    ("😀", "는/은", "는"),
    ("東京", "이/가", "이"),
    ("", "로/으로", "로"),
    ("ㅋㅋ", "을/를", "을"),
    ("!!!", "와/과", "와"),
]


@pytest.mark.parametrize(("word", "pair", "expected"), CASES)
def test_choose_table(word: str, pair: str, expected: str) -> None:
    assert choose(word, pair) == expected
    assert attach(word, pair) == word + expected


def test_table_is_big_and_covers_all_pairs() -> None:
    assert len(CASES) >= 60
    written = {pair for _, pair, _ in CASES}
    for final, no_final in SUPPORTED_PAIRS:
        assert f"{no_final}/{final}" in written or f"{final}/{no_final}" in written


@pytest.mark.parametrize(
    ("word", "jong"),
    [
        ("서울", "ㄹ"),
        ("부산", "ㄴ"),
        ("학교", ""),
        ("닭", "ㄺ"),
        ("10", "ㅂ"),
        ("100", "ㄱ"),
        ("1000", "ㄴ"),
        ("10000", "ㄴ"),
        ("100000000", "ㄱ"),
        ("1000000000000", ""),
        ("10000000000000000", "ㅇ"),
        ("0", "ㅇ"),
        ("007", "ㄹ"),
        ("10g", "ㅁ"),
        ("IBM", "ㅁ"),
        ("Samsung", "ㅇ"),
        ("game", "ㅁ"),
        ("music", "ㄱ"),
        ("chat", "ㅅ"),
        ("shop", "ㅂ"),
        ("server", ""),
        ("😀", None),
        ("", None),
        ("   ", None),
        ("1" + "0" * 24, None),
    ],
)
def test_final_consonant(word: str, jong: str | None) -> None:
    assert final_consonant(word) == jong


def test_boolean_helpers() -> None:
    assert has_final_consonant("서울") is True
    assert has_final_consonant("학교") is False
    assert has_final_consonant("😀") is None
    assert has_rieul_final("서울") is True
    assert has_rieul_final("7") is True
    assert has_rieul_final("부산") is False
    assert has_rieul_final("학교") is False
    assert has_rieul_final("") is None


def test_fullwidth_and_compatibility_forms() -> None:
    assert final_consonant("１０") == "ㅂ"
    assert final_consonant("５㎞") == ""  # 킬로미터
    assert final_consonant("ＫＢＳ") == ""


@pytest.mark.parametrize("text", ["은/는/이", "은는", "에게", "", " 은", "은/가", "로/으로 "])
def test_unknown_particle(text: str) -> None:
    with pytest.raises(ParticleError, match="unknown particle"):
        parse_particle(text)
    with pytest.raises(ParticleError):
        attach("서울", text)


def test_single_member_uses_written_form_when_unjudgeable() -> None:
    assert parse_particle("이에요").written == "이에요"
    assert parse_particle("예요/이에요").no_final == "예요"
    assert parse_particle("에요/이에요").no_final == "에요"
    assert parse_particle("으로").rieul_as_vowel
    assert not parse_particle("은").rieul_as_vowel


def test_docstring_examples() -> None:
    result = doctest.testmod(particles)
    assert result.attempted >= 5
    assert result.failed == 0


_HANGUL = st.integers(0xAC00, 0xD7A3).map(chr)


@given(st.text(_HANGUL, min_size=1, max_size=5))
def test_hangul_words_follow_the_last_syllable(word: str) -> None:
    has = (ord(word[-1]) - 0xAC00) % 28 != 0
    assert has_final_consonant(word) is has
    assert choose(word, "은/는") == ("은" if has else "는")


@given(st.integers(min_value=0, max_value=10**19))
def test_every_integer_is_judged(n: int) -> None:
    assert has_final_consonant(str(n)) is not None
    assert has_final_consonant(f"{n:,}") == has_final_consonant(str(n))


@given(st.text(max_size=30))
def test_never_raises_on_any_text(word: str) -> None:
    jong = final_consonant(word)
    assert jong is None or jong == "" or len(jong) == 1
    assert choose(word, "로/으로") in ("로", "으로")


def _cell(word: str) -> str:
    return f"`{word}`" if word.strip() else "*(empty)*"


def markdown_table() -> str:
    """The CASES table as Markdown, as printed in docs/prompts.md."""
    lines = ["| word | particle | output |", "|---|---|---|"]
    lines += [f"| {_cell(w)} | {p} | {attach(w, p)} |" for w, p, _ in CASES]
    return "\n".join(lines)


def test_docs_table_is_current() -> None:
    doc = (Path(__file__).parents[2] / "docs" / "prompts.md").read_text(encoding="utf-8")
    start, end = "<!-- particle-cases:start -->\n", "\n<!-- particle-cases:end -->"
    assert start in doc and end in doc, "docs/prompts.md lost its particle-cases markers"
    table = doc.split(start, 1)[1].split(end, 1)[0]
    assert table == markdown_table(), "run: .venv/bin/python tests/dialog/test_particles.py"


if __name__ == "__main__":
    print(markdown_table())
