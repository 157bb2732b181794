"""The calc example: ``answer.calc`` adds, subtracts, multiplies and divides two numbers.

Run it: ``voicehook serve examples/calc``. Try it in Korean:
``voicehook simulate examples/calc`` and say "3 더하기 4".

NUGU sends ``BID_QT`` values as digit strings ("12", "1000"). The backend also reads
"1,000", "3.5", "-2", "마이너스 2" and Korean number words ("십이", "스물셋").
The result is text for speech: "7", "-3", "3.33" (two decimal places at most).
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

from voicehook import ActionRequest, Play, PlayError
from voicehook.dialog.builtin_entities import parse_korean_number

HERE = Path(__file__).parent
LIMIT = Decimal(10) ** 15  # numbers and results are smaller than 1,000조
PLACES = Decimal("0.01")  # a non-integer result is rounded to two decimal places

play = Play.from_file(HERE / "play.yaml")

#: Operator symbols a caller may send instead of the OPERATOR value.
SYMBOLS = {"+": "더하기", "-": "빼기", "*": "곱하기", "×": "곱하기", "/": "나누기", "÷": "나누기"}
_NUMBER = re.compile(r"[+-]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?")


def _operators() -> dict[str, str]:
    """Operator by representative value, synonym and symbol (from play.yaml's OPERATOR)."""
    out = dict(SYMBOLS)
    entity = play.definition.entities.get("OPERATOR")
    if entity is not None:
        for value, synonyms in entity.values.items():
            out[value] = value
            for synonym in synonyms:
                out.setdefault(synonym, value)
    return out


OPERATORS = _operators()


def parse_number(text: str | None) -> Decimal:
    """A number from a BID_QT value.

    Raises PlayError INVALID_NUMBER when it is not a number, NUMBER_TOO_LARGE when it is
    1000조 or more.
    """
    if text is None:
        raise PlayError("INVALID_NUMBER")
    compact = "".join(text.split())
    sign = 1
    if compact.startswith("마이너스"):
        sign, compact = -1, compact.removeprefix("마이너스")
    number: Decimal | None = None
    if _NUMBER.fullmatch(compact):
        number = Decimal(compact.replace(",", ""))
    elif compact:
        whole = parse_korean_number(compact)
        number = Decimal(whole) if whole is not None else None
    if number is None:
        raise PlayError("INVALID_NUMBER")
    if abs(number) >= LIMIT:
        raise PlayError("NUMBER_TOO_LARGE")
    return sign * number


def calculate(first: Decimal, operator: str, second: Decimal) -> Decimal:
    """``first operator second``. Raises PlayError DIVIDE_BY_ZERO."""
    if operator == "더하기":
        return first + second
    if operator == "빼기":
        return first - second
    if operator == "곱하기":
        return first * second
    if operator == "나누기":
        if second == 0:
            raise PlayError("DIVIDE_BY_ZERO")
        return first / second
    raise ValueError(f"unknown operator {operator!r}")


def format_number(value: Decimal) -> str:
    """A result as the speaker should say it.

    Integers have no decimal point ("7", not "7.0"). Other results are rounded to two
    decimal places ("3.33", "2.5"). A small non-zero result keeps two significant digits
    ("0.0012"), so it does not become "0".
    """
    if value == value.to_integral_value():
        return str(int(value))
    rounded = value.quantize(PLACES, rounding=ROUND_HALF_UP)
    if rounded == 0:
        exponent = value.adjusted() - 1  # two significant digits
        rounded = value.quantize(Decimal(1).scaleb(exponent), rounding=ROUND_HALF_UP)
    if rounded == rounded.to_integral_value():
        return str(int(rounded))
    return format(rounded.normalize(), "f")


@play.action("answer.calc")
async def answer_calc(req: ActionRequest) -> dict[str, str]:
    operator = OPERATORS.get("".join((req.params["operator"] or "").split()))
    if operator is None:
        raise PlayError("UNKNOWN_OPERATOR")
    first = parse_number(req.params["first"])
    second = parse_number(req.params["second"])
    result = calculate(first, operator, second)
    if abs(result) >= LIMIT:
        raise PlayError("NUMBER_TOO_LARGE")
    return {"operator": operator, "result": format_number(result)}
