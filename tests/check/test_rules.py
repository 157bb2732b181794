"""The answer rules on hand-made bodies (no HTTP)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.check.answers import good_answer
from voicehook.check import KINDS, Finding, check_answer, check_status
from voicehook.check.cases import RequestCase

CODES = frozenset({"UNSUPPORTED_LOCATION", "SERVICE_DOWN"})


def _kinds(case: RequestCase, data: Any) -> list[str]:
    body = data if isinstance(data, bytes) else json.dumps(data).encode()
    return [f.kind for f in check_answer(case, body, CODES).findings]


def test_good_answer_has_no_findings(case: RequestCase) -> None:
    assert _kinds(case, good_answer(case)) == []
    verdict = check_answer(case, json.dumps(good_answer(case)).encode(), CODES)
    assert verdict.result_code == "OK"


def test_expected_keys_cover_declared_and_sent(case: RequestCase) -> None:
    assert set(case.expected_keys) == {"location", "day", "when", "weather", "unit"}


def test_declared_exception_without_output_is_fine(case: RequestCase) -> None:
    for code in CODES:
        assert _kinds(case, {"version": "2.0", "resultCode": code}) == []


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"version": None}, "version_not_echoed"),
        ({"version": "1.0"}, "version_not_echoed"),
        ({"resultCode": None}, "result_code_not_string"),
        ({"resultCode": 0}, "result_code_not_string"),
        ({"resultCode": ""}, "result_code_unknown"),
        ({"resultCode": "ok"}, "result_code_unknown"),
        ({"output": None}, "output_missing"),
        ({"output": []}, "output_not_object"),
        ({"directives": {}}, "directives_not_list"),
        ({"directives": [{"audioItem": {}}]}, "directive_invalid"),
        ({"directives": ["AudioPlayer.Stop"]}, "directive_invalid"),
    ],
)
def test_single_violation(case: RequestCase, change: dict[str, Any], kind: str) -> None:
    data = good_answer(case)
    data.update(change)
    assert _kinds(case, data) == [kind]
    assert KINDS[kind].severity == "violation"


def test_missing_fields(case: RequestCase) -> None:
    for field, kind in (
        ("version", "version_missing"),
        ("resultCode", "result_code_missing"),
        ("output", "output_missing"),
    ):
        data = good_answer(case)
        del data[field]
        assert _kinds(case, data) == [kind]
    data = good_answer(case)
    del data["directives"]
    assert _kinds(case, data) == []  # directives are optional


def test_lowercase_ok_gets_advice(case: RequestCase) -> None:
    data = good_answer(case)
    data["resultCode"] = "ok"
    (finding,) = check_answer(case, json.dumps(data).encode(), CODES).findings
    assert "case-sensitive" in finding.advice


def test_output_values(case: RequestCase) -> None:
    data = good_answer(case)
    data["output"].update({"weather": 21, "day": True, "when": [1], "unit": {"a": 1}})
    found = check_answer(case, json.dumps(data).encode(), CODES).findings
    by_key = {f.subject: f.kind for f in found}
    assert by_key == {
        "weather": "output_value_not_string",
        "day": "output_value_not_string",
        "when": "output_value_invalid",
        "unit": "output_value_invalid",
    }
    assert all(f.severity == "violation" for f in found)


def test_missing_key_only_on_ok(case: RequestCase) -> None:
    data = good_answer(case)
    del data["output"]["weather"]
    found = check_answer(case, json.dumps(data).encode(), CODES).findings
    assert [(f.kind, f.subject) for f in found] == [("output_key_missing", "weather")]
    data["resultCode"] = "SERVICE_DOWN"
    assert _kinds(case, data) == []


def test_unknown_output_key_is_a_warning(case: RequestCase) -> None:
    data = good_answer(case)
    data["output"]["temprature"] = "21"
    (finding,) = check_answer(case, json.dumps(data).encode(), CODES).findings
    assert (finding.kind, finding.severity, finding.subject) == (
        "output_key_unknown",
        "warning",
        "temprature",
    )


def test_extra_top_level_fields_are_ignored(case: RequestCase) -> None:
    data = good_answer(case)
    data.update(case.body)  # some real backends echo the whole request
    data["resultCode"] = "OK"
    assert _kinds(case, data) == []


@pytest.mark.parametrize(
    ("body", "kind"),
    [(b"", "not_json"), (b"<html>", "not_json"), (b"[]", "not_object"), (b'"OK"', "not_object")],
)
def test_not_a_json_object(case: RequestCase, body: bytes, kind: str) -> None:
    assert _kinds(case, body) == [kind]


def test_status(case: RequestCase, builder_case: RequestCase) -> None:
    assert check_status(case, 200, b"") == []
    assert check_status(case, 204, b"") == []
    (f,) = check_status(case, 500, b"boom")
    assert (f.kind, f.subject, f.severity) == ("http_status", "500", "violation")
    (f,) = check_status(case, 401, b"")
    assert f.kind == "http_status"
    assert "Check the key" in f.advice
    (f,) = check_status(builder_case, 401, b"")
    assert (f.kind, f.severity) == ("play_builder_unauthorized", "warning")
    assert "--play-builder allow" in f.advice
    (f,) = check_status(builder_case, 404, b"")
    assert f.kind == "http_status" and "answer.weather" in f.advice


def test_every_kind_is_documented() -> None:
    doc = (__import__("pathlib").Path(__file__).parents[2] / "docs" / "check.md").read_text()
    for kind in KINDS:
        assert f"`{kind}`" in doc, kind


def test_finding_to_dict() -> None:
    f = Finding("slow", "", "answered in 1200 ms")
    assert f.to_dict() == {
        "kind": "slow",
        "severity": "warning",
        "subject": "",
        "message": "answered in 1200 ms",
        "advice": "",
        "rule": KINDS["slow"].rule,
    }
