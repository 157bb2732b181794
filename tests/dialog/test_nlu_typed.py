"""Typed chat (issue 11): glued words, typos, symbols, English, commands in longer messages,
uncertain results, and the helpers of voicehook.dialog.typed."""

from __future__ import annotations

import contextlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.dialog.nlu import (
    AUDIO_PLAYER_INTENTS,
    DEFAULT_BUILTIN_INTENTS,
    EntityTypeSpec,
    IntentSpec,
    KiwiTokenizer,
    Nlu,
    SimpleTokenizer,
    Tokenizer,
    _word_forms,
)
from voicehook.dialog.recognizer import build_recognizer
from voicehook.dialog.typed import (
    TypoCorrector,
    decompose,
    mask_noise,
    pronounce,
    romanize,
    translate,
)
from voicehook.play import load_definition

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SIMPLE = SimpleTokenizer()


def _tokenizers() -> list[Tokenizer]:
    out: list[Tokenizer] = [SIMPLE]
    with contextlib.suppress(ImportError):  # kiwi is in the dev extras
        out.append(KiwiTokenizer())
    return out


TOKENIZERS = _tokenizers()


def play_nlu(name: str, tokenizer: Tokenizer = SIMPLE) -> Nlu:
    defn = load_definition(EXAMPLES / name / "play.yaml")
    audio = name == "music"
    return build_recognizer(defn, audio_player=audio, tokenizer=tokenizer)


@pytest.fixture(scope="module", params=TOKENIZERS, ids=lambda t: type(t).__name__)
def plays(request: pytest.FixtureRequest) -> dict[str, Nlu]:
    return {p: play_nlu(p, request.param) for p in ("weather", "calc", "quiz", "music")}


def entities(nlu: Nlu, text: str) -> dict[str, str]:
    return {(e.role if e.role != e.type else e.type): e.value for e in nlu.parse(text).entities}


# --------------------------------------------------------------------------- typed.py


def test_decompose_splits_syllables_into_jamo() -> None:
    assert decompose("서울") == "\u1109\u1165\u110b\u116e\u11af"
    assert decompose("a1") == "a1"


@pytest.mark.parametrize(
    ("hangul", "latin"),
    [
        ("서울", "seoul"),
        ("부산", "busan"),
        ("강릉", "gangneung"),
        ("제주", "jeju"),
        ("광주", "gwangju"),
        ("대전", "daejeon"),
        ("명동", "myeongdong"),
        ("음악", "eumak"),
        ("신라", "silla"),
    ],
)
def test_romanize_revised_romanization(hangul: str, latin: str) -> None:
    assert romanize(hangul) == latin


def test_mask_noise_removes_laughter_emoticons_and_emoji() -> None:
    assert mask_noise("음악 그만 ㅠㅠ").rstrip() == "음악 그만"
    assert mask_noise("좋아 ^^ 😀 ♡ ~~ :)").split() == ["좋아"]
    assert mask_noise("3:1") == "3:1"  # not an emoticon


def test_translate_reads_english_words_and_keeps_the_length() -> None:
    text, fixes = translate("6 plus 7")
    assert text == "6 더하기  7"
    assert [(f.typed, f.corrected, f.kind) for f in fixes] == [("plus", "더하기", "alias")]
    assert translate("서울 날씨") == ("서울 날씨", [])


@pytest.mark.parametrize(
    ("word", "heard"),
    [
        ("틀어줘", "트러줘"),
        ("많이", "마니"),
        ("없어", "업서"),
        ("좋아", "조아"),
        ("맛있어", "마시써"),
        ("싫어", "시러"),
        ("서울", "서울"),
        ("날씨", "날씨"),
    ],
)
def test_pronounce_applies_liaison(word: str, heard: str) -> None:
    assert pronounce(word) == heard


def test_typo_corrector_reads_a_spelling_as_heard() -> None:
    fixer = TypoCorrector(["틀어줘", "알려줘"], endings=["요"])
    fixed, (fix,) = fixer.correct("음악 트러줘요")
    assert fixed == "음악 틀어줘요"
    assert (fix.typed, fix.corrected, fix.distance) == ("트러줘", "틀어줘", 1)
    assert fixer.correct("트럭")[1] == []


