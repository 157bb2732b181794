"""Particle edges that mutation testing found unpinned (docs/mutation-report.md).

Each test names the mutants of ``dialog/particles.py`` it kills. English words follow the
loanword rules (외래어 표기법): a final t/k is a 받침 only after one short vowel
(chat 챗 → 챗을, but boat 보트 → 보트를).
"""

from __future__ import annotations

import pytest

from voicehook.dialog import particles
from voicehook.dialog.particles import Particle, choose, final_consonant


@pytest.mark.parametrize(
    ("word", "jong"),
    [
        # t after a long vowel (two vowel letters) or after a consonant: no 받침.
        ("boat", ""),  # 보트
        ("meet", ""),  # 미트
        ("night", ""),  # 나이트: kills `short_vowel = before in "aeiou" or (...)`
        ("at", "ㅅ"),  # 앳: a two-letter word has no word[-3]
        ("chat", "ㅅ"),  # 챗
        # k after ck / ook is a 받침 even without a short vowel before it.
        ("slack", "ㄱ"),  # 슬랙: kills the ("ck" → "XXckXX" / "CK") mutants
        ("facebook", "ㄱ"),  # 페이스북
        ("speak", ""),  # 스피크
        # silent e and mb after m/n; l and le.
        ("game", "ㅁ"),  # 게임: kills the "암" → "XX암XX" mutant of the me/mb branch
        ("climb", "ㅁ"),  # 클라임: kills the ("mb" → "XXmbXX" / "MB") mutants
        ("zoom", "ㅁ"),  # 줌: the plain m branch
        ("phone", "ㄴ"),  # 폰: the ne branch
        ("lemon", "ㄴ"),  # 레몬: the plain n branch
        ("email", "ㄹ"),  # 이메일: kills `last == "l"` → "XXlXX" / "L", and "XX알XX"
        ("pool", "ㄹ"),  # 풀
        ("apple", "ㄹ"),  # 애플
        # All consonants: spelled letter by letter, so the last letter's name counts.
        ("dr", "ㄹ"),  # 디알: kills `_VOWELS & set(lower)` → `_VOWELS | set(lower)`
        ("tv", ""),  # 티브이
    ],
)
def test_english_word_endings(word: str, jong: str) -> None:
    assert final_consonant(word) == jong


def test_a_t_after_a_long_vowel_takes_the_vowel_form() -> None:
    assert choose("boat", "을/를") == "를"
    assert choose("chat", "을/를") == "을"
    assert choose("meet", "이/가") == "가"


@pytest.mark.parametrize(
    ("word", "jong"),
    [
        ('<sub alias="서울">SEL</sub>', "ㄹ"),
        ("<sub alias='부산'>PUS</sub>", "ㄴ"),  # the single-quoted form (the regex's group 2)
        ("<sub alias='대구'>TAE</sub>", ""),
        ("<sub alias=''>X</sub>", None),
        ('<say-as interpret-as="x">학교</say-as>', ""),
    ],
)
def test_sub_alias_in_either_quote_is_what_is_spoken(word: str, jong: str | None) -> None:
    """Kills the ``_strip_markup`` mutants that pick the wrong alias group or drop it."""
    assert final_consonant(word) == jong


def test_the_spelling_table_itself() -> None:
    """``_PARTICLES`` is built once at import, so a test that only calls ``choose`` never
    sees a mutant of ``_spellings`` (mutmut switches mutants after import). This calls it.
    Kills every ``_spellings`` mutant (wrong members, rieul flag, missing single members)."""
    table = particles._spellings()
    eun = Particle("은", "는", "은")
    assert table["은/는"] == eun
    assert table["는/은"] == Particle("은", "는", "는")
    assert table["은"] == eun
    assert table["는"] == Particle("은", "는", "는")
    assert table["으로/로"] == Particle("으로", "로", "으로", True)
    assert table["로"] == Particle("으로", "로", "로", True)
    assert table["이/가"].rieul_as_vowel is False
    # A member of two pairs: the first pair that owns it wins.
    assert table["이에요"] == Particle("이에요", "에요", "이에요")
    assert table["예요"] == Particle("이에요", "예요", "예요")
    expected = set()
    for final, no_final in particles.SUPPORTED_PAIRS:
        expected |= {f"{final}/{no_final}", f"{no_final}/{final}", final, no_final}
    assert set(table) == expected
    assert all(isinstance(p, Particle) for p in table.values())
