"""Helpers for testing plays with pytest.

Call a play's actions in process, as NUGU would::

    from voicehook.testing import NuguTestClient

    async with NuguTestClient(play) as client:
        answer = await client.call("answer.weather", {"location": "서울"})

Run a transcript file (scripted conversations, see ``docs/simulator.md``) and assert that it
passed::

    from voicehook.testing import assert_transcripts

    def test_weather_transcripts() -> None:
        assert_transcripts("tests/weather.transcripts.yaml")

Or make each conversation its own pytest test (a failure names the conversation)::

    import pytest
    from voicehook.testing import assert_conversation, conversation_names

    TRANSCRIPTS = Path(__file__).parent / "transcripts.yaml"

    @pytest.mark.parametrize("name", conversation_names(TRANSCRIPTS))
    def test_conversation(name: str) -> None:
        assert_conversation(TRANSCRIPTS, name)

In an ``async def`` test, use ``await arun_transcripts(path)`` and :func:`assert_passed`.
Loading the Korean morpheme model takes about a second: pass ``tokenizer=shared_tokenizer()``
to load it once per test session.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from voicehook.dialog.nlu import Tokenizer, default_tokenizer
from voicehook.testing.clova import ClovaClient, ClovaSigner, ClovaTurn, cek_request
from voicehook.testing.nugu import NuguAnswer, NuguTestClient
from voicehook.testing.transcripts import (
    ConversationReport,
    Mismatch,
    Report,
    TranscriptError,
    arun_transcripts,
    check_turn,
    load_transcripts,
)

__all__ = [
    "ClovaClient",
    "ClovaSigner",
    "ClovaTurn",
    "ConversationReport",
    "Mismatch",
    "NuguAnswer",
    "NuguTestClient",
    "Report",
    "TranscriptError",
    "arun_transcripts",
    "assert_conversation",
    "assert_passed",
    "assert_transcripts",
    "cek_request",
    "check_turn",
    "conversation_names",
    "load_transcripts",
    "run_transcripts",
    "shared_tokenizer",
]


@functools.cache
def shared_tokenizer() -> Tokenizer:
    """One tokenizer for the whole test session (Kiwi when installed), made on first use."""
    return default_tokenizer()


def run_transcripts(
    path: str | Path,
    backend: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    settings: Mapping[str, Any] | None = None,
    api_key: str | None = None,
) -> Report:
    """Run a transcript file and return its :class:`Report` (from synchronous code).

    ``backend`` is a Backend proxy URL (``http://127.0.0.1:8080``); without it the play
    named in the file runs in this process. The tokenizer defaults to :func:`shared_tokenizer`.
    """
    return asyncio.run(
        arun_transcripts(
            path,
            backend,
            tokenizer=tokenizer if tokenizer is not None else shared_tokenizer(),
            settings=settings,
            api_key=api_key,
        )
    )


def assert_passed(report: Report) -> None:
    """Raise AssertionError with a readable diff unless every conversation passed."""
    if not report.passed:
        raise AssertionError(f"{report.summary()}\n{report.describe_failures()}")


def assert_transcripts(path: str | Path, backend: str | None = None, **kwargs: Any) -> Report:
    """Run a transcript file and assert that every conversation passed."""
    report = run_transcripts(path, backend, **kwargs)
    assert_passed(report)
    return report


def conversation_names(path: str | Path) -> list[str]:
    """The names of a transcript file's conversations, for ``pytest.mark.parametrize``."""
    return [c.name for c in load_transcripts(path).conversations]


def assert_conversation(
    path: str | Path,
    name: str,
    backend: str | None = None,
    *,
    tokenizer: Tokenizer | None = None,
    settings: Mapping[str, Any] | None = None,
    api_key: str | None = None,
) -> Report:
    """Run one conversation of a transcript file and assert that it passed."""
    report = asyncio.run(
        arun_transcripts(
            path,
            backend,
            tokenizer=tokenizer if tokenizer is not None else shared_tokenizer(),
            settings=settings,
            api_key=api_key,
            only=name,
        )
    )
    assert_passed(report)
    return report
