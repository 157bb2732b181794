"""Output values: the fast path of ``Play.call`` keeps the rules of the general path.

``Play.call`` answers a plain handler's dict of strings without going through ``_finish``.
These tests make sure that shortcut still warns about undeclared keys and still turns values
into strings the same way. Each test names the mutant it kills (docs/mutation-report.md).
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from voicehook.play import ActionRequest, Play, RuntimeSettings, parse_definition, to_output_value

DEFINITION = """
name: test
actions:
  answer.menu:
    backend: true
    parameters:
      dish: {type: DISH}
      price: backend
entities:
  DISH: {values: {비빔밥: [], 김치찌개: []}}
"""


def make_play(**settings: Any) -> Play:
    return Play(parse_definition(DEFINITION), settings=RuntimeSettings(**settings))


def request(play: Play, **params: Any) -> ActionRequest:
    spec = play.spec("answer.menu")
    assert spec is not None
    base = spec.new_params()
    base.update(params)
    return ActionRequest("answer.menu", base, request_id="rid-f")


async def test_an_undeclared_string_key_is_sent_and_warned_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A plain async handler returning only strings takes the fast path. Kills the mutant that
    drops ``and k in output`` there: the key would be sent without the warning."""
    play = make_play()

    @play.action("answer.menu")
    async def handler(req: ActionRequest) -> dict[str, str]:
        return {"price": "9000", "spicy": "네"}

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        first = await play.call(request(play, dish="비빔밥"))
        second = await play.call(request(play, dish="김치찌개"))
    assert first.result_code == second.result_code == "OK"
    assert first.output == {"dish": "비빔밥", "price": "9000", "spicy": "네"}
    assert second.output["spicy"] == "네"
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, warnings
    assert "'spicy'" in warnings[0] and "not one of its parameters" in warnings[0]


async def test_declared_string_keys_take_the_fast_path_without_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    play = make_play()

    @play.action("answer.menu")
    async def handler(req: ActionRequest) -> dict[str, str | None]:
        return {"price": "7000", "dish": None}

    with caplog.at_level(logging.WARNING, "voicehook.play"):
        result = await play.call(request(play, dish="비빔밥"))
    assert result.output == {"dish": None, "price": "7000"}
    assert result.directives == [] and result.error is None
    assert not caplog.records


async def test_a_number_leaves_the_fast_path_and_is_still_a_string() -> None:
    """Kills the mutant that lets any value through the fast path: 9000 must become "9000"."""
    play = make_play()

    @play.action("answer.menu")
    async def handler(req: ActionRequest) -> dict[str, object]:
        return {"price": 9000}

    result = await play.call(request(play, dish="비빔밥"))
    assert result.output == {"dish": "비빔밥", "price": "9000"}
    assert all(type(v) is str for v in result.output.values())


async def test_non_string_request_values_are_echoed_as_strings_on_the_fast_path() -> None:
    play = make_play()

    @play.action("answer.menu")
    async def handler(req: ActionRequest) -> dict[str, str]:
        return {"price": "9000"}

    result = await play.call(request(play, dish=3, price=None))
    assert result.output == {"dish": "3", "price": "9000"}


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (999_999_999_999_999.0, "999999999999999"),
        (-999_999_999_999_999.0, "-999999999999999"),
        (1e15, "1000000000000000.0"),
        (-1e15, "-1000000000000000.0"),
        (1e16, "1e+16"),
        (-0.0, "0"),
    ],
)
def test_integral_floats_print_as_integers_below_1e15(value: float, text: str) -> None:
    """Kills the 1e15 limit mutants (``<`` → ``<=``, 1e15 → 1e16, ``abs`` dropped)."""
    assert to_output_value(value) == text