def test_typo_corrector_fixes_one_jamo_and_protects_spans() -> None:
    corrector = TypoCorrector(["서울", "날씨", "모레", "더하기"])
    text, fixes = corrector.correct("서을 날시 모래 더허기")
    assert text == "서울 날씨 모레 더하기"
    assert [f.typed for f in fixes] == ["서을", "날시", "모래", "더허기"]
    assert all(0.5 <= f.confidence < 1 for f in fixes)
    assert corrector.correct("서을", protected=[(0, 2)]) == ("서을", [])


def test_typo_corrector_leaves_one_syllable_and_far_words_alone() -> None:
    corrector = TypoCorrector(["서울", "해"])
    assert corrector.correct("개 부산 서울시")[1] == []  # 서울시 has a known prefix


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="서울을날씨시모레래 ㅋㅠ^~+x7/abc😀", max_size=30))
def test_typed_helpers_keep_the_length(text: str) -> None:
    corrector = TypoCorrector(["서울", "날씨", "모레"])
    assert len(mask_noise(text)) == len(text)
    assert len(translate(text)[0]) == len(text)
    assert len(corrector.correct(text)[0]) == len(text)


# --------------------------------------------------------------------------- the issue's cases

BUSAN = {"LOCATION": "부산"}


@pytest.mark.parametrize(
    ("play", "text", "intent", "want"),
    [
        (
            "weather",
            "내일부산날씨알려줘",
            "ask.weather",
            {"BID_DT_DAY": "TOMORROW", "LOCATION": "부산"},
        ),
        ("calc", "오더하기칠", "ask.calc", {"first": "5", "OPERATOR": "더하기", "second": "7"}),
        ("quiz", "정답은세종대왕", "quiz.answer", {"ANSWER": "세종대왕"}),
        ("calc", "25+17", "ask.calc", {"first": "25", "OPERATOR": "더하기", "second": "17"}),
        ("calc", "12*3은?", "ask.calc", {"first": "12", "OPERATOR": "곱하기", "second": "3"}),
        ("calc", "10/2", "ask.calc", {"first": "10", "OPERATOR": "나누기", "second": "2"}),
        ("calc", "6 plus 7", "ask.calc", {"first": "6", "OPERATOR": "더하기", "second": "7"}),
        ("calc", "7 × 8", "ask.calc", {"first": "7", "OPERATOR": "곱하기", "second": "8"}),
        ("weather", "Seoul 날씨 알려줘", "ask.weather", {"LOCATION": "서울"}),
        ("weather", "7/4 무슨 요일이야", "ask.weekday", {"BID_DT_YMONTH": "7", "BID_DT_MDAY": "4"}),
        ("weather", "7월4일 무슨 요일", "ask.weekday", {"BID_DT_YMONTH": "7", "BID_DT_MDAY": "4"}),
        (
            "weather",
            "4일 뒤 부산 날씨",
            "ask.weather",
            {"BID_DT_DAY": "AAA_TOMORROW", "LOCATION": "부산"},
        ),
        ("weather", "금욜 서울 날씨", "ask.weather", {"BID_DT_WDAY": "FRI", "LOCATION": "서울"}),
        ("music", "classic 틀어줘", "play.music", {"PLAYLIST": "클래식"}),
        ("music", "skip", "NUGU.INTENT.next", {}),
        ("quiz", "quiz 하자", "quiz.start", {}),
        ("music", "음악 그만 ㅠㅠ", "NUGU.INTENT.stop", {}),
        ("music", "잠시 멈춰 주시겠어요", "NUGU.INTENT.pause", {}),
        ("music", "다음꺼", "NUGU.INTENT.next", {}),
        ("weather", "서울 날씨 어떰?", "ask.weather", {"LOCATION": "서울"}),
    ],
)
def test_issue_cases(
    plays: dict[str, Nlu], play: str, text: str, intent: str, want: dict[str, str]
) -> None:
    result = plays[play].parse(text)
    assert result.intent == intent
    assert entities(plays[play], text) == want
    assert not result.uncertain


