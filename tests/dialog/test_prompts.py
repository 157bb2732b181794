"""Tests for prompt rendering and prompt selection (voicehook.dialog.prompts)."""

from __future__ import annotations

import doctest
import random
import re
from datetime import datetime

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from voicehook.dialog import prompts
from voicehook.dialog.prompts import (
    DateTimeFilter,
    FilterError,
    Filters,
    Normalizer,
    Placeholder,
    PromptStack,
    Template,
    TemplateError,
    Translator,
    parse_template,
    pick_random,
    render,
)
from voicehook.play import definition

FILTERS = Filters(
    {
        "DAY_KO": Translator({"TODAY": "오늘", "TOMORROW": "내일"}),
        "FILTER_STATUS": Translator({"1": "OPEN", "2": "CLOSED"}),
        "FILTER_EXAMPLE": Translator({"OPEN": "open", "CLOSED": "closed"}),
        "FILTER_BRAND": Normalizer({"영업 중": ["open", "OPEN"], "영업 끝": ["closed"]}),
        "SKY": Normalizer({"맑음": ["clear", "sunny"], "비": ["rain"]}),
        "MONTH_FILTER": DateTimeFilter("YYYY-MM-DD", "MM월"),
        "DAY_OF_WEEK": DateTimeFilter("yyyy-MM-dd", "M월 d일 EEEE"),
    }
)


# --------------------------------------------------------------------------- substitution


def test_substitution() -> None:
    assert render("{{location}} 날씨예요", {"location": "서울"}) == "서울 날씨예요"
    assert render("{{a}}{{b}}{{a}}", {"a": "가", "b": "나"}) == "가나가"


def test_none_and_missing_render_empty() -> None:
    assert render("[{{x}}]", {"x": None}) == "[]"
    assert render("[{{x}}]", {}) == "[]"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "true"),
        (False, "false"),
        (3, "3"),
        (2.5, "2.5"),
        (3.0, "3"),
        ("01", "01"),
        (["서울", 1], '["서울",1]'),
    ],
)
def test_non_string_values(value: object, text: str) -> None:
    assert render("{{v}}", {"v": value}) == text


def test_tts_placeholder_both_spellings() -> None:
    template = parse_template("{{TTS}} / {{$TTS}}")
    assert template.parameters == ("TTS",)
    assert template.render({"TTS": "안녕하세요"}) == "안녕하세요 / 안녕하세요"


def test_silent_prompt_and_plain_text() -> None:
    assert render("", {"x": "y"}) == ""
    assert parse_template("").parts == ()
    assert render("그냥 텍스트 { } }}", {}) == "그냥 텍스트 { } }}"


def test_spaces_inside_braces_are_tolerated() -> None:
    assert render("{{ day > DAY_KO }}", {"day": "TODAY"}, FILTERS) == "오늘"


def test_parameters_in_order_without_repeats() -> None:
    template = parse_template("{{b}} {{a>DAY_KO}} {{b}은} {{c}}", FILTERS)
    assert template.parameters == ("b", "a", "c")


def test_parts() -> None:
    template = parse_template("안녕 {{name}야} 반가워", FILTERS)
    assert isinstance(template, Template)
    literal, placeholder, tail = template.parts
    assert literal == "안녕 "
    assert tail == " 반가워"
    assert isinstance(placeholder, Placeholder)
    assert placeholder.name == "name"
    assert placeholder.source == "{{name}야}"
    assert placeholder.particle is not None and placeholder.particle.no_final == "야"


# --------------------------------------------------------------------------- filters


def test_translator_exact_match_only() -> None:
    assert render("{{d>DAY_KO}}", {"d": "TODAY"}, FILTERS) == "오늘"
    assert render("{{d>DAY_KO}}", {"d": "today"}, FILTERS) == "today"
    table = {"ONE": Translator({"01": "일"})}
    assert render("{{n>ONE}}", {"n": "01"}, table) == "일"
    assert render("{{n>ONE}}", {"n": "1"}, table) == "1"
    assert render("{{n>ONE}}", {"n": 1}, table) == "1"


def test_normalizer_many_to_one() -> None:
    assert render("{{s=SKY}}", {"s": "sunny"}, FILTERS) == "맑음"
    assert render("{{s=SKY}}", {"s": "clear"}, FILTERS) == "맑음"
    assert render("{{s=SKY}}", {"s": "rain"}, FILTERS) == "비"
    assert render("{{s=SKY}}", {"s": "snow"}, FILTERS) == "snow"


