"""Typed CEK slot values (spec §3.2): ``valueType`` DATE, TIME, DATETIME, the ``.INTERVAL``
forms, ISO-8601 durations (``CLOVA.DURATION``) and numbers with a ``unit``.

CEK sends every value as text (sometimes as a JSON number). :class:`Slot` keeps the text and
parses it on demand, so a malformed value never fails a request: ``typed`` is then None.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import TypeAlias

__all__ = ["Slot", "SlotValue", "parse_duration", "parse_typed"]

SlotValue: TypeAlias = (
    date
    | time
    | datetime
    | timedelta
    | tuple[date, date]
    | tuple[time, time]
    | tuple[datetime, datetime]
)

_DURATION = re.compile(
    r"P(?:(?P<weeks>\d+(?:\.\d+)?)W)?(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?"
)


def parse_duration(text: str) -> timedelta | None:
    """An ISO-8601 duration (``PT2H5M25S``, ``P1DT3H``, ``P2W``) as a timedelta.

    Years and months have no fixed length, so ``P1Y`` / ``P2M`` give None, as does text that
    is not a duration.
    """
    m = _DURATION.fullmatch(text.strip())
    if m is None or text.strip() in ("P", "PT") or text.strip().endswith("T"):
        return None
    parts = {k: float(v) for k, v in m.groupdict().items() if v is not None}
    if not parts:
        return None
    return timedelta(**parts)


def _one(value_type: str, text: str) -> date | time | datetime:
    if value_type == "DATE":
        return date.fromisoformat(text)
    if value_type == "TIME":
        return time.fromisoformat(text)
    return datetime.fromisoformat(text)


def parse_typed(value_type: str, text: str) -> SlotValue | None:
    """Parse ``text`` by its CEK ``valueType``; None when the type is unknown or the text
    does not parse."""
    kind = value_type.upper()
    try:
        if kind in ("DATE", "TIME", "DATETIME"):
            return _one(kind, text)
        if kind in ("DATE.INTERVAL", "TIME.INTERVAL", "DATETIME.INTERVAL"):
            start, sep, end = text.partition("/")
            if not sep or "/" in end:
                return None
            base = kind.split(".", 1)[0]
            return (_one(base, start), _one(base, end))  # type: ignore[return-value]
        if kind == "DURATION":
            return parse_duration(text)
    except ValueError:
        return None
    return None


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


@dataclass(frozen=True, slots=True)
class Slot:
    """One slot of an IntentRequest.

    - ``value``: the value as text (a JSON number becomes its decimal text), None when empty.
    - ``value_type``: CEK's ``valueType`` (``DATE``, ``TIME.INTERVAL``, ...) or None.
    - ``unit``: the unit of a number slot (``"개"``, ``"KRW"``) or None.
    """

    name: str
    value: str | None
    value_type: str | None = None
    unit: str | None = None

    @classmethod
    def of(
        cls, name: str, value: object, value_type: str | None = None, unit: str | None = None
    ) -> Slot:
        return cls(name, _text(value), value_type or None, unit or None)

    @property
    def typed(self) -> SlotValue | None:
        """The value parsed by ``value_type``: a date, time, datetime, a (start, end) pair
        for intervals, a timedelta for durations. A value that looks like an ISO duration
        (``PT30M``) parses without a ``valueType`` too. None otherwise."""
        if self.value is None:
            return None
        if self.value_type:
            return parse_typed(self.value_type, self.value)
        if self.value.startswith("P"):
            return parse_duration(self.value)
        return None

    @property
    def number(self) -> Decimal | None:
        """The value as a Decimal (``"2"`` → 2, ``"1.5"`` → 1.5), or None."""
        if self.value is None:
            return None
        try:
            number = Decimal(self.value.replace(",", ""))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