@pytest.mark.parametrize(
    ("play", "text", "intent", "typed", "value"),
    [
        ("weather", "모래 대구 날씨", "ask.weather", "모래", "A_TOMORROW"),
        ("weather", "서을 날씨 알려줘", "ask.weather", "서을", "서울"),
        ("calc", "3 더허기 4", "ask.calc", "더허기", "더하기"),
        ("music", "클레식 틀어줘", "play.music", "클레식", "클래식"),
        ("quiz", "정답은 한나산", "quiz.answer", "한나산", "한라산"),
    ],
)
def test_typos_are_corrected_with_lower_confidence(
    plays: dict[str, Nlu], play: str, text: str, intent: str, typed: str, value: str
) -> None:
    result = plays[play].parse(text)
    assert result.intent == intent
    fixed = [e for e in result.entities if e.source == "fuzzy"]
    assert [(e.text, e.value) for e in fixed] == [(typed, value)]
    assert 0.5 <= fixed[0].confidence < 1.0
    assert text[fixed[0].start : fixed[0].end] == typed
    assert result.uncertain


def test_typo_in_an_intent_word_is_read_but_not_an_entity(plays: dict[str, Nlu]) -> None:
    result = plays["quiz"].parse("뮨제 내줘")
    assert result.intent == "quiz.start"
    assert [(c.typed, c.corrected) for c in result.corrections] == [("뮨제", "문제")]
    assert not result.uncertain


def test_first_word_of_a_playlist_is_partial(plays: dict[str, Nlu]) -> None:
    result = plays["music"].parse("신나는거 틀어줘")
    assert result.intent == "play.music"
    (e,) = result.entities
    assert (e.value, e.source, e.corrected) == ("신나는 음악", "partial", True)


def test_a_date_not_understood_is_unresolved(plays: dict[str, Nlu]) -> None:
    result = plays["weather"].parse("13/45 무슨 요일이야")
    assert result.intent == "ask.weekday"
    assert result.entities == []
    assert result.unresolved == ["13/45"]
    assert result.uncertain


def test_glued_word_inside_another_word_is_not_an_entity(plays: dict[str, Nlu]) -> None:
    assert [e.value for e in plays["weather"].parse("경광주의보 알려줘").entities] == []
    assert [e.value for e in plays["quiz"].parse("서울이야").entities] == ["서울"]


@pytest.mark.parametrize(
    ("play", "text", "intent"),
    [
        ("quiz", "다음 문제", "quiz.start"),  # a play example beats NUGU.INTENT.next
        ("music", "노래 들려줘", "play.music"),  # not NUGU.INTENT.play
        ("music", "아 진짜 이제 음악 그만", "NUGU.INTENT.stop"),
        ("music", "다음 곡으로 넘겨 주십시오", "NUGU.INTENT.next"),
        ("music", "음악을 그만 꺼 주세요", "NUGU.INTENT.stop"),
    ],
)
def test_builtin_commands_in_longer_messages(
    plays: dict[str, Nlu], play: str, text: str, intent: str
) -> None:
    assert plays[play].parse(text).intent == intent


@pytest.mark.parametrize(
    ("play", "text"),
    [
        ("weather", "ㅋㅋㅋㅋ"),
        ("weather", "오늘 저녁 뭐 먹지"),
        ("calc", "날씨 알려줘"),
        ("music", "오늘 날씨 어때"),
        ("quiz", "?????"),
    ],
)
def test_out_of_domain_gets_no_intent(plays: dict[str, Nlu], play: str, text: str) -> None:
    assert plays[play].parse(text).intent is None


@pytest.mark.parametrize(
    "text",
    ["-_-", "^^", "ㅋㅋㅋ", "ㅠㅠ", "...", "?!", "+_+", ":)", "x", "-", "+ - * /", "ㅡㅡ;", "÷×"],
)
@pytest.mark.parametrize("play", ["weather", "calc", "quiz", "music"])
def test_no_word_content_no_intent(plays: dict[str, Nlu], play: str, text: str) -> None:
    """Emoticons, laughter, punctuation and bare symbols are no evidence of an intent,
    although -, + and x are operator forms in calc."""
    result = plays[play].parse(text)
    assert (result.intent, result.entities) == (None, [])


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("3-5", ["3", "빼기", "5"]),
        ("2*3", ["2", "곱하기", "3"]),
        ("7/4", ["7", "나누기", "4"]),
        ("-3 더하기 5", ["-3", "더하기", "5"]),
        ("3 x 5", ["3", "곱하기", "5"]),
        ("12*3은? ㅋㅋ", ["12", "곱하기", "3"]),
    ],
)
def test_arithmetic_with_symbols_still_works(
    plays: dict[str, Nlu], text: str, values: list[str]
) -> None:
    result = plays["calc"].parse(text)
    assert result.intent == "ask.calc"
    assert [e.value for e in result.entities] == values


