"""The play definition loader: valid files, and precise errors with file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from voicehook.play import DefinitionError, PlayDefinition, load_definition, parse_definition
from voicehook.play.definition import AllOf, Equals, Exists, IntentIs

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def problems(text: str) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        parse_definition(text, "play.yaml")
    return info.value.problems


def test_the_documented_example_loads() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "play-format.md").read_text()
    yaml_text = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    d = parse_definition(yaml_text)
    act = d.actions["answer.weather"]
    assert act.trigger is not None and act.trigger.intent == "ask.weather"
    assert act.parameters["location"].required
    assert act.parameters["location"].type == "LOCATION"
    assert act.parameters["weather"].kind == "backend"
    assert act.parameters["unit"].kind == "configurable"
    assert act.parameters["unit"].value == "celsius"
    assert act.exceptions["INVALID_DATE"].prompts[0].startswith("날짜를")
    assert set(d.filters) == {"DAY_KO", "SKY", "MONTH"}
    assert d.entities["LOCATION"].values["서울"] == ("서울시", "서울특별시")


@pytest.mark.parametrize("name", ["weather", "music", "calc", "quiz"])
def test_example_plays_load(name: str) -> None:
    # Every example exists: a missing one is a failure (load_definition raises), not a skip.
    d = load_definition(EXAMPLES / name / "play.yaml")
    assert d.name == name
    assert d.actions, f"the {name} example declares no action"


def test_errors_point_at_the_line() -> None:
    text = "name: x\nactions:\n  a:\n    backend: true\n    colour: red\n"
    (problem,) = problems(text)
    assert problem.startswith("play.yaml:5:5")
    assert "unknown key 'colour'" in problem


def test_several_problems_are_reported_at_once() -> None:
    text = """
name: bad name
actions:
  a:
    trigger: {intent: missing.intent}
    parameters:
      loc: {type: NOWHERE}
      p: {required: true, type: BID_QT}
    branches:
      - {when: {exists: loc}, action: nowhere}
"""
    found = "\n".join(problems(text))
    assert "letters, digits, _ and -" in found
    assert "trigger intent 'missing.intent' is not declared" in found
    assert "unknown entity type 'NOWHERE'" in found
    assert "needs slot-filling prompts" in found
    assert "branch target 'nowhere'" in found
    assert "default branch" in found


def test_invalid_yaml_has_a_place() -> None:
    (problem,) = problems("name: x\nactions: [\n")
    assert problem.startswith("play.yaml:")
    assert "invalid YAML" in problem


def test_duplicate_keys_are_errors() -> None:
    (problem,) = problems("name: x\nname: y\n")
    assert "duplicate key 'name'" in problem


def test_conditions_parse() -> None:
    d = parse_definition(
        """
name: x
intents: {yes: {examples: [응]}}
actions:
  root:
    trigger: {intent: yes}
    branches:
      - when: {all: [{exists: a}, {equals: {a: "{{b}}"}}]}
        action: leaf
      - when: {intent: yes}
        action: leaf
      - default: leaf
    parameters: {a: backend, b: backend}
  leaf:
    response: {prompts: [네]}
"""
    )
    branches = d.actions["root"].branches
    assert isinstance(branches[0].condition, AllOf)
    assert branches[0].condition.items == (Exists("a"), Equals("a", "{{b}}"))
    assert branches[1].condition == IntentIs("yes")
    assert branches[2].condition is None


def test_exception_codes_need_backend_and_ok_is_reserved() -> None:
    found = "\n".join(problems("name: x\nactions:\n  a:\n    exceptions: {OK: [x], E: [y]}\n"))
    assert "'OK' is the success code" in found
    assert "need backend: true" in found


def test_bad_example_markup() -> None:
    (problem,) = problems("name: x\nintents:\n  i: {examples: ['[서울](LOC ATION) 날씨']}\n")
    assert "entity markup" in problem


def test_missing_file_and_directory_lookup(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match="no such file"):
        load_definition(tmp_path / "nope.yaml")
    (tmp_path / "play.yaml").write_text("name: dir\n", encoding="utf-8")
    assert load_definition(tmp_path).name == "dir"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_parses_or_raises_definition_error(text: str) -> None:
    """Any text gives a definition or a DefinitionError that lists located problems; never
    another exception. A definition has a string name and parses the same way twice."""
    try:
        d = parse_definition(text)
    except DefinitionError as exc:
        _check_problems(exc)
        return
    assert isinstance(d, PlayDefinition)
    assert isinstance(d.name, str) and d.name
    assert parse_definition(text) == d


def _check_problems(exc: DefinitionError) -> None:
    assert exc.problems, "a DefinitionError without problems"
    message = str(exc)
    assert message.startswith(f"<string> has {len(exc.problems)} problem(s):")
    for problem in exc.problems:
        assert isinstance(problem, str) and problem.startswith("<string>")
        assert problem in message


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "name",
                        "actions",
                        "a",
                        "backend",
                        "parameters",
                        "type",
                        "prompts",
                        "exceptions",
                        "branches",
                    ]
                ),
                inner,
                max_size=4,
            )
        ),
        max_leaves=20,
    )
)
def test_any_yaml_structure_parses_or_raises_definition_error(data: object) -> None:
    """A structure without a name, or with a key a play does not have at the top, is refused
    with a problem that says so; whatever parses has the name it was given."""
    import yaml

    text = yaml.safe_dump(data, allow_unicode=True)
    top_keys = {"name", "actions", "parameters", "exceptions"}
    must_fail = not isinstance(data, dict) or "name" not in data or bool(set(data) - top_keys)
    try:
        d = parse_definition(text)
    except DefinitionError as exc:
        _check_problems(exc)
        if isinstance(data, dict) and "name" not in data:
            assert any("missing 'name'" in p for p in exc.problems), exc.problems
        if isinstance(data, dict) and set(data) - top_keys:
            assert any("unknown key" in p for p in exc.problems), exc.problems
        return
    assert not must_fail, f"accepted {data!r}"
    assert isinstance(data, dict)
    assert isinstance(d.name, str) and d.name
    if isinstance(data["name"], str):
        assert d.name == data["name"]
