"""Builders for the directives a custom extension may send (spec §6, §7): ``AudioPlayer.Play``,
``AudioPlayer.StreamDeliver``, ``PlaybackController.Pause/Resume/Stop`` and
``TemplateRuntime.RenderPlayerInfo``. Each gets a fresh UUID ``messageId``.

The builders check what CEK requires (a stream URL and token, a title and a sub-title, a
source name); URL and token lengths are checked when the answer is rendered.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Literal

from voicehook.clova import wire

__all__ = [
    "DirectiveError",
    "audio_play",
    "directive",
    "pause",
    "render_player_info",
    "resume",
    "stop",
    "stream_deliver",
]


class DirectiveError(ValueError):
    """A directive built with a missing or invalid field."""


def directive(
    namespace: str, name: str, payload: Mapping[str, Any] | None = None
) -> wire.Directive:
    """Any directive ``namespace.name`` with ``payload`` and a new ``messageId``."""
    return wire.Directive(wire.Header(namespace, name, str(uuid.uuid4())), dict(payload or {}))


def _need(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise DirectiveError(f"{what} must be a non-empty string")


def _stream(
    url: str,
    token: str,
    *,
    offset_ms: int,
    url_playable: bool,
    duration_ms: int | None,
    progress_delay_ms: int | None,
    progress_interval_ms: int | None,
    progress_position_ms: int | None,
    audio_format: str | None,
    custom_data: str | None,
) -> dict[str, Any]:
    _need(url, "the stream url")
    _need(token, "the stream token")
    if offset_ms < 0:
        raise DirectiveError("offset_ms must not be negative")
    stream: dict[str, Any] = {
        "beginAtInMilliseconds": offset_ms,
        "token": token,
        "url": url,
        "urlPlayable": url_playable,
    }
    if duration_ms is not None:
        stream["durationInMilliseconds"] = duration_ms
    if any(v is not None for v in (progress_delay_ms, progress_interval_ms, progress_position_ms)):
        stream["progressReport"] = {
            "progressReportDelayInMilliseconds": progress_delay_ms,
            "progressReportIntervalInMilliseconds": progress_interval_ms,
            "progressReportPositionInMilliseconds": progress_position_ms,
        }
    if audio_format is not None:
        stream["format"] = audio_format
    if custom_data is not None:
        stream["customData"] = custom_data
    return stream


def audio_play(
    url: str,
    token: str,
    *,
    title: str,
    subtitle: str,
    source: str,
    audio_item_id: str | None = None,
    offset_ms: int = 0,
    url_playable: bool = True,
    play_behavior: Literal["REPLACE_ALL", "ENQUEUE"] = "REPLACE_ALL",
    subtitle2: str | None = None,
    header_text: str | None = None,
    art_image_url: str | None = None,
    source_logo_url: str | None = None,
    duration_ms: int | None = None,
    progress_delay_ms: int | None = None,
    progress_interval_ms: int | None = None,
    progress_position_ms: int | None = None,
    audio_format: str | None = None,
    custom_data: str | None = None,
) -> wire.Directive:
    """``AudioPlayer.Play``: play ``url`` (``url_playable=False``: CLOVA asks for the URL
    later with ``StreamRequested``; answer with :func:`stream_deliver`).

    ``title`` / ``subtitle`` are CEK's required ``titleText`` / ``titleSubText1``; ``source``
    is the service name shown on screens. ``audio_item_id`` defaults to the token.
    """
    _need(title, "title")
    _need(subtitle, "subtitle")
    _need(source, "source")
    if play_behavior not in ("REPLACE_ALL", "ENQUEUE"):
        raise DirectiveError("play_behavior must be REPLACE_ALL or ENQUEUE")
    item: dict[str, Any] = {
        "audioItemId": audio_item_id or token,
        "stream": _stream(
            url,
            token,
            offset_ms=offset_ms,
            url_playable=url_playable,
            duration_ms=duration_ms,
            progress_delay_ms=progress_delay_ms,
            progress_interval_ms=progress_interval_ms,
            progress_position_ms=progress_position_ms,
            audio_format=audio_format,
            custom_data=custom_data,
        ),
        "titleText": title,
        "titleSubText1": subtitle,
    }
    for key, value in (
        ("titleSubText2", subtitle2),
        ("headerText", header_text),
        ("artImageUrl", art_image_url),
    ):
        if value is not None:
            item[key] = value
    src: dict[str, Any] = {"name": source}
    if source_logo_url is not None:
        src["logoUrl"] = source_logo_url
    return directive(
        "AudioPlayer", "Play", {"audioItem": item, "playBehavior": play_behavior, "source": src}
    )


def stream_deliver(audio_item_id: str, token: str, url: str) -> wire.Directive:
    """``AudioPlayer.StreamDeliver``: the playable URL for a ``StreamRequested`` event."""
    _need(audio_item_id, "audio_item_id")
    _need(token, "the stream token")
    _need(url, "the stream url")
    return directive(
        "AudioPlayer",
        "StreamDeliver",
        {"audioItemId": audio_item_id, "audioStream": {"token": token, "url": url}},
    )


def pause() -> wire.Directive:
    """``PlaybackController.Pause``."""
    return directive("PlaybackController", "Pause")


def resume() -> wire.Directive:
    """``PlaybackController.Resume``."""
    return directive("PlaybackController", "Resume")


def stop() -> wire.Directive:
    """``PlaybackController.Stop``."""
    return directive("PlaybackController", "Stop")


def render_player_info(
    items: Sequence[Mapping[str, Any]],
    *,
    display_type: Literal["list", "single"] = "list",
    controls: Sequence[str] = ("PLAY_PAUSE", "NEXT", "PREVIOUS"),
    provider: str | None = None,
    provider_logo_url: str | None = None,
) -> wire.Directive:
    """``TemplateRuntime.RenderPlayerInfo`` (KR): the playlist a screen device shows.

    Each item needs ``token``, ``titleText`` and ``titleSubText1`` (other keys of spec §7.5
    pass through); ``showAdultIcon`` defaults to false.
    """
    if display_type not in ("list", "single"):
        raise DirectiveError("display_type must be 'list' or 'single'")
    playable = []
    for i, raw in enumerate(items):
        for key in ("token", "titleText", "titleSubText1"):
            _need(raw.get(key), f"items[{i}].{key}")
        entry = {"showAdultIcon": False, **raw}
        playable.append(entry)
    payload: dict[str, Any] = {
        "displayType": display_type,
        "controls": [
            {"type": "BUTTON", "name": name, "enabled": True, "selected": False}
            for name in controls
        ],
        "playableItems": playable,
    }
    if provider is not None:
        payload["provider"] = {"name": provider}
        if provider_logo_url is not None:
            payload["provider"]["logoUrl"] = provider_logo_url
    return directive("TemplateRuntime", "RenderPlayerInfo", payload)
