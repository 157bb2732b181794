"""AudioPlayer directive builders and the device event names.

Directives are returned in the flattened form NUGU's Backend proxy uses
(``{"type": "AudioPlayer.Play", "audioItem": {...}}``), as plain dicts, so Display templates
and other directives can be passed through as dicts too.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit


class DirectiveError(ValueError):
    """A directive was built with invalid arguments."""


class AudioPlayerEvent(StrEnum):
    """AudioPlayer events that reach the play as action calls (``event.type``)."""

    PLAYBACK_STARTED = "AudioPlayer.PlaybackStarted"
    PLAYBACK_FINISHED = "AudioPlayer.PlaybackFinished"
    PLAYBACK_STOPPED = "AudioPlayer.PlaybackStopped"
    PLAYBACK_FAILED = "AudioPlayer.PlaybackFailed"
    PLAYBACK_PAUSED = "AudioPlayer.PlaybackPaused"
    PLAYBACK_RESUMED = "AudioPlayer.PlaybackResumed"
    PROGRESS_REPORT_DELAY_ELAPSED = "AudioPlayer.ProgressReportDelayElapsed"
    PROGRESS_REPORT_INTERVAL_ELAPSED = "AudioPlayer.ProgressReportIntervalElapsed"
    NEXT_COMMAND_ISSUED = "AudioPlayer.NextCommandIssued"
    PREVIOUS_COMMAND_ISSUED = "AudioPlayer.PreviousCommandIssued"
    PLAY_COMMAND_ISSUED = "AudioPlayer.PlayCommandIssued"
    PAUSE_COMMAND_ISSUED = "AudioPlayer.PauseCommandIssued"
    STOP_COMMAND_ISSUED = "AudioPlayer.StopCommandIssued"


class PlayerActivity(StrEnum):
    """``context.supportedInterfaces.AudioPlayer.playerActivity``."""

    IDLE = "IDLE"
    PLAYING = "PLAYING"
    PAUSED = "PAUSED"
    STOPPED = "STOPPED"
    FINISHED = "FINISHED"
    BUFFER_UNDERRUN = "BUFFER_UNDERRUN"


def _check_ms(name: str, value: object, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DirectiveError(f"{name} must be an int of milliseconds, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise DirectiveError(f"{name} must be {'positive' if positive else '>= 0'}, got {value}")
    return value


def play(
    url: str,
    token: str,
    *,
    offset_ms: int = 0,
    expected_previous_token: str | None = None,
    progress_report_delay_ms: int | None = None,
    progress_report_interval_ms: int | None = None,
    metadata: Mapping[str, Any] | None = None,
    template: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``AudioPlayer.Play``: stream ``url`` from ``offset_ms``.

    ``token`` identifies the track; the device reports it back in events and in the
    AudioPlayer context, so it is the key for resume. ``template`` is an AudioPlayer display
    template (``AudioPlayer.Template1``) placed in ``metadata.template``.
    """
    if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
        raise DirectiveError(f"stream url must be an http(s) URL, got {url!r}")
    if not isinstance(token, str) or not token:
        raise DirectiveError("token must be a non-empty string")
    stream: dict[str, Any] = {
        "url": url,
        "offsetInMilliseconds": _check_ms("offset_ms", offset_ms),
        "token": token,
    }
    if expected_previous_token is not None:
        if not isinstance(expected_previous_token, str) or not expected_previous_token:
            raise DirectiveError("expected_previous_token must be a non-empty string")
        stream["expectedPreviousToken"] = expected_previous_token
    report: dict[str, int] = {}
    if progress_report_delay_ms is not None:
        report["progressReportDelayInMilliseconds"] = _check_ms(
            "progress_report_delay_ms", progress_report_delay_ms, positive=True
        )
    if progress_report_interval_ms is not None:
        report["progressReportIntervalInMilliseconds"] = _check_ms(
            "progress_report_interval_ms", progress_report_interval_ms, positive=True
        )
    if report:
        stream["progressReport"] = report
    meta: dict[str, Any] = dict(metadata) if metadata else {}
    if template is not None:
        ttype = template.get("type")
        if not isinstance(ttype, str) or not ttype.startswith("AudioPlayer.Template"):
            raise DirectiveError("template needs a type such as 'AudioPlayer.Template1'")
        meta["template"] = dict(template)
    return {"type": "AudioPlayer.Play", "audioItem": {"stream": stream, "metadata": meta}}


def stop() -> dict[str, Any]:
    """``AudioPlayer.Stop``."""
    return {"type": "AudioPlayer.Stop"}


def pause() -> dict[str, Any]:
    """``AudioPlayer.Pause``."""
    return {"type": "AudioPlayer.Pause"}


def template1(
    title: str,
    content_title: str,
    *,
    subtitle1: str = "",
    subtitle2: str = "",
    image_url: str = "",
    icon_url: str | None = None,
    duration_sec: int | None = None,
) -> dict[str, Any]:
    """An ``AudioPlayer.Template1`` display template for :func:`play`'s ``template``."""
    title_obj: dict[str, Any] = {"text": title}
    if icon_url:
        title_obj["iconUrl"] = icon_url
    content: dict[str, Any] = {
        "title": content_title,
        "subtitle1": subtitle1,
        "subtitle2": subtitle2,
        "imageUrl": image_url,
    }
    if duration_sec is not None:
        content["durationSec"] = str(_check_ms("duration_sec", duration_sec))
    return {"type": "AudioPlayer.Template1", "title": title_obj, "content": content}
