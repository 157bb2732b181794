"""Issue 9 leftover: without httptools, `serve` falls back to h11 and says what is lost."""

from __future__ import annotations

import argparse
import builtins
import functools
from pathlib import Path
from typing import Any

import pytest

from voicehook.cli import serve
from voicehook.server.config import Settings


def test_with_httptools_serve_uses_the_guarded_protocol() -> None:
    options = serve.uvicorn_options(Settings())
    assert isinstance(options["http"], functools.partial)
    assert options["http"].func.__name__ == "GuardedHttpToolsProtocol"


def test_without_httptools_the_fallback_is_h11_with_a_connection_cap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_import = builtins.__import__

    def no_guard(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "voicehook.server.guard":
            raise ImportError("no httptools")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_guard)
    options = serve.uvicorn_options(Settings(max_connections=77))
    assert options["http"] == "h11"
    assert options["limit_concurrency"] == 77
    assert options["h11_max_incomplete_event_size"] == Settings().max_header_bytes


def test_serve_prints_the_warning_on_the_h11_fallback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import uvicorn

    (tmp_path / "play.yaml").write_text("name: echo\nactions: {}\n", encoding="utf-8")
    started: list[dict[str, Any]] = []
    real_options = serve.uvicorn_options
    monkeypatch.setattr(serve, "uvicorn_options", lambda s: {**real_options(s), "http": "h11"})
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.append(kw))
    parser = argparse.ArgumentParser()
    serve.add_parser(parser.add_subparsers(), "serve", "")
    args = parser.parse_args(["serve", str(tmp_path / "play.yaml"), "--port", "1"])
    assert serve.run(args) == 0
    assert started and started[0]["http"] == "h11"
    err = capsys.readouterr().err
    assert serve.H11_WARNING in err
    for words in ("--header-timeout", "--body-timeout", "install httptools", "reverse proxy"):
        assert words.lower() in err.lower()


def test_no_warning_on_the_guarded_protocol(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import uvicorn

    (tmp_path / "play.yaml").write_text("name: echo\nactions: {}\n", encoding="utf-8")
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: None)
    parser = argparse.ArgumentParser()
    serve.add_parser(parser.add_subparsers(), "serve", "")
    assert serve.run(parser.parse_args(["serve", str(tmp_path / "play.yaml")])) == 0
    assert "httptools" not in capsys.readouterr().err
