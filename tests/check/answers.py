"""A correct answer to a request case, for the answer-rule tests to break one rule at a time."""

from __future__ import annotations

from typing import Any

from voicehook.check.cases import RequestCase


def good_answer(case: RequestCase) -> dict[str, Any]:
    """An OK answer that echoes every expected key (as null) and has no directives."""
    return {
        "version": "2.0",
        "resultCode": "OK",
        "output": {k: None for k in case.expected_keys},
        "directives": [],
    }
