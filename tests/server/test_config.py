"""Settings: defaults, environment, TOML file, CLI flags, and their precedence."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from voicehook.cli.serve import resolve_settings
from voicehook.nugu.auth import PlayBuilderPolicy
from voicehook.server import Settings


def test_defaults() -> None:
    s = Settings()
    assert (s.host, s.port, s.workers, s.prefix) == ("127.0.0.1", 8080, 1, "")
    assert s.api_keys == () and s.play_builder is PlayBuilderPolicy.DENY
    assert s.max_body == 1024 * 1024 and s.deadline == 3.0


@pytest.mark.parametrize(("raw", "prefix"), [("nugu", "/nugu"), ("/nugu/", "/nugu"), ("/", "")])
def test_prefix_is_normalised(raw: str, prefix: str) -> None:
    assert Settings(prefix=raw).prefix == prefix


def test_environment() -> None:
    env = {
        "VOICEHOOK_PORT": "8443",
        "VOICEHOOK_API_KEYS": "k1, k2",
        "VOICEHOOK_PLAY_BUILDER": "allow",
        "VOICEHOOK_ACCESS_LOG": "yes",
        "VOICEHOOK_DEADLINE": "2.5",
        "VOICEHOOK_PREFIX": "nugu",
        "UNRELATED": "x",
    }
    s = Settings.from_env(env)
    assert s.port == 8443 and s.api_keys == ("k1", "k2")
    assert s.play_builder is PlayBuilderPolicy.ALLOW and s.access_log is True
    assert s.deadline == 2.5 and s.prefix == "/nugu"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"VOICEHOOK_PORT": "eighty"}, "whole number"),
        ({"VOICEHOOK_PORT": "70000"}, "out of range"),
        ({"VOICEHOOK_ACCESS_LOG": "maybe"}, "true or false"),
        ({"VOICEHOOK_PLAY_BUILDER": "sometimes"}, "'deny' or 'allow'"),
        ({"VOICEHOOK_OUTPUT_POLICY": "loose"}, "stringify"),
        ({"VOICEHOOK_MAX_BODY": "0"}, "at least 1"),
    ],
)
def test_bad_values_are_clear_errors(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Settings.from_env(env)


def test_unknown_setting_in_a_file(tmp_path: Path) -> None:
    f = tmp_path / "voicehook.toml"
    f.write_text("[voicehook]\ncolour = 'red'\n", encoding="utf-8")
    with pytest.raises(ValueError, match="unknown setting 'colour'"):
        Settings.from_file(f)


def _args(**kw: object) -> argparse.Namespace:
    base: dict[str, object] = {
        "config": None,
        "host": None,
        "port": None,
        "workers": None,
        "prefix": None,
        "api_keys": None,
        "play_builder": None,
        "max_body": None,
        "deadline": None,
        "store": None,
        "access_log": None,
        "log_level": None,
    }
    base.update(kw)
    return argparse.Namespace(**base)


def test_flags_beat_environment_beat_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    f = tmp_path / "voicehook.toml"
    f.write_text(
        "[voicehook]\nport = 9000\nprefix = '/file'\nmax-body = 2048\napi_keys = ['from-file']\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("VOICEHOOK_PORT", "9100")
    monkeypatch.setenv("VOICEHOOK_PREFIX", "/env")
    s = resolve_settings(_args(config=str(f), prefix="/flag"))
    assert s.port == 9100  # environment over file
    assert s.prefix == "/flag"  # flag over environment
    assert s.max_body == 2048  # file over default
    assert s.api_keys == ("from-file",)
    assert s.default_store is True  # serve keeps state in SQLite unless told otherwise
    assert Settings().default_store is False  # create_app() opens no store by itself
    s2 = resolve_settings(_args(config=str(f), api_keys=["a", "b"]))
    assert s2.api_keys == ("a", "b")


async def test_mounted_under_a_root_path_like_starlette_mount() -> None:
    """Starlette's Mount passes the full path with the mount point in root_path."""
    from voicehook import ActionRequest, Play, create_app
    from voicehook.nugu.wire import build_request

    play = Play("mounted")

    @play.action("answer.x", backend=["y"])
    async def x(req: ActionRequest) -> dict[str, str]:
        return {"y": "네"}

    app = create_app(play)
    body = __import__("json").dumps(build_request("answer.x", {})).encode()
    sent: list[dict[str, object]] = []

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, object]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/nugu/answer.x",
        "root_path": "/nugu",
        "headers": [(b"content-type", b"application/json")],
    }
    await app.startup()  # a host app forwards its lifespan (mounted apps get none)
    try:
        await app(scope, receive, send)
    finally:
        await app.shutdown()
    assert sent[0]["status"] == 200
    assert b'"y":"\xeb\x84\xa4"' in sent[1]["body"]  # type: ignore[operator]
