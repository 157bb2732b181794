"""Edges of the answer rules that a mutant once slipped past (docs/mutation-report.md).

Each test names the mutant of ``nugu/answer.py`` (the rules ``voicehook check`` applies) it kills.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from typing import Any

import pytest

from tests.check.answers import good_answer
from voicehook.check import check_answer, check_status
from voicehook.check.cases import RequestCase
from voicehook.nugu.answer import timing_findings

CODES = frozenset({"UNSUPPORTED_LOCATION"})


def _findings(case: RequestCase, data: dict[str, Any]) -> list[tuple[str, str]]:
    verdict = check_answer(case, json.dumps(data).encode(), CODES)
    return [(f.kind, f.subject) for f in verdict.findings]


@pytest.mark.parametrize("directive_type", ["", None, 3])
def test_a_directive_with_an_empty_or_non_string_type_is_invalid(
    case: RequestCase, directive_type: object
) -> None:
    """Kills the mutant that drops ``or not d["type"]`` (an empty type accepted)."""
    data = good_answer(case)
    data["directives"] = [{"type": "AudioPlayer.Stop"}, {"type": directive_type}]
    assert _findings(case, data) == [("directive_invalid", "1")]


def test_a_key_only_the_request_sent_is_not_unknown(case: RequestCase) -> None:
    """A key that the request carried but the play does not declare is echoed, and that is
    right. Kills the mutant that leaves ``request_keys`` out of the known keys."""
    body = copy.deepcopy(case.body)
    body["action"]["parameters"]["sentOnly"] = {"type": "X", "value": "값"}
    sent = dataclasses.replace(case, body=body)
    assert "sentOnly" not in sent.declared_keys
    data = good_answer(sent)
    data["output"]["sentOnly"] = "값"
    assert _findings(sent, data) == []
    # Without it in the request, the same answer has an unknown key.
    assert _findings(case, data) == [("output_key_unknown", "sentOnly")]


def test_a_request_only_key_left_out_of_an_ok_answer_is_missing(case: RequestCase) -> None:
    body = copy.deepcopy(case.body)
    body["action"]["parameters"]["sentOnly"] = {"type": "X", "value": "값"}
    sent = dataclasses.replace(case, body=body)
    data = good_answer(case)  # built from the case without the key
    assert _findings(sent, data) == [("output_key_missing", "sentOnly")]


def test_403_on_the_play_builder_shape_stays_a_violation(builder_case: RequestCase) -> None:
    """Only 401 is the Play Builder warning. Kills the mutant that downgrades 403 too."""
    (f,) = check_status(builder_case, 403, b"forbidden")
    assert (f.kind, f.subject, f.severity) == ("http_status", "403", "violation")
    assert "--api-key" in f.advice  # the play builder case sends no key


def test_401_without_a_key_tells_how_to_pass_one(builder_case: RequestCase) -> None:
    no_key = dataclasses.replace(builder_case, shape="device")
    (f,) = check_status(no_key, 401, b"")
    assert f.kind == "http_status" and "--api-key KEY" in f.advice


@pytest.mark.parametrize(
    ("status", "advice"),
    [
        (199, ""),
        (300, "do not redirect"),
        (308, "do not redirect"),
        (399, "do not redirect"),
        (400, ""),
        (404, "Serve POST {Web URL}/answer.weather"),
        (499, ""),
        (500, "exception resultCode"),
        (503, "exception resultCode"),
    ],
)
def test_status_advice_by_range(case: RequestCase, status: int, advice: str) -> None:
    (f,) = check_status(case, status, b"x" * 100)
    assert (f.kind, f.subject) == ("http_status", str(status))
    assert f.message == f"HTTP {status}; body {'x' * 80!r}"[:-1] + "…'"
    if advice:
        assert advice in f.advice
    else:
        assert f.advice == ""


@pytest.mark.parametrize("status", [200, 201, 299])
def test_every_2xx_is_fine(case: RequestCase, status: int) -> None:
    assert check_status(case, status, b"") == []


def test_slow_is_strictly_over_the_limit() -> None:
    assert timing_findings(500.0, 500.0) == []
    (f,) = timing_findings(500.4, 500.0)
    assert (f.kind, f.message) == ("slow", "answered in 500 ms (over 500 ms)")


# The whole finding, text included: `voicehook check` prints these words to the developer, so
# a finding with a lost message or advice is a bug. Kills the string mutants of _check_output,
# _type_name, _short and timing_findings.
ADVICE_ALL_KEYS = (
    "Return every parameter KEY of the action, also the ones the request left out because "
    "they were null. Echo the value you received, or null."
)


@pytest.mark.parametrize(
    ("output", "kind", "message", "advice"),
    [
        (
            None,
            "output_missing",
            "resultCode is OK but there is no 'output'",
            "Return every parameter KEY in output, even null ones.",
        ),
        (True, "output_not_object", "output is a boolean, not an object", ""),
        ("맑음", "output_not_object", "output is a string, not an object", ""),
        ([1], "output_not_object", "output is an array, not an object", ""),
        (3, "output_not_object", "output is a number, not an object", ""),
    ],
)
def test_output_findings_word_for_word(
    case: RequestCase, output: object, kind: str, message: str, advice: str
) -> None:
    data = good_answer(case)
    data["output"] = output
    (f,) = check_answer(case, json.dumps(data).encode(), CODES).findings
    assert (f.kind, f.subject, f.message, f.advice) == (kind, "", message, advice)


def test_key_and_value_findings_word_for_word(case: RequestCase) -> None:
    data = good_answer(case)
    del data["output"]["weather"]
    data["output"]["day"] = 21
    data["output"]["when"] = {"a": 1}
    found = check_answer(case, json.dumps(data).encode(), CODES).findings
    assert [(f.kind, f.subject, f.message, f.advice) for f in found] == [
        ("output_key_missing", "weather", "output lacks key 'weather'", ADVICE_ALL_KEYS),
        (
            "output_value_not_string",
            "day",
            "output['day'] is a number (21), not a string. A contract violation; the real DM "
            "is observed to accept numbers.",
            "Send '21' (a string).",
        ),
        (
            "output_value_invalid",
            "when",
            "output['when'] is an object; values are strings or null",
            "",
        ),
    ]


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b"boom", "'boom'"),
        (b"", "''"),
        (b"y" * 80, repr("y" * 80)),  # exactly the limit: no ellipsis
        (b"y" * 81, repr("y" * 80 + "…")),
        (b"\xffboom", repr("\ufffdboom")),  # not UTF-8: replaced, never an exception
    ],
)
def test_the_body_in_a_status_finding_is_short_and_safe(
    case: RequestCase, body: bytes, shown: str
) -> None:
    (f,) = check_status(case, 502, body)
    assert f.message == f"HTTP 502; body {shown}"


def test_slow_finding_word_for_word() -> None:
    (f,) = timing_findings(1234.4, 1000)
    assert (f.kind, f.subject, f.message, f.advice) == (
        "slow",
        "",
        "answered in 1234 ms (over 1000 ms)",
        "",
    )


TWO_CODES = frozenset({"B_CODE", "A_CODE"})
UNKNOWN = 'is neither "OK" nor a declared exception code'


@pytest.mark.parametrize(
    ("change", "codes", "expected", "result_code"),
    [
        (
            {"version": None},
            TWO_CODES,
            [("version_not_echoed", "None", "version is None; the request sent '2.0'", "")],
            "OK",
        ),
        (
            {"version": "1.0"},
            TWO_CODES,
            [("version_not_echoed", "'1.0'", "version is '1.0'; the request sent '2.0'", "")],
            "OK",
        ),
        (
            {"resultCode": None},
            TWO_CODES,
            [
                (
                    "result_code_not_string",
                    "None",
                    "resultCode is null (None); the DM speaks the failure prompt",
                    "",
                )
            ],
            None,
        ),
        (
            {"resultCode": 3},
            TWO_CODES,
            [
                (
                    "result_code_not_string",
                    "3",
                    "resultCode is a number (3); the DM speaks the failure prompt",
                    "",
                )
            ],
            None,
        ),
        (
            {"resultCode": "ok"},
            TWO_CODES,
            [
                (
                    "result_code_unknown",
                    "ok",
                    f"resultCode 'ok' {UNKNOWN} (declared: A_CODE, B_CODE); the DM speaks "
                    "the failure prompt",
                    'resultCode is case-sensitive: write "OK".',
                )
            ],
            "ok",
        ),
        (
            {"resultCode": "NOPE"},
            frozenset(),
            [
                (
                    "result_code_unknown",
                    "NOPE",
                    f"resultCode 'NOPE' {UNKNOWN} (declared: none); the DM speaks the failure "
                    "prompt",
                    'Declare it as an exception code of the action or of the play, or answer "OK".',
                )
            ],
            "NOPE",
        ),
        (
            {"directives": {}},
            TWO_CODES,
            [
                (
                    "directives_not_list",
                    "",
                    "directives is an object, not an array",
                    'Send a list: "directives": [{"type": "AudioPlayer.Play", ...}].',
                )
            ],
            "OK",
        ),
        (
            {"directives": [3, {"type": ""}]},
            TWO_CODES,
            [
                ("directive_invalid", "0", "directives[0] is a number", ""),
                (
                    "directive_invalid",
                    "1",
                    "directives[1] has no 'type' string (flattened form "
                    '{"type": "Namespace.Name", ...})',
                    "",
                ),
            ],
            "OK",
        ),
    ],
)
def test_answer_findings_word_for_word(
    case: RequestCase,
    change: dict[str, Any],
    codes: frozenset[str],
    expected: list[tuple[str, str, str, str]],
    result_code: str | None,
) -> None:
    """Kills the string mutants of check_answer and _check_directives, and the verdict's
    resultCode mutants (``ok = True``, ``result_code = ""``)."""
    data = good_answer(case)
    data.update(change)
    verdict = check_answer(case, json.dumps(data).encode(), codes)
    assert [(f.kind, f.subject, f.message, f.advice) for f in verdict.findings] == expected
    assert verdict.result_code == result_code


def test_missing_version_and_result_code_word_for_word(case: RequestCase) -> None:
    data = good_answer(case)
    del data["version"], data["resultCode"]
    verdict = check_answer(case, json.dumps(data).encode(), TWO_CODES)
    assert [(f.kind, f.subject, f.message, f.advice) for f in verdict.findings] == [
        ("version_missing", "", "no 'version'", "Echo '2.0'."),
        ("result_code_missing", "", "no 'resultCode'", 'Send "resultCode": "OK".'),
    ]
    assert verdict.result_code is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"<html>", ("not_json", "", "the body is not JSON: '<html>'", "")),
        (b"[1]", ("not_object", "", "the body is an array, not a JSON object", "")),
    ],
)
def test_bodies_that_are_not_objects_word_for_word(
    case: RequestCase, body: bytes, expected: tuple[str, str, str, str]
) -> None:
    verdict = check_answer(case, body, TWO_CODES)
    assert [(f.kind, f.subject, f.message, f.advice) for f in verdict.findings] == [expected]
    assert verdict.result_code is None


def test_play_builder_warning_word_for_word(builder_case: RequestCase) -> None:
    (f,) = check_status(builder_case, 401, b"")
    assert (f.kind, f.subject, f.message, f.advice) == (
        "play_builder_unauthorized",
        "401",
        "HTTP 401 for the Play Builder test shape (no Authorization header)",
        "The Play Builder test chat sends no Authorization header. If you deny it on purpose, "
        "ignore this. To test in Play Builder, accept calls with isPlayBuilderRequest: true "
        "(voicehook: serve --play-builder allow).",
    )


def test_an_unknown_output_key_word_for_word(case: RequestCase) -> None:
    """Kills the string mutants of the ``output_key_unknown`` finding (message and advice)."""
    data = good_answer(case)
    data["output"]["wheather"] = "맑음"
    (f,) = check_answer(case, json.dumps(data).encode(), CODES).findings
    assert (f.kind, f.subject, f.message, f.advice) == (
        "output_key_unknown",
        "wheather",
        "output key 'wheather' is not a parameter of the action",
        "Declare it as a parameter in Play Builder and in the play definition, "
        "or drop it (a typo?).",
    )


def test_an_answer_without_result_code_is_not_held_to_the_ok_rules(case: RequestCase) -> None:
    """Without a resultCode the answer is not OK: no output is fine, and so are missing keys.
    Kills the mutant that starts ``check_answer`` with ``ok = True``."""
    data = good_answer(case)
    del data["resultCode"], data["output"]
    assert _findings(case, data) == [("result_code_missing", "")]
    data["output"] = {}
    assert _findings(case, data) == [("result_code_missing", "")]


# Every advice of a status finding, word for word (`voicehook check` prints it).
STATUS_ADVICE = [
    (
        401,
        False,
        "Pass the backend's API key with --api-key KEY; the checker sends "
        "'Authorization: token KEY' like a NUGU device.",
    ),
    (403, True, "The backend rejected 'Authorization: token KEY'. Check the key."),
    (301, True, "Answer the action URL directly; do not redirect (HTTP to HTTPS included)."),
    (500, True, "Answer HTTP 200 with an exception resultCode instead of an error status."),
    (404, True, "Serve POST {Web URL}/answer.weather (the URL ends with the action name)."),
]


@pytest.mark.parametrize(("status", "with_key", "advice"), STATUS_ADVICE)
def test_status_advice_word_for_word(
    case: RequestCase, status: int, with_key: bool, advice: str
) -> None:
    headers = dict(case.headers)
    if not with_key:
        headers.pop("Authorization")
    asked = dataclasses.replace(case, headers=headers)
    assert asked.sends_authorization is with_key
    (f,) = check_status(asked, status, b"no")
    assert (f.kind, f.subject, f.message, f.advice) == (
        "http_status",
        str(status),
        f"HTTP {status}; body 'no'",
        advice,
    )