def test_chained_filters_in_order() -> None:
    template = parse_template("{{status>FILTER_STATUS>FILTER_EXAMPLE=FILTER_BRAND}}", FILTERS)
    assert template.render({"status": "1"}) == "영업 중"
    assert template.render({"status": "2"}) == "영업 끝"
    assert template.render({"status": "9"}) == "9"
    # Order matters: the normalizer alone does not know "1".
    assert render("{{s=FILTER_BRAND>FILTER_STATUS}}", {"s": "1"}, FILTERS) == "OPEN"


def test_normalizer_rejects_a_source_under_two_targets() -> None:
    with pytest.raises(FilterError, match="'x' maps to both 'A' and 'B'"):
        Normalizer({"A": ["x"], "B": ["x"]})


# --------------------------------------------------------------------------- datetime


def test_datetime_spec_example() -> None:
    assert render("{{date:MONTH_FILTER}}", {"date": "2024-03-15"}, FILTERS) == "03월"


@pytest.mark.parametrize(
    ("source", "target", "value", "expected"),
    [
        ("yyyy-MM-dd", "M월 d일", "2024-03-05", "3월 5일"),
        ("yyyy-MM-dd", "yyyy년 MM월 dd일", "2024-3-5", "2024-3-5"),  # MM needs two digits
        ("yyyy-M-d", "yyyy년 MM월 dd일", "2024-3-5", "2024년 03월 05일"),
        ("yyyyMMdd", "yy.MM.dd", "20240315", "24.03.15"),
        ("yyyy-MM-dd", "EEEE", "2024-03-15", "금요일"),
        ("yyyy-MM-dd", "E", "2024-03-17", "일"),
        ("yyyy-MM-dd", "EEE요일", "2024-03-18", "월요일"),
        ("yyyy-MM-dd", "MMMM d일 (E)", "2024-12-25", "12월 25일 (수)"),
        ("HH:mm", "a h시 m분", "14:05", "오후 2시 5분"),
        ("HH:mm", "a h시", "00:30", "오전 12시"),
        ("HH:mm:ss", "H시 mm분 ss초", "09:07:03", "9시 07분 03초"),
        ("a h:mm", "HH:mm", "오후 3:30", "15:30"),
        ("a h:mm", "HH:mm", "오전 12:10", "00:10"),
        ("yyyy-MM-dd'T'HH:mm", "M월 d일 H시", "2024-03-15T08:00", "3월 15일 8시"),
        ("yyyy-MM-dd", "'오늘은' d'일'", "2024-03-15", "오늘은 15일"),
        ("yyyy-MM-dd", "h''''", "2024-03-15", "2024-03-15"),  # no hour in the source
        ("M월 d일", "MM/dd", "3월 1일", "03/01"),
        ("yyyy-MM-dd", "M월", "2024-02-30", "2024-02-30"),  # no such date
        ("yyyy-MM-dd", "M월", "2024-13-01", "2024-13-01"),
        ("yyyy-MM-dd", "M월", "내일", "내일"),
        ("yyyy-MM-dd", "M월", "", ""),
        ("yyyy-MM-dd EEEE", "M/d", "2024-03-15 금요일", "3/15"),
        ("yyyy-MM-dd EEEE", "M/d", "2024-03-15 월요일", "2024-03-15 월요일"),  # wrong weekday
        ("MM-dd", "EEEE", "03-15", "03-15"),  # no year: the weekday is unknown
        ("yy-M-d", "yyyy", "99-1-1", "2099"),
    ],
)
def test_datetime_patterns(source: str, target: str, value: str, expected: str) -> None:
    assert DateTimeFilter(source, target).apply(value) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("yyyy-MM-dd Q", "unsupported letter 'Q'"),
        ("yyyy-MM-dd'", "unterminated quote"),
        ("ddd", "too many 'd' letters"),
        ("yyyy[-MM]", "unsupported character '['"),
    ],
)
def test_datetime_bad_patterns(source: str, message: str) -> None:
    with pytest.raises(FilterError, match=re.escape(message)):
        DateTimeFilter(source, "M월")
    with pytest.raises(FilterError, match=re.escape(message)):
        DateTimeFilter("yyyy", source)


