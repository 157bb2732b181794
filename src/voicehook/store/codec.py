"""The JSON-safe value codec used by every store backend.

A *JSON-safe value* is one of:

- ``None``, ``bool``, ``int`` (any size), ``float`` (finite only), ``str``;
- ``list`` and ``dict`` with ``str`` keys, nested freely;
- ``datetime.datetime`` (naive or aware), ``datetime.date``, ``datetime.time``,
  ``decimal.Decimal``, ``uuid.UUID``, ``tuple`` and ``bytes``.

The extra types come back as the same type. They are stored with a one-key tag object,
for example ``{"$dt": "2024-05-01T09:30:00+09:00"}`` or ``{"$dec": "1234.50"}``. A user
``dict`` that itself has exactly one key starting with ``$`` is wrapped as
``{"$esc": {...}}`` so it can never be mistaken for a tag.

Not supported (rejected with :class:`CodecError`): ``set``/``frozenset`` (store a sorted
list), ``NaN``/``inf`` floats, non-``str`` dict keys, arbitrary objects (convert them first,
for example with ``msgspec.to_builtins``).

Aware datetimes keep their UTC offset, not their zone name: ``ZoneInfo("Asia/Seoul")``
comes back as ``timezone(timedelta(hours=9))``. The instant is the same.
"""

from __future__ import annotations

import base64
import datetime as _dt
import math
import re
import uuid
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from voicehook.store.base import StoreError

__all__ = ["CodecError", "decode", "encode", "from_json_safe", "to_json_safe"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class CodecError(StoreError, TypeError):
    """A value cannot be stored (not JSON-safe), or stored bytes are not valid.

    ``path`` points at the bad part, like ``$["user"]["tags"][2]``.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.parts: list[str | int] = []

    @property
    def path(self) -> str:
        """Where in the value the problem is, as ``$["key"][index]``."""
        out = "$"
        for p in self.parts:
            out += f"[{p}]" if isinstance(p, int) else f"[{p!r}]"
        return out

    def __str__(self) -> str:
        return f"{self.reason} (at {self.path})" if self.parts else self.reason


def to_json_safe(value: Any) -> Any:
    """Turn a JSON-safe value into plain JSON types, adding tags for the extra types."""
    t = type(value)
    if t is str or t is int or t is bool or value is None:
        return value
    if t is float:
        if not math.isfinite(value):
            raise CodecError(f"{value!r} is not JSON-safe: NaN and infinity cannot be stored")
        return value
    if t is dict:
        out: dict[str, Any] = {}
        for k, v in value.items():
            if type(k) is not str:
                if isinstance(k, str):
                    k = str(k)
                else:
                    raise CodecError(f"dict keys must be str, got {type(k).__name__} key {k!r}")
            try:
                out[k] = to_json_safe(v)
            except CodecError as e:
                e.parts.insert(0, k)
                raise
        if len(out) == 1 and next(iter(out)).startswith("$"):
            return {"$esc": out}
        return out
    if t is list or t is tuple:
        items = []
        for i, v in enumerate(value):
            try:
                items.append(to_json_safe(v))
            except CodecError as e:
                e.parts.insert(0, i)
                raise
        return items if t is list else {"$tuple": items}
    return _extra_to_json_safe(value)


def _extra_to_json_safe(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, _dt.date):
        return {"$date": value.isoformat()}
    if isinstance(value, _dt.time):
        return {"$time": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$dec": str(value)}
    if isinstance(value, uuid.UUID):
        return {"$uuid": str(value)}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return to_json_safe(float(value))
    if isinstance(value, dict):
        return to_json_safe(dict(value))
    if isinstance(value, list | tuple):
        return to_json_safe(list(value) if isinstance(value, list) else tuple(value))
    if isinstance(value, set | frozenset):
        raise CodecError(
            f"{type(value).__name__} is not JSON-safe: store a list instead, "
            "for example sorted(values)"
        )
    raise CodecError(
        f"{type(value).__name__} is not JSON-safe: store None, bool, int, float, str, list, "
        "dict with str keys, datetime, date, time, Decimal, UUID, tuple or bytes "
        "(convert objects first, for example with msgspec.to_builtins)"
    )


_TINY_OFFSET = re.compile(r"([+-])00:00:00\.(\d{1,6})\Z")
_T = TypeVar("_T", _dt.datetime, _dt.time)


def _tiny_offset(value: _T, text: str) -> _T:
    # CPython reads a UTC offset below one second ("+00:00:00.000001") as UTC. Put the
    # real offset back.
    m = _TINY_OFFSET.search(text)
    if m is None:
        return value
    micro = int(m.group(2).ljust(6, "0")) * (-1 if m.group(1) == "-" else 1)
    return value.replace(tzinfo=_dt.timezone(_dt.timedelta(microseconds=micro)))


def _tag_to_value(tag: str, arg: Any) -> Any:
    if tag == "$tuple":
        if type(arg) is not list:
            raise CodecError(f"invalid stored value for tag '$tuple': {arg!r}")
        return tuple(from_json_safe(v) for v in arg)
    if tag == "$esc":
        if type(arg) is not dict:
            raise CodecError(f"invalid stored value for tag '$esc': {arg!r}")
        for k, v in arg.items():
            arg[k] = from_json_safe(v)
        return arg
    if type(arg) is not str:
        raise CodecError(f"invalid stored value for tag {tag!r}: {arg!r} (expected a string)")
    try:
        if tag == "$dt":
            return _tiny_offset(_dt.datetime.fromisoformat(arg), arg)
        if tag == "$dec":
            return Decimal(arg)
        if tag == "$date":
            return _dt.date.fromisoformat(arg)
        if tag == "$time":
            return _tiny_offset(_dt.time.fromisoformat(arg), arg)
        if tag == "$uuid":
            return uuid.UUID(arg)
        if tag == "$bytes":
            return base64.b64decode(arg, validate=True)
    except (TypeError, ValueError, ArithmeticError) as e:
        raise CodecError(f"invalid stored value for tag {tag!r}: {arg!r} ({e})") from e
    raise CodecError(f"unknown tag {tag!r} in stored value")


def from_json_safe(obj: Any) -> Any:
    """Inverse of :func:`to_json_safe`. Mutates and returns ``obj`` (fresh JSON data)."""
    t = type(obj)
    if t is dict:
        if len(obj) == 1:
            k = next(iter(obj))
            if k.startswith("$"):
                return _tag_to_value(k, obj[k])
        for k, v in obj.items():
            tv = type(v)
            if tv is dict or tv is list:
                obj[k] = from_json_safe(v)
        return obj
    if t is list:
        for i, v in enumerate(obj):
            tv = type(v)
            if tv is dict or tv is list:
                obj[i] = from_json_safe(v)
        return obj
    return obj


def encode(value: Any) -> bytes:
    """Encode a JSON-safe value to JSON bytes. Raises :class:`CodecError`."""
    try:
        return _encoder.encode(to_json_safe(value))
    except RecursionError:
        raise CodecError("value is nested too deeply or contains a reference cycle") from None


def decode(data: bytes | str) -> Any:
    """Decode bytes made by :func:`encode` back to the original value."""
    try:
        obj = _decoder.decode(data)
    except msgspec.DecodeError as e:
        raise CodecError(f"stored data is not valid JSON: {e}") from e
    # Tags are keys starting with "$", so without the two characters `"$` there is no tag
    # and the plain JSON value is already the answer.
    if isinstance(data, str):
        if '"$' not in data:
            return obj
    elif b'"$' not in data:
        return obj
    return from_json_safe(obj)