def test_a_symbol_is_still_an_expected_entity(plays: dict[str, Nlu]) -> None:
    """While the operator is asked for, "+" answers it (no intent, the entity)."""
    result = plays["calc"].parse("+", expect_types=["OPERATOR"])
    assert result.intent is None
    assert [(e.type, e.value) for e in result.entities] == [("OPERATOR", "더하기")]
    assert plays["calc"].parse("ㅋㅋ", expect_types=["OPERATOR"]).entities == []


_NO_WORDS = (
    "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~ "  # ASCII punctuation and space
    "…·ㆍ´｀¯°□︵┻━╯ლ益ಠ♡♥★☆♪×÷−＋－＊／"  # emoticon parts, symbols
    "ㅋㅎㅠㅜㅡㄱㄴㅇㅗ"  # laughter, crying, ㄱㄱ / ㄴㄴ / ㅇㅇ
    "😀😂👍🙏\u200d\ufe0f"
)
_ALL_PLAYS = {
    (p, type(t).__name__): play_nlu(p, t)
    for p in ("weather", "calc", "quiz", "music")
    for t in TOKENIZERS
}


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_NO_WORDS, min_size=1, max_size=20))
def test_text_without_words_never_gets_an_intent(text: str) -> None:
    """Property: a message of punctuation, emoticon characters, symbols and bare jamo
    never gets an intent, in any example play, with either tokenizer."""
    for (play, tok), nlu in _ALL_PLAYS.items():
        result = nlu.parse(text)
        assert result.intent is None, (play, tok, text, result)
        assert result.entities == [], (play, tok, text, result)


@pytest.mark.parametrize(
    ("word", "form"),
    [
        ("추워", "춥"),  # ㅂ-irregular
        ("더움", "덥"),  # informal nominal ㅁ, then ㅂ-irregular
        ("비옴", "비오"),
        ("내봐", "내"),  # an ending on a one-syllable stem
        ("개요", "개"),
        ("끄셈", "끄"),  # informal imperative
        ("와", "오"),  # contracted vowel
        ("알려", "알리"),
        ("추워", "춥다"),  # Kiwi's dictionary form
    ],
)
def test_word_forms_of_conjugated_words(word: str, form: str) -> None:
    assert form in _word_forms(word)


@pytest.mark.parametrize(
    ("play", "text", "intent"),
    [
        ("weather", "명동지금추워?", "ask.weather"),  # glued, conjugated
        ("weather", "제주도에비오니", "ask.weather"),  # glued particle and 1-syllable words
        ("weather", "광주 지금 더움?", "ask.weather"),
        ("weather", "낼 비옴?", "ask.weather"),
        ("quiz", "문제 더 내봐", "quiz.start"),
        ("quiz", "열 개요", "quiz.answer"),
        ("music", "음악 끄셈", "NUGU.INTENT.stop"),
        ("music", "신나는 음악 트러줘", "play.music"),  # typed as heard
    ],
)
def test_conjugated_and_glued_words_with_either_tokenizer(
    plays: dict[str, Nlu], play: str, text: str, intent: str
) -> None:
    assert plays[play].parse(text).intent == intent


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("백나누기사는얼마야", ["100", "나누기", "4"]),
        ("팔나누기이는얼마야", ["8", "나누기", "2"]),
        ("삼더하기오를해줘", ["3", "더하기", "5"]),
    ],
)
def test_a_number_glued_between_words_is_found(
    plays: dict[str, Nlu], text: str, values: list[str]
) -> None:
    result = plays["calc"].parse(text)
    assert [e.value for e in result.entities] == values
    assert result.unresolved == []


def test_a_score_lowered_by_a_correction_under_the_threshold_is_no_intent(
    plays: dict[str, Nlu],
) -> None:
    """도와줘 is one jamo from 도야 (of "몇 도야"): read so, it scores 0.35 in the weather
    play, under the threshold once the correction lowers it; no intent, not ask.weather."""
    result = plays["weather"].parse("도와줘")
    assert result.intent is None
    assert plays["weather"].parse("서을 날씨 알려줘").intent == "ask.weather"


def test_chat_spellings_of_everyday_words_are_not_corrected(plays: dict[str, Nlu]) -> None:
    result = plays["weather"].parse("인천 날씨 어케 됨?")
    assert result.intent == "ask.weather"
    assert [(e.type, e.value) for e in result.entities] == [("LOCATION", "인천")]
    assert result.corrections == []