# --------------------------------------------------------------------------- particles


@pytest.mark.parametrize(
    ("location", "expected"),
    [("서울", "서울은 맑아요"), ("부산", "부산은 맑아요"), ("대구", "대구는 맑아요")],
)
def test_particle_after_placeholder(location: str, expected: str) -> None:
    assert render("{{location}은} 맑아요", {"location": location}) == expected


def test_particle_uses_the_filtered_value() -> None:
    template = parse_template("{{day>DAY_KO}는} {{place}로/으로} 가요", FILTERS)
    assert template.render({"day": "TODAY", "place": "서울"}) == "오늘은 서울로 가요"
    assert template.render({"day": "TOMORROW", "place": "집"}) == "내일은 집으로 가요"
    assert template.render({"day": "someday", "place": "학교"}) == "someday는 학교로 가요"


def test_particle_after_datetime_and_normalizer() -> None:
    assert render("{{d:DAY_OF_WEEK}이에요}", {"d": "2024-03-15"}, FILTERS) == (
        "3월 15일 금요일이에요"
    )
    assert render("{{s=SKY}이야}", {"s": "sunny"}, FILTERS) == "맑음이야"
    assert render("{{s=SKY}이야}", {"s": "rain"}, FILTERS) == "비야"


def test_particle_with_empty_value_keeps_first_member() -> None:
    assert render("{{x}은/는}", {}) == "은"
    assert render("{{x}는/은}", {"x": None}) == "는"


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("{{loc", "placeholder '{{loc' is not closed; expected '}}' (line 1, column 1)"),
        ("오늘 {{loc", "placeholder '{{loc' is not closed; expected '}}' (line 1, column 4)"),
        ("{{loc}", "'{{loc}' must end with '}}' or a particle such as '}은}' (line 1, column 7)"),
        (
            "{{loc}은 맑아요. {{day}}",
            "'{{loc}' must end with '}}' or a particle such as '}은}' (line 1, column 7)",
        ),
        ("{{}}", "expected a parameter name, found an empty placeholder (line 1, column 3)"),
        ("{{ }}", "expected a parameter name, found an empty placeholder (line 1, column 4)"),
        ("{{{x}}}", "expected a parameter name, found '{' (line 1, column 3)"),
        ("{{a>}}", "missing filter name after '>' (line 1, column 5)"),
        ("{{a b}}", "unexpected 'b'; a filter is written >NAME, =NAME or :NAME (line 1, column 5)"),
        ("줄1\n줄2 {{a!}}", "unexpected '!'; a filter is written >NAME, =NAME or :NAME"),
        ("{{$x}}", "'$' is allowed only in {{$TTS}}, not '$x' (line 1, column 3)"),
        ("{{a>NOPE}}", "unknown filter 'NOPE' (declared: DAY_KO, DAY_OF_WEEK, "),
        ("{{a=DAY_KO}}", "filter 'DAY_KO' is a translator; write it as '>DAY_KO', not '=DAY_KO'"),
        ("{{a:SKY}}", "filter 'SKY' is a normalizer; write it as '=SKY', not ':SKY'"),
        ("{{a>MONTH_FILTER}}", "filter 'MONTH_FILTER' is a datetime; write it as ':MONTH_FILTER'"),
        ("{{loc}에게}", "unknown particle '에게'; supported: 은/는, 이/가, "),
        ("{{loc}은/가}", "unknown particle '은/가'"),
    ],
)
def test_malformed_templates(template: str, message: str) -> None:
    with pytest.raises(TemplateError) as info:
        parse_template(template, FILTERS)
    assert str(info.value).startswith(message)


def test_error_position_attributes() -> None:
    with pytest.raises(TemplateError) as info:
        parse_template("안녕\n  {{a!}}")
    error = info.value
    assert (error.line, error.column, error.position) == (2, 6, 8)
    assert error.reason.startswith("unexpected '!'")
    assert error.template == "안녕\n  {{a!}}"


def test_filters_without_declarations() -> None:
    with pytest.raises(TemplateError, match=r"unknown filter 'DAY_KO' \(declared: none\)"):
        parse_template("{{a>DAY_KO}}")


# --------------------------------------------------------------------------- Filters


