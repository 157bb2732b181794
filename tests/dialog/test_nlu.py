"""Tests for NLU-lite (voicehook.dialog.nlu) and its accuracy on the example plays."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from voicehook.dialog.nlu import (
    AUDIO_PLAYER_INTENTS,
    DEFAULT_BUILTIN_INTENTS,
    INTENT_NEXT,
    INTENT_OPEN,
    INTENT_PAUSE,
    INTENT_PLAY,
    INTENT_RESUME,
    INTENT_STOP,
    EntityTypeSpec,
    IntentSpec,
    KiwiTokenizer,
    Nlu,
    NluResult,
    SimpleTokenizer,
    Tokenizer,
    default_tokenizer,
    parse_example,
    specs_from_play_data,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def kiwi() -> Iterator[KiwiTokenizer]:
    """One Kiwi model for the whole module (loading takes about a second)."""
    pytest.importorskip("kiwipiepy")
    yield KiwiTokenizer()


@pytest.fixture(scope="module", params=["kiwi", "simple"])
def tokenizer(request: pytest.FixtureRequest) -> Tokenizer:
    if request.param == "kiwi":
        result: Tokenizer = request.getfixturevalue("kiwi")
        return result
    return SimpleTokenizer()


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nlu_accuracy", ROOT / "bench/nlu_accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("nlu_accuracy", module)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


def _play_nlu(bench: ModuleType, play: str, tokenizer: Tokenizer) -> Nlu:
    nlu, _ = bench.load_nlu(ROOT / "examples" / play, tokenizer)
    assert isinstance(nlu, Nlu)
    return nlu


@pytest.fixture(scope="module")
def weather(bench: ModuleType, tokenizer: Tokenizer) -> Nlu:
    return _play_nlu(bench, "weather", tokenizer)


@pytest.fixture(scope="module")
def calc(bench: ModuleType, tokenizer: Tokenizer) -> Nlu:
    return _play_nlu(bench, "calc", tokenizer)


@pytest.fixture(scope="module")
def music(bench: ModuleType, tokenizer: Tokenizer) -> Nlu:
    return _play_nlu(bench, "music", tokenizer)


@pytest.fixture(scope="module")
def quiz(bench: ModuleType, tokenizer: Tokenizer) -> Nlu:
    return _play_nlu(bench, "quiz", tokenizer)


def values(result: NluResult) -> dict[str, str]:
    return {e.role: e.value for e in result.entities}


# ----------------------------------------------------------------------------- markup


def test_parse_example_markup() -> None:
    plain, spans = parse_example("[3](BID_QT:first) 더하기 [4](BID_QT:second)는 [서울](LOC)")
    assert plain == "3 더하기 4는 서울"
    assert spans == [
        ("BID_QT", "first", 0, 1),
        ("BID_QT", "second", 6, 7),
        ("LOC", "LOC", 9, 11),
    ]
    assert parse_example("no [markup here") == ("no [markup here", [])


# ----------------------------------------------------------------------------- weather


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("서울 날씨 알려줘", {"LOCATION": "서울"}),
        ("서울의 날씨는 어때", {"LOCATION": "서울"}),
        ("내일 부산 날씨 좀 알려줄래", {"LOCATION": "부산", "BID_DT_DAY": "TOMORROW"}),
        ("부산광역시에서 모레 비 오니", {"LOCATION": "부산", "BID_DT_DAY": "A_TOMORROW"}),
    ],
)
def test_weather_particles_and_endings(weather: Nlu, text: str, expected: dict[str, str]) -> None:
    result = weather.parse(text)
    assert result.intent == "ask.weather"
    assert values(result) == expected
    for entity in result.entities:
        assert text[entity.start : entity.end] == entity.text


def test_synonym_gives_representative_value(weather: Nlu) -> None:
    result = weather.parse("제주특별자치도 날씨 어때")
    entity = result.entity("LOCATION")
    assert entity is not None
    assert (entity.text, entity.value) == ("제주특별자치도", "제주")


def test_date_words_are_dates_not_quantities(weather: Nlu) -> None:
    result = weather.parse("2월 28일 제주 날씨")
    assert result.intent == "ask.weather"
    assert [(e.type, e.value) for e in result.entities] == [
        ("BID_DT_YMONTH", "2"),
        ("BID_DT_MDAY", "28"),
        ("LOCATION", "제주"),
    ]


def test_weekday_intent(weather: Nlu) -> None:
    result = weather.parse("12월 25일은 무슨 요일이야")
    assert result.intent == "ask.weekday"
    assert values(result) == {"BID_DT_YMONTH": "12", "BID_DT_MDAY": "25"}


def test_entity_inside_unrelated_word_is_not_matched(weather: Nlu) -> None:
    # 광주 must not be found inside 경광주의보 (no word boundary before it).
    assert weather.parse("경광주의보").entities == []


def test_expect_types_entity_only_utterances(weather: Nlu) -> None:
    result = weather.parse("부산", expect_types=["LOCATION"])
    assert values(result) == {"LOCATION": "부산"}
    dates = weather.parse(
        "2월 28일 금요일", expect_types=["BID_DT_YMONTH", "BID_DT_MDAY", "BID_DT_WDAY"]
    )
    assert [(e.type, e.value) for e in dates.entities] == [
        ("BID_DT_YMONTH", "2"),
        ("BID_DT_MDAY", "28"),
        ("BID_DT_WDAY", "FRI"),
    ]


def test_expect_types_filters_other_entities(weather: Nlu) -> None:
    result = weather.parse("내일 부산", expect_types=["LOCATION:LOCATION"])
    assert [e.type for e in result.entities] == ["LOCATION"]
    assert [e.type for e in weather.parse("내일 부산").entities] == ["BID_DT_DAY", "LOCATION"]


def test_weekday_alone_and_bare_il(weather: Nlu) -> None:
    result = weather.parse("금요일", expect_types=["BID_DT_WDAY"])
    assert [(e.type, e.value) for e in result.entities] == [("BID_DT_WDAY", "FRI")]
    # A bare 일 is not a day of the month (it could be 1, 일 "work", or 일요일 cut short).
    assert weather.parse("일", expect_types=["BID_DT_MDAY"]).entities == []


def test_fallback_for_unrelated_utterances(weather: Nlu) -> None:
    result = weather.parse("노래 불러줘")
    assert result.intent is None
    assert result.score < 0.4
    assert weather.parse("").intent is None
    assert weather.parse("   ").entities == []


def test_invocation_is_stripped(weather: Nlu) -> None:
    text = "날씨 알리미에서 부산 날씨 알려줘"
    result = weather.parse(text)
    assert result.intent == "ask.weather"
    entity = result.entity("LOCATION")
    assert entity is not None and text[entity.start : entity.end] == "부산"
    assert weather.parse("날씨 알리미").intent == INTENT_OPEN
    assert weather.parse("날씨 알리미 열어줘").intent == INTENT_OPEN


# ----------------------------------------------------------------------------- calc (roles)


@pytest.mark.parametrize(
    ("text", "first", "second", "operator"),
    [
        ("3 더하기 4", "3", "4", "더하기"),
        ("5에 7을 곱하면?", "5", "7", "곱하기"),
        ("열 나누기 2는 얼마야", "10", "2", "나누기"),
        ("스물셋 마이너스 이십", "23", "20", "빼기"),
        ("이천 삼백 더하기 칠백", "2300", "700", "더하기"),
    ],
)
def test_calc_roles_by_order(calc: Nlu, text: str, first: str, second: str, operator: str) -> None:
    result = calc.parse(text)
    assert result.intent == "ask.calc"
    assert values(result) == {"first": first, "second": second, "OPERATOR": operator}


# ----------------------------------------------------------------------------- built-in intents


@pytest.mark.parametrize(
    "text",
    [
        "그만",
        "그만해",
        "종료해 줘",
        "종료",
        "정지",
        "중지해",
        "멈춰",
        "스탑",
        "끝",
        "끝내",
        "닫아 줘",
        "이제 그만할래",
    ],
)
def test_stop(weather: Nlu, text: str) -> None:
    assert weather.parse(text).intent == INTENT_STOP


@pytest.mark.parametrize("text", ["열어", "열어줘", "시작", "시작해 줘", "실행", "오픈", "스타트"])
def test_open(weather: Nlu, text: str) -> None:
    assert weather.parse(text).intent == INTENT_OPEN


def test_custom_intent_beats_builtin_open(quiz: Nlu) -> None:
    assert quiz.parse("퀴즈 시작").intent == "quiz.start"
    assert quiz.parse("시작").intent == INTENT_OPEN


def test_audio_player_intents_only_when_enabled(weather: Nlu, music: Nlu) -> None:
    assert weather.parse("다음 곡").intent != INTENT_NEXT
    assert music.parse("다음 곡").intent == INTENT_NEXT
    assert music.parse("일시정지").intent == INTENT_PAUSE
    assert music.parse("이어서 틀어줘").intent == INTENT_RESUME


def test_stop_versus_pause(music: Nlu) -> None:
    # Documented decision: bare 멈춰 is stop (spec §7.1); 잠깐/잠시 멈춰 and 일시정지 are pause.
    assert music.parse("멈춰").intent == INTENT_STOP
    assert music.parse("잠깐 멈춰 줘").intent == INTENT_PAUSE
    assert music.parse("일시 정지").intent == INTENT_PAUSE


def test_play_builtin_without_entities(music: Nlu) -> None:
    assert music.parse("틀어줘").intent == INTENT_PLAY
    assert music.parse("신나는 노래 틀어줘").intent == "play.music"
    assert music.parse("음악 틀어줘").intent == "play.music"


def test_unknown_builtin_intent_rejected(tokenizer: Tokenizer) -> None:
    with pytest.raises(ValueError, match="unknown built-in"):
        Nlu([], [], tokenizer=tokenizer, builtin_intents={"NUGU.INTENT.dance"})


def test_default_builtin_intents() -> None:
    # Spec §5.6: stop and rewind are universal (issue 9, item 10).
    assert {INTENT_STOP, INTENT_OPEN, "NUGU.INTENT.rewind"} == DEFAULT_BUILTIN_INTENTS
    assert INTENT_PAUSE in AUDIO_PLAYER_INTENTS


# ----------------------------------------------------------------------------- quiz


def test_quiz_answers(quiz: Nlu) -> None:
    result = quiz.parse("정답은 세종이야")
    assert result.intent == "quiz.answer"
    assert values(result) == {"ANSWER": "세종대왕"}
    result = quiz.parse("여덟 개")
    assert result.intent == "quiz.answer"
    assert values(result) == {"BID_QT": "8"}


# ----------------------------------------------------------------------------- structured input


def test_structured_input(calc: Nlu) -> None:
    text = "intent=ask.calc first=3 second='사' OPERATOR=곱해"
    result = calc.parse_structured(text)
    assert result.intent == "ask.calc"
    assert result.score == 1.0
    assert [(e.type, e.role, e.text, e.value) for e in result.entities] == [
        ("BID_QT", "first", "3", "3"),
        ("BID_QT", "second", "사", "4"),
        ("OPERATOR", "OPERATOR", "곱해", "곱하기"),
    ]
    for e in result.entities:
        assert text[e.start : e.end] == e.text
    assert calc.parse(text) == result  # parse() recognises the structured form


def test_structured_input_types_and_quotes(weather: Nlu) -> None:
    result = weather.parse_structured(
        'intent=ask.weather LOCATION="서울 특별시" BID_DT_DAY=내일 extra:role=x'
    )
    assert [(e.type, e.role, e.value) for e in result.entities] == [
        ("LOCATION", "LOCATION", "서울"),
        ("BID_DT_DAY", "BID_DT_DAY", "TOMORROW"),
        ("extra", "role", "x"),
    ]
    assert weather.parse_structured("LOCATION=부산").intent is None


@pytest.mark.parametrize(
    "text", ["intent=", "intent=a b", "intent=a =b", 'intent=a x="unterminated']
)
def test_structured_input_errors(weather: Nlu, text: str) -> None:
    with pytest.raises(ValueError):
        weather.parse_structured(text)
    weather.parse(text)  # parse() never raises


# ----------------------------------------------------------------------------- general properties


def test_learned_forms_from_examples(tokenizer: Tokenizer) -> None:
    nlu = Nlu(
        [
            IntentSpec(
                "order", ["[아아](DRINK) 한 잔", "[따뜻한 라떼](DRINK) 주세요", "[x](BID_LOC_CITY)"]
            )
        ],
        [EntityTypeSpec("DRINK", {"라떼": ["카페라떼"], "아메리카노": ["아아"]})],
        tokenizer=tokenizer,
    )
    result = nlu.parse("따뜻한 라떼 한 잔 주세요")
    assert result.intent == "order"
    assert values(result) == {"DRINK": "라떼"}  # learned form, value of the contained 라떼
    assert "BID_LOC_CITY" in nlu.entity_types
    assert nlu.intents == ("order",)


def test_form_shared_by_two_types(tokenizer: Tokenizer) -> None:
    nlu = Nlu(
        [
            IntentSpec("answer", ["정답은 [서울](ANSWER)"]),
            IntentSpec("where", ["[부산](CITY) 가자"]),
        ],
        [EntityTypeSpec("CITY", {"서울": [], "부산": []}), EntityTypeSpec("ANSWER", {"서울": []})],
        tokenizer=tokenizer,
    )
    assert [e.type for e in nlu.parse("서울", expect_types=["ANSWER"]).entities] == ["ANSWER"]
    assert [e.type for e in nlu.parse("서울", expect_types=["CITY"]).entities] == ["CITY"]
    structured = nlu.parse("intent=where CITY=부산 ANSWER=서울", expect_types=["CITY"])
    assert [(e.type, e.value) for e in structured.entities] == [("CITY", "부산")]


def test_specs_from_play_data() -> None:
    data = {
        "name": "x",
        "entities": {"DRINK": {"values": {"라떼": ["카페라떼"], "모카": None}}},
        "intents": {"order": {"examples": ["[라떼](DRINK) 주세요"]}, "empty": None},
    }
    intents, types = specs_from_play_data(data)
    assert intents == [IntentSpec("order", ["[라떼](DRINK) 주세요"]), IntentSpec("empty", [])]
    assert types == [EntityTypeSpec("DRINK", {"라떼": ["카페라떼"], "모카": []})]
    assert specs_from_play_data({"name": "x"}) == ([], [])


def test_deterministic(bench: ModuleType, tokenizer: Tokenizer) -> None:
    first = _play_nlu(bench, "weather", tokenizer)
    second = _play_nlu(bench, "weather", tokenizer)
    for text in ["서울 날씨", "내일 무슨 요일", "부산", "뭐 하지"]:
        assert first.parse(text) == second.parse(text) == first.parse(text)


def test_nlu_without_any_intents(tokenizer: Tokenizer) -> None:
    nlu = Nlu([], [], tokenizer=tokenizer)
    assert nlu.parse("서울 날씨").intent is None
    assert nlu.parse("그만").intent == INTENT_STOP


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=40))
def test_parse_never_raises(calc: Nlu, text: str) -> None:
    result = calc.parse(text)
    assert 0.0 <= result.score <= 1.0
    for e in result.entities:
        assert text[e.start : e.end] == e.text


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.text(
        alphabet=st.sampled_from(list("서울 날씨내일부산일이삼2월8[](:)=intent'\"")), max_size=30
    )
)
def test_parse_never_raises_on_korean_like_text(weather: Nlu, text: str) -> None:
    result = weather.parse(text, expect_types=["LOCATION", "BID_QT"])
    assert all(e.type in ("LOCATION", "BID_QT") for e in result.entities)


# ----------------------------------------------------------------------------- tokenizers


def test_simple_tokenizer_strips_particles_and_endings() -> None:
    lemmas = [t.lemma for t in SimpleTokenizer().tokenize("서울의 날씨는 알려줄래?")]
    assert lemmas == ["서울", "날씨", "알려"]


def test_kiwi_tokenizer_content_morphemes(kiwi: KiwiTokenizer) -> None:
    lemmas = [t.lemma for t in kiwi.tokenize("서울의 날씨는 알려줄래?")]
    assert lemmas == ["서울", "날씨", "알리다"]


def test_default_tokenizer_falls_back_without_kiwipiepy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "kiwipiepy", None)  # makes `import kiwipiepy` fail
    assert isinstance(default_tokenizer(), SimpleTokenizer)
    nlu = Nlu([IntentSpec("greet", ["안녕"])], [])
    assert nlu.parse("안녕하세요").intent == "greet"


def test_kiwipiepy_is_imported_lazily() -> None:
    code = "import sys, voicehook.dialog.nlu; sys.exit('kiwipiepy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# ----------------------------------------------------------------------------- accuracy

# Measured on examples/*/nlu-test.yaml (see docs/nlu.md); a drop below fails the build.
THRESHOLDS = {"kiwi": (0.97, 0.99), "simple": (0.97, 0.99)}


@pytest.mark.parametrize("name", ["kiwi", "simple"])
def test_accuracy_on_example_plays(
    bench: ModuleType, name: str, request: pytest.FixtureRequest
) -> None:
    tok: Tokenizer = request.getfixturevalue("kiwi") if name == "kiwi" else SimpleTokenizer()
    plays = [ROOT / "examples" / p for p in bench.PLAYS]
    scores, total = bench.run(plays, tok)
    assert total.total >= 100
    min_intent, min_f1 = THRESHOLDS[name]
    assert total.intent_accuracy >= min_intent, total.failures
    assert total.f1 >= min_f1, total.failures
    for score in scores:
        assert score.intent_accuracy >= 0.89, (score.name, score.failures)
