"""The Bot Framework settings: file, environment, flags; the routes they turn on."""

from __future__ import annotations

from pathlib import Path

import pytest

from voicehook.cli.serve import channel_routes
from voicehook.server import Settings

from ._play import make_play
from .keys import ROOT_APP_ID, SKILL_APP_ID


def test_settings_from_file_and_env(tmp_path: Path) -> None:
    f = tmp_path / "v.toml"
    f.write_text(
        "[voicehook]\nbotframework = true\nbotframework-path = 'bot/'\n"
        f"botframework_allowed_callers = ['{ROOT_APP_ID}']\n",
        encoding="utf-8",
    )
    s = Settings.from_file(f)
    assert s.botframework and s.botframework_path == "/bot"
    assert s.botframework_allowed_callers == (ROOT_APP_ID,)
    env = {
        "VOICEHOOK_BOTFRAMEWORK_APP_ID": SKILL_APP_ID,
        "VOICEHOOK_BOTFRAMEWORK_ALLOWED_CALLERS": "a, b,",
        "VOICEHOOK_BOTFRAMEWORK_MANIFEST": "yes",
    }
    s2 = Settings.from_env(env, base=s)
    assert s2.botframework_app_id == SKILL_APP_ID
    assert s2.botframework_allowed_callers == ("a", "b")
    assert s2.botframework_manifest is True
    with pytest.raises(ValueError):
        Settings(botframework_path="/")
    assert not hasattr(Settings(), "botframework_app_password")


def test_channel_routes(monkeypatch: pytest.MonkeyPatch) -> None:
    play = make_play()
    assert channel_routes(play, Settings()) == []
    routes = channel_routes(play, Settings(botframework=True, botframework_manifest=True))
    assert [(r.prefix, r.exact, r.channel.name) for r in routes] == [
        ("/api/messages", True, "botframework"),
        ("/manifest.json", True, "botframework-manifest"),
    ]
    monkeypatch.delenv("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD", raising=False)
    monkeypatch.delenv("MicrosoftAppPassword", raising=False)
    with_id = Settings(botframework=True, botframework_app_id=SKILL_APP_ID)
    with pytest.raises(ValueError, match="PASSWORD"):
        channel_routes(play, with_id)
    monkeypatch.setenv("VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD", "pw")
    (route,) = channel_routes(play, with_id)
    auth = route.channel.auth  # type: ignore[attr-defined]
    assert auth.app_id == SKILL_APP_ID and auth.app_password == "pw"
