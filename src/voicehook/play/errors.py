"""Errors raised by the play layer."""

from __future__ import annotations

from collections.abc import Mapping


class PlayError(Exception):
    """Raise from a handler to answer with an exception code instead of ``OK``.

    The Dialog Manager then speaks the exception prompts declared for that code::

        if location not in KNOWN:
            raise PlayError("UNSUPPORTED_LOCATION")

    ``output`` optionally changes output values in the same answer (the other keys are
    still echoed).
    """

    def __init__(self, code: str, output: Mapping[str, object] | None = None) -> None:
        if not isinstance(code, str) or not code:
            raise ValueError("PlayError needs a non-empty exception code string")
        if code == "OK":
            raise ValueError("'OK' is the success code, not an exception code")
        super().__init__(code)
        self.code = code
        self.output = dict(output) if output else {}


class DefinitionError(Exception):
    """A play definition is invalid. ``problems`` lists every problem found, with its place.

    ``definition`` is what could be read despite the problems (None when nothing could), so
    ``voicehook validate`` can check the rest (prompts) and report everything at once.
    """

    def __init__(
        self, problems: list[str], source: str = "play definition", definition: object = None
    ) -> None:
        self.problems = problems
        self.source = source
        self.definition = definition
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} has {len(problems)} problem(s):\n{lines}")