def test_unknown_parts_keep_a_glued_word_unknown() -> None:
    """A word is split into known words only when every part is known (a lemma, a form
    of one, a particle): 비밀번호 has 비 but 밀번호 is unknown."""
    nlu = _WEATHER
    assert nlu._segment("에비오") == [(1, "비"), (2, "오니")]
    assert nlu._segment("비밀번호") is None
    assert nlu.parse("비밀번호 알려줘").intent is None


def test_typos_can_be_switched_off() -> None:
    nlu = Nlu(
        [IntentSpec("ask.weather", ["[서울](LOCATION) 날씨 알려줘"])],
        [EntityTypeSpec("LOCATION", {"서울": []})],
        tokenizer=SIMPLE,
        typos=False,
    )
    assert nlu.parse("서을 날씨 알려줘").entities == []
    assert nlu.parse("서을 날씨 알려줘").corrections == []


_WEATHER = play_nlu("weather")
_MUSIC = Nlu(
    [IntentSpec("play.music", ["[신나는 음악](PLAYLIST) 틀어줘"])],
    [EntityTypeSpec("PLAYLIST", {"신나는 음악": ["신나는 노래"], "클래식": []})],
    tokenizer=SIMPLE,
    builtin_intents=DEFAULT_BUILTIN_INTENTS | AUDIO_PLAYER_INTENTS,
    invocation="음악 상자",
)


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet="서울을날씨시모레래내일부산 ㅋㅠ^~+x7/4월일뒤abcSeoul😀!?음악상자신나는클래식",
        max_size=40,
    )
)
def test_parse_never_raises_and_offsets_index_the_typed_text(text: str) -> None:
    for nlu in (_WEATHER, _MUSIC):
        result = nlu.parse(text)
        for e in result.entities:
            assert text[e.start : e.end] == e.text
            assert 0.5 <= e.confidence <= 1.0
        for c in result.corrections:
            assert text[c.start : c.end] == c.typed


def test_invocation_offsets_still_index_the_utterance() -> None:
    text = "음악 상자에서 classic 틀어줘"
    result = _MUSIC.parse(text)
    (e,) = result.entities
    assert (text[e.start : e.end], e.value, e.source) == ("classic", "클래식", "alias")


# --------------------------------------------------------------------------- accuracy


def _typed_bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "nlu_typed.py"
    spec = importlib.util.spec_from_file_location("nlu_typed_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nlu_typed_bench", module)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("part", ["dev", "heldout", "heldout2"])
@pytest.mark.parametrize("tokenizer", TOKENIZERS, ids=lambda t: type(t).__name__)
def test_typed_chat_sets_meet_the_issue_targets(tokenizer: Tokenizer, part: str) -> None:
    """bench/typed_chat: ≥ 95% fully understood, no out-of-domain utterance given an intent,
    nothing answered wrongly without asking (docs/nlu.md has the tables). The held-out set
    was scored blind once (94.6%), heldout2 too (95.3%); since then both are regression
    guards like the dev set."""
    bench = _typed_bench()
    tallies = bench.evaluate(bench.load_items(part), tokenizer)
    total = bench.Tally()
    for t in tallies.values():
        total.add(t)
    assert total.n >= 100
    assert total.understood / total.n >= 0.95, total.failures
    assert total.ood_intent == 0, total.failures
    assert total.silently_wrong == 0, total.failures


def test_typo_corrector_keep_words_and_word_rests() -> None:
    corrector = TypoCorrector(["어제", "모레", "날씨"], keep=["이제"], endings=["에", "는"])
    assert corrector.correct("이제 그만")[1] == []  # known, and never a correction target
    assert corrector.correct("모래는")[0] == "모레는"
    assert corrector.correct("모래날씨")[0] == "모레날씨"
    assert corrector.correct("모래사장")[1] == []  # 사장 is neither an ending nor known


def test_a_near_miss_of_an_entity_is_unresolved(plays: dict[str, Nlu]) -> None:
    """머래 is two jamo from 모레: too far to correct, too close to ignore."""
    result = plays["weather"].parse("머래 대구 날씨")
    assert result.intent == "ask.weather"
    assert result.unresolved == ["머래"]
    assert [e.value for e in result.entities] == ["대구"]
    assert plays["weather"].parse("대구 날씨 어때").unresolved == []  # known words are not
