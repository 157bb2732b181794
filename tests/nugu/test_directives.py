"""AudioPlayer directive builders: shape and validation."""

from __future__ import annotations

from typing import Any

import pytest

from voicehook.nugu import AudioPlayerEvent, DirectiveError, directives


def test_play_has_the_documented_shape() -> None:
    d = directives.play(
        "https://cdn.example.com/a42/t08.m3u8",
        "album42_track08",
        offset_ms=1500,
        expected_previous_token="album42_track07",
        progress_report_delay_ms=60000,
        progress_report_interval_ms=30000,
        template=directives.template1(
            "음악 상자", "봄날", subtitle1="방탄소년단", duration_sec=274
        ),
    )
    assert d["type"] == "AudioPlayer.Play"
    stream = d["audioItem"]["stream"]
    assert stream == {
        "url": "https://cdn.example.com/a42/t08.m3u8",
        "offsetInMilliseconds": 1500,
        "token": "album42_track08",
        "expectedPreviousToken": "album42_track07",
        "progressReport": {
            "progressReportDelayInMilliseconds": 60000,
            "progressReportIntervalInMilliseconds": 30000,
        },
    }
    template = d["audioItem"]["metadata"]["template"]
    assert template["type"] == "AudioPlayer.Template1"
    assert template["content"]["durationSec"] == "274"


def test_minimal_play_omits_optional_fields() -> None:
    d = directives.play("http://x/a.mp3", "t1")
    assert d["audioItem"] == {
        "stream": {"url": "http://x/a.mp3", "offsetInMilliseconds": 0, "token": "t1"},
        "metadata": {},
    }


@pytest.mark.parametrize(
    "kwargs",
    [
        {"url": "ftp://x/a.mp3", "token": "t"},
        {"url": "not a url", "token": "t"},
        {"url": "https://x/a", "token": ""},
        {"url": "https://x/a", "token": "t", "offset_ms": -1},
        {"url": "https://x/a", "token": "t", "offset_ms": True},
        {"url": "https://x/a", "token": "t", "offset_ms": 1.5},
        {"url": "https://x/a", "token": "t", "progress_report_delay_ms": 0},
        {"url": "https://x/a", "token": "t", "expected_previous_token": ""},
        {"url": "https://x/a", "token": "t", "template": {"type": "Display.FullText1"}},
    ],
)
def test_invalid_play_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(DirectiveError):
        directives.play(**kwargs)


def test_stop_and_pause() -> None:
    assert directives.stop() == {"type": "AudioPlayer.Stop"}
    assert directives.pause() == {"type": "AudioPlayer.Pause"}


def test_event_names() -> None:
    assert AudioPlayerEvent.PLAYBACK_FINISHED == "AudioPlayer.PlaybackFinished"
    assert len(AudioPlayerEvent) == 13
