"""``voicehook serve`` warns when several workers would not share session state."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy.conftest import QUIZ
from voicehook.cli import main


@pytest.fixture
def no_uvicorn(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda *a, **kw: calls.append(kw))
    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("VOICEHOOK_")]:
        del os.environ[key]
    try:
        yield calls
    finally:  # serve --workers exports VOICEHOOK_* for its workers: undo that
        os.environ.clear()
        os.environ.update(saved)


@pytest.mark.parametrize("store", [None, "memory://"])
def test_workers_without_a_shared_store_warn(
    no_uvicorn: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], store: str | None
) -> None:
    if store is None:  # no store at all: the embedded SQLite default switched off
        os.environ["VOICEHOOK_DEFAULT_STORE"] = "false"
    args = ["serve", str(QUIZ), "--workers", "2"] + (["--store", store] if store else [])
    assert main(args) == 0
    assert no_uvicorn and no_uvicorn[0]["workers"] == 2
    assert "not shared between workers" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--workers", "2", "--store", "sqlite:///x.db"],
        ["--workers", "2"],  # the default store: SQLite under the working directory
        ["--store", "memory://"],
        [],
    ],
)
def test_no_warning_when_state_is_shared_or_one_process(
    no_uvicorn: list[dict[str, Any]], capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert main(["serve", str(QUIZ), *args]) == 0
    assert "not shared between workers" not in capsys.readouterr().err
