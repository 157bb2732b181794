"""A play's own Prometheus counters, served on ``/metrics`` next to voicehook's.

Declare them on the play, count in handlers::

    answers = play.counter("quiz_answers_total", "퀴즈 답변 수", labels=("result",))

    @play.action("quiz.answer")
    async def answer(req: ActionRequest) -> dict[str, str]:
        ...
        answers.inc(result="right")

With ``voicehook serve --workers N`` the served numbers are totals over every worker. Keep
the label values bounded (a result, a category), never a user's text or a session id.
"""

from __future__ import annotations

import re

__all__ = ["Counter"]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
#: Label combinations one counter may have; more are counted under ``(other)`` values.
MAX_SERIES = 1000


class Counter:
    """A counter with optional labels. ``inc()`` is a dict update: cheap in handlers."""

    __slots__ = ("help", "labels", "name", "values")

    def __init__(self, name: str, help: str, labels: tuple[str, ...] = ()) -> None:
        if not _NAME.match(name):
            raise ValueError(f"invalid metric name {name!r}")
        for label in labels:
            if not _LABEL.match(label) or label.startswith("__"):
                raise ValueError(f"invalid label name {label!r}")
        self.name = name
        self.help = help
        self.labels = tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` (>= 0) to the series named by ``labels`` (every label, as str)."""
        if amount < 0:
            raise ValueError("a counter only goes up")
        if labels.keys() != set(self.labels):
            raise ValueError(f"counter {self.name} takes the labels {list(self.labels)}")
        key = tuple(str(labels[name]) for name in self.labels)
        values = self.values
        if key not in values and len(values) >= MAX_SERIES:
            key = tuple("(other)" for _ in self.labels)
        values[key] = values.get(key, 0.0) + amount
