"""The calc example over the real ASGI path: results, result codes and speech formatting."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.dialog.prompts import Filters, render
from voicehook.play import Play
from voicehook.testing import NuguAnswer, NuguTestClient

CALC = Path(__file__).resolve().parents[2] / "examples" / "calc"
KEYS = {"first", "second", "operator", "result"}


@pytest.fixture(scope="module")
def calc() -> Play:
    return load_play(str(CALC))


@pytest.fixture
async def client(calc: Play) -> AsyncIterator[NuguTestClient]:
    async with NuguTestClient(calc) as c:
        yield c


async def ask(
    client: NuguTestClient, first: str | None, op: str | None, second: str | None
) -> NuguAnswer:
    return await client.call("answer.calc", {"first": first, "operator": op, "second": second})


def test_validate_succeeds() -> None:
    assert main(["validate", str(CALC)]) == 0


def test_definition(calc: Play) -> None:
    assert calc.problems() == []
    params = calc.definition.action_parameters("answer.calc")
    assert {n: p.kind for n, p in params.items()} == {
        "first": "utterance",
        "second": "utterance",
        "operator": "utterance",
        "result": "backend",
    }
    assert [(m.type, m.role) for m in params["first"].mappings] == [("BID_QT", "first")]
    assert [(m.type, m.role) for m in params["second"].mappings] == [("BID_QT", "second")]
    for name in ("first", "second", "operator"):
        assert params[name].required and len(params[name].prompts) == 2
    # Slot-filling prompts are a stack: the last one typed is asked first.
    assert params["first"].prompts[-1] == "어떤 숫자를 계산할까요?"
    codes = set(calc.definition.exception_codes("answer.calc"))
    assert {"DIVIDE_BY_ZERO", "INVALID_NUMBER"} <= codes


@pytest.mark.parametrize(
    ("first", "op", "second", "result"),
    [
        ("3", "더하기", "4", "7"),
        ("100", "빼기", "30", "70"),
        ("3", "빼기", "10", "-7"),
        ("8", "곱하기", "9", "72"),
        ("10", "나누기", "2", "5"),  # not "5.0"
        ("10", "나누기", "3", "3.33"),
        ("2", "나누기", "3", "0.67"),
        ("7", "나누기", "2", "3.5"),  # not "3.50"
        ("1", "나누기", "3000", "0.00033"),  # small, but not "0"
        ("0", "나누기", "5", "0"),
        ("3.5", "더하기", "3.5", "7"),
        ("0.1", "더하기", "0.2", "0.3"),  # exact, not 0.30000000000000004
        ("1,000", "곱하기", "3", "3000"),
        ("-2", "곱하기", "-3", "6"),
        ("마이너스 2", "더하기", "5", "3"),
        ("십이", "더하기", "삼", "15"),  # Korean number words
        ("스물셋", "빼기", "3", "20"),
        (" 6 ", "나누기", "3", "2"),
    ],
)
async def test_results(
    client: NuguTestClient, first: str, op: str, second: str, result: str
) -> None:
    answer = await ask(client, first, op, second)
    assert answer.result_code == "OK"
    assert set(answer.output) == KEYS
    assert answer.output["result"] == result
    assert answer.output["first"] == first  # the numbers are echoed as NUGU sent them
    assert answer.directives == []


@pytest.mark.parametrize(
    ("op", "normal"),
    [("플러스", "더하기"), ("빼면", "빼기"), ("곱해", "곱하기"), ("/", "나누기"), ("×", "곱하기")],
)
async def test_operator_synonyms_are_normalised(
    client: NuguTestClient, op: str, normal: str
) -> None:
    answer = await ask(client, "6", op, "2")
    assert answer.result_code == "OK"
    assert answer.output["operator"] == normal


@pytest.mark.parametrize("zero", ["0", "0.0", "영", "-0"])
async def test_divide_by_zero(client: NuguTestClient, zero: str) -> None:
    answer = await ask(client, "5", "나누기", zero)
    assert answer.result_code == "DIVIDE_BY_ZERO"
    assert answer.output == {"first": "5", "operator": "나누기", "second": zero, "result": None}


@pytest.mark.parametrize(
    ("first", "second"),
    [("사과", "3"), ("3", "많이"), ("3..5", "1"), ("1e5", "2"), ("NaN", "1"), ("", "2")],
)
async def test_invalid_number(client: NuguTestClient, first: str, second: str) -> None:
    answer = await ask(client, first, "더하기", second)
    assert answer.result_code == "INVALID_NUMBER"
    assert set(answer.output) == KEYS
    assert answer.output["result"] is None


async def test_missing_number_is_invalid(client: NuguTestClient) -> None:
    # NUGU slot-fills required parameters first; a direct call without one still answers.
    answer = await ask(client, None, "더하기", "2")
    assert answer.result_code == "INVALID_NUMBER"
    assert set(answer.output) == KEYS


@pytest.mark.parametrize("op", ["제곱", None, "%"])
async def test_unknown_operator(client: NuguTestClient, op: str | None) -> None:
    answer = await ask(client, "2", op, "3")
    assert answer.result_code == "UNKNOWN_OPERATOR"


@pytest.mark.parametrize(
    ("first", "op", "second"),
    [("1000000000000000", "더하기", "1"), ("100000000", "곱하기", "100000000")],
)
async def test_too_large(client: NuguTestClient, first: str, op: str, second: str) -> None:
    assert (await ask(client, first, op, second)).result_code == "NUMBER_TOO_LARGE"


async def test_response_prompt_reads_well(client: NuguTestClient, calc: Play) -> None:
    response = calc.definition.actions["answer.calc"].response
    assert response is not None
    filters = Filters.from_definitions(calc.definition.filters)
    cases = [
        (("3", "더하기", "4"), "3 더하기 4는 7입니다."),
        (("10", "나누기", "3"), "10 나누기 3은 3.33입니다."),
        (("5", "곱하면", "7"), "5 곱하기 7은 35입니다."),
    ]
    for (first, op, second), spoken in cases:
        answer = await ask(client, first, op, second)
        assert render(response.prompts[0], answer.output, filters) == spoken