def test_filters_model() -> None:
    assert len(FILTERS) == 7 and "SKY" in FILTERS and "X" not in FILTERS
    assert FILTERS.get("DAY_KO") == Translator({"TODAY": "오늘", "TOMORROW": "내일"})
    assert FILTERS.get("missing") is None


def test_filters_from_play_definitions() -> None:
    filters = Filters.from_definitions(
        {
            "DAY_KO": definition.TranslateFilter(mapping={"TODAY": "오늘"}),
            "SKY": definition.NormalizeFilter(mapping={"맑음": ("clear", "sunny")}),
            "MONTH": definition.DateTimeFilter(source="yyyy-MM-dd", target="M월"),
        }
    )
    params = {"d": "TODAY", "s": "sunny", "m": "2024-03-15"}
    assert render("{{d>DAY_KO}} {{s=SKY}} {{m:MONTH}}", params, filters) == "오늘 맑음 3월"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (definition.DateTimeFilter(source="Q", target="M"), "filter 'A': unsupported letter 'Q'"),
        (definition.DateTimeFilter(source="yyyy", target="'"), "filter 'A': unterminated quote"),
        (
            definition.NormalizeFilter(mapping={"t": ("x",), "u": ("x",)}),
            "filter 'A': source 'x' maps to both 't' and 'u'",
        ),
        (definition.TranslateFilter(mapping={"x" * 201: "y"}), "longer than 200 characters"),
        (definition.NormalizeFilter(mapping={"t": ("x" * 201,)}), "longer than 200 characters"),
        (definition.DateTimeFilter(source="y" * 201, target="M"), "longer than 200 characters"),
    ],
)
def test_filters_from_play_definitions_errors(spec: definition.Filter, message: str) -> None:
    with pytest.raises(FilterError, match=message):
        Filters.from_definitions({"A": spec})


def test_filters_from_a_loaded_play() -> None:
    play = definition.parse_definition(
        """
name: demo
filters:
  DAY_KO:
    translate: {TODAY: 오늘}
  SKY:
    normalize: {맑음: [clear, sunny]}
  MONTH:
    datetime: {source: yyyy-MM-dd, target: M월}
"""
    )
    filters = Filters.from_definitions(play.filters)
    template = parse_template("{{d>DAY_KO}는} {{s=SKY}}, {{m:MONTH}}", filters)
    assert template.render({"d": "TODAY", "s": "clear", "m": "2024-05-01"}) == "오늘은 맑음, 5월"


def test_plain_mapping_of_filters() -> None:
    table = {"D": Translator({"TODAY": "오늘"})}
    assert render("{{d>D}}", {"d": "TODAY"}, table) == "오늘"
    assert render("{{d>D}}", {"d": "TODAY"}, Filters(table)) == "오늘"


# --------------------------------------------------------------------------- selection


def test_pick_random_is_seedable() -> None:
    choices = ["a", "b", "c", "d"]
    first = [pick_random(choices, random.Random(7)) for _ in range(5)]
    assert len(set(first)) == 1  # same seed, same pick
    rng = random.Random(1)
    assert {pick_random(choices, rng) for _ in range(200)} == set(choices)
    with pytest.raises(ValueError, match="no prompts"):
        pick_random([], random.Random(0))


def test_prompt_stack_is_lifo_and_first_typed_is_end() -> None:
    stack = PromptStack(["끝낼게요.", "다시 말해 주세요.", "잘 못 들었어요."])
    assert (stack.remaining, stack.exhausted) == (3, False)
    assert stack.next() == ("잘 못 들었어요.", False)
    assert stack.next() == ("다시 말해 주세요.", False)
    assert stack.spoken == 2
    assert stack.next() == ("끝낼게요.", True)
    assert stack.exhausted and stack.remaining == 0
    with pytest.raises(IndexError, match="exhausted"):
        stack.next()
    stack.reset()
    assert stack.next() == ("잘 못 들었어요.", False)


def test_prompt_stack_single_prompt_is_end() -> None:
    stack = PromptStack(["서버에 연결할 수 없어요."])
    assert stack.next() == ("서버에 연결할 수 없어요.", True)
    assert stack.exhausted


