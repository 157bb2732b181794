"""Sample values for generated requests: entity values and device event bodies.

Values follow the spec's observed normalised forms (§2.2): a built-in date entity arrives as
``TODAY``, not as ``오늘``. Custom entity types use their representative values (대표값), because
the Dialog Manager sends the representative value when it hears a synonym.
"""

from __future__ import annotations

from typing import Any

from voicehook.play.definition import PlayDefinition

#: Observed normalised values of built-in entity types (spec §2.2).
BUILTIN_SAMPLES: dict[str, tuple[str, ...]] = {
    "BID_DT_DAY": ("TODAY", "TOMORROW", "A_TOMORROW", "YESTERDAY"),
    "BID_DT_WDAY": ("MON", "FRI", "SUN.W.1"),
    "BID_DT_WEEK": ("W.0", "W.1", "W.-1"),
    "BID_DT_YMONTH": ("2", "12"),
    "BID_DT_MDAY": ("28", "1"),
    "BID_QT": ("3", "10", "1000"),
    "BID_LOC_CITY": ("서울", "부산"),
}

#: Values for entity types the checker knows nothing about.
UNKNOWN_SAMPLES: tuple[str, ...] = ("사과", "바다", "하늘")

#: Stream token used in AudioPlayer contexts and events.
SAMPLE_TOKEN = "voicehook-check-track-1"  # noqa: S105 (a stream token, not a secret)


def entity_samples(definition: PlayDefinition, entity_type: str) -> tuple[str, ...]:
    """Up to three sample values for ``entity_type`` (never empty)."""
    custom = definition.entities.get(entity_type)
    if custom is not None and custom.values:
        return tuple(list(custom.values)[:3])
    return BUILTIN_SAMPLES.get(entity_type, UNKNOWN_SAMPLES)


def event_body(event_type: str, variant: int = 0) -> dict[str, Any]:
    """A device event as the Dialog Manager forwards it (flattened, spec §5.3 and E4/E5).

    ``variant`` changes the token and offset so that repeated calls differ.
    """
    token = SAMPLE_TOKEN if variant % 2 == 0 else "voicehook-check-track-2"
    offset = 213000 if variant % 2 == 0 else 0
    body: dict[str, Any] = {"type": event_type}
    namespace = event_type.partition(".")[0]
    if namespace == "AudioPlayer":
        body["token"] = token
        body["offsetInMilliseconds"] = offset
        if event_type == "AudioPlayer.PlaybackFailed":
            body["error"] = {"type": "MEDIA_ERROR_SERVICE_UNAVAILABLE", "message": "check"}
            body["currentPlaybackState"] = {
                "token": token,
                "offsetInMilliseconds": offset,
                "playerActivity": "PLAYING",
            }
        elif event_type == "AudioPlayer.PlaybackStopped":
            body["reason"] = "STOP"
    elif namespace == "Display":
        body["token"] = "voicehook-check-template-1"  # noqa: S105
        if event_type == "Display.ElementSelected":
            body["postback"] = {"item": 1}
    return body


def audio_player_context(activity: str, variant: int = 0) -> dict[str, Any]:
    """``context.supportedInterfaces.AudioPlayer`` for a player in ``activity`` (spec §2.3)."""
    if activity == "IDLE":
        return {"playerActivity": "IDLE", "offsetInMilliseconds": 0}
    token = SAMPLE_TOKEN if variant % 2 == 0 else "voicehook-check-track-2"
    offset = {"PLAYING": 42000, "PAUSED": 61000, "FINISHED": 213000}.get(activity, 0)
    return {"playerActivity": activity, "token": token, "offsetInMilliseconds": offset}


def activity_for_event(event_type: str | None) -> str:
    """The player activity that goes with an event (FINISHED after PlaybackFinished, ...)."""
    if event_type is None:
        return "IDLE"
    return {
        "AudioPlayer.PlaybackFinished": "FINISHED",
        "AudioPlayer.PlaybackStopped": "STOPPED",
        "AudioPlayer.PlaybackPaused": "PAUSED",
        "AudioPlayer.PauseCommandIssued": "PAUSED",
        "AudioPlayer.PlayCommandIssued": "PAUSED",
    }.get(event_type, "PLAYING")
