"""A nesting-depth cap for JSON request bodies, checked before they are decoded.

A JSON decoder (msgspec, ``json``) recurses once per nested array or object. A body like
``[[[[...]]]]`` 1,000 levels deep makes it raise ``RecursionError``, and every later step
that walks the value (``json.dumps``, a handler) can fail the same way. Real voice-platform
bodies nest about 5 levels. So every channel checks the body with :func:`check_json_depth`
first, and a body nested deeper than the cap gets a 400 ``too_deep``.

The check costs one ``bytes.count`` for an ordinary body without arrays (a byte loop over
the body, about as long as checking its UTF-8). Only a
body with more than ``limit`` brackets in all is scanned: strings are cut out with one regular
expression, the brackets kept, innermost pairs removed a few times,
and the remaining runs of brackets counted. For a 1 MiB body that is a few ms to ~40 ms in
the worst shapes, less than decoding the same body.

This module is a leaf (it imports only :mod:`voicehook.errors`), so every channel may use it.
"""

from __future__ import annotations

import re

from voicehook.errors import HttpError

__all__ = ["DEFAULT_MAX_DEPTH", "check_json_depth", "json_depth_over"]

#: The default cap: arrays and objects nested more than 64 levels are refused.
DEFAULT_MAX_DEPTH = 64

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_RUNS = re.compile(rb"[\[{]+|[\]}]+")
_PAIR = re.compile(rb"\[\]|\{\}")
_OPEN = (ord("["), ord("{"))
_PASSES = 3


def json_depth_over(body: bytes, limit: int = DEFAULT_MAX_DEPTH) -> bool:
    """True when the JSON text ``body`` nests arrays and objects deeper than ``limit``.

    Brackets inside strings do not count. Text that is not JSON may be reported either way;
    the decoder refuses it afterwards, and it never recursed deeper than ``limit`` + 1 here.
    """
    # The common case first: NUGU bodies have no arrays. (find is a memchr; ``b"[" in body``
    # would first try the operand as an int and raise and clear a TypeError every time.)
    opens = body.count(b"{")
    if body.find(b"[") >= 0:
        opens += body.count(b"[")
    if opens <= limit:
        return False
    brackets = (_STRING.sub(b"", body) if b'"' in body else body).translate(None, _NOT_BRACKETS)
    if brackets.count(b"[") + brackets.count(b"{") <= limit:
        return False
    # Each pass removes the innermost pairs: the depth of what is left is one less.
    removed = 0
    for _ in range(_PASSES):
        shorter = _PAIR.sub(b"", brackets)  # one pass over the text: one level less
        if len(shorter) == len(brackets):
            break
        brackets = shorter
        removed += 1
    if removed > limit:
        return True
    depth = removed
    for run in _RUNS.findall(brackets):
        if run[0] in _OPEN:
            depth += len(run)
            if depth > limit:
                return True
        else:
            depth -= len(run)
    return False


def check_json_depth(body: bytes, limit: int = DEFAULT_MAX_DEPTH) -> None:
    """Raise :class:`~voicehook.errors.HttpError` 400 ``too_deep`` when ``body`` nests
    deeper than ``limit``. Call it before decoding a request body."""
    if json_depth_over(body, limit):
        raise HttpError(
            400, "too_deep", f"the JSON body nests arrays and objects more than {limit} levels"
        )