def test_prompt_stack_cursor_can_be_restored() -> None:
    stack = PromptStack(["end", "wait"], spoken=1)
    assert stack.next() == ("end", True)
    assert repr(stack) == "PromptStack(['end', 'wait'], spoken=2)"
    with pytest.raises(ValueError, match="at least one prompt"):
        PromptStack([])
    with pytest.raises(ValueError, match="between 0 and 2"):
        PromptStack(["end", "wait"], spoken=3)


def test_docstring_examples() -> None:
    result = doctest.testmod(prompts)
    assert result.attempted >= 5
    assert result.failed == 0


# --------------------------------------------------------------------------- properties

_PLACEHOLDERS = st.builds(
    lambda name, steps, particle: "{{" + name + "".join(steps) + "}" + particle + "}",
    st.sampled_from(["a", "b", "TTS", "$TTS", " a ", "", "$a"]),
    st.lists(st.sampled_from([">DAY_KO", "=SKY", ":DAY_OF_WEEK", ">FILTER_STATUS", " ", ">"])),
    st.sampled_from(["", "은", "는/은", "로", "으로/로", "이에요", "야", "에게", "{"]),
)
_PIECES = st.one_of(
    st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=8),
    _PLACEHOLDERS,
    st.sampled_from(["{", "}", "{{", "}}", ">", "$", "\n"]),
)
_TEMPLATES = st.one_of(st.text(max_size=40), st.lists(_PIECES, max_size=6).map("".join))
_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=10),
    st.sampled_from(["2024-03-15", "TODAY", "sunny", "1", "서울", "KBS", "😀"]),
)


@given(_TEMPLATES)
def test_parse_template_raises_only_template_error(text: str) -> None:
    try:
        template = parse_template(text, FILTERS)
    except TemplateError as exc:
        assert 0 <= exc.position <= len(text)
    else:
        assert template.source == text


@given(_TEMPLATES, st.dictionaries(st.sampled_from(["a", "b", "TTS"]), _VALUES))
def test_render_never_raises_for_templates_that_parse(
    text: str, params: dict[str, object | None]
) -> None:
    try:
        template = parse_template(text, FILTERS)
    except TemplateError:
        assume(False)
        return
    rendered = template.render(params)
    assert isinstance(rendered, str)
    if "{" not in text and "}" not in text:
        assert rendered == text


_PLAIN_TEXT = st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=8)
_PLAIN_PIECES = st.lists(
    st.one_of(
        _PLAIN_TEXT.map(lambda t: ("text", t)),
        st.sampled_from(["a", "b", "missing"]).map(lambda n: ("param", n)),
    ),
    max_size=6,
)


@given(_PLAIN_PIECES, st.dictionaries(st.sampled_from(["a", "b"]), st.none() | _PLAIN_TEXT))
def test_plain_placeholders_render_to_their_values(
    pieces: list[tuple[str, str]], params: dict[str, str | None]
) -> None:
    """An oracle built apart from the renderer: text stays, ``{{name}}`` becomes the value,
    and None or a missing parameter becomes "" (docs/prompts.md)."""
    text = "".join(p if kind == "text" else "{{" + p + "}}" for kind, p in pieces)
    expected = "".join(p if kind == "text" else (params.get(p) or "") for kind, p in pieces)
    assert parse_template(text, FILTERS).render(params) == expected
    assert render(text, params, FILTERS) == expected


@given(st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)))
def test_datetime_round_trip(moment: datetime) -> None:
    iso = moment.strftime("%Y-%m-%d %H:%M:%S")
    korean = DateTimeFilter("yyyy-MM-dd HH:mm:ss", "yyyy년 M월 d일 EEEE a h시 m분 s초").apply(iso)
    weekday = "월화수목금토일"[moment.weekday()]
    ampm = "오전" if moment.hour < 12 else "오후"
    assert korean == (
        f"{moment.year}년 {moment.month}월 {moment.day}일 {weekday}요일 "
        f"{ampm} {moment.hour % 12 or 12}시 {moment.minute}분 {moment.second}초"
    )
    back = DateTimeFilter("yyyy년 M월 d일 EEEE a h시 m분 s초", "yyyy-MM-dd HH:mm:ss").apply(korean)
    assert back == iso


@given(st.text(alphabet=st.characters(blacklist_characters="{}"), max_size=30))
def test_text_without_braces_is_unchanged(text: str) -> None:
    assert render(text, {}) == text
