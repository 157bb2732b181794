"""Small wording helpers for the command line."""

from __future__ import annotations

__all__ = ["count", "plain"]


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 action``, ``2 actions``."""
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def plain(doc: str | None) -> str:
    """A docstring as --help text: reStructuredText's double backticks removed."""
    return (doc or "").replace("``", "")
