"""The play layer: the definition model, the action registry and the action call."""

from voicehook.play.app import ActionSpec, Play, RuntimeSettings, to_output_value
from voicehook.play.context import AppContext
from voicehook.play.definition import PlayDefinition, load_definition, parse_definition
from voicehook.play.errors import DefinitionError, PlayError
from voicehook.play.request import (
    ActionRequest,
    ActionResult,
    AudioPlayer,
    Device,
    Event,
    Reply,
    Session,
)
from voicehook.play.state import SessionState, StateConflict

__all__ = [
    "ActionRequest",
    "ActionResult",
    "ActionSpec",
    "AppContext",
    "AudioPlayer",
    "DefinitionError",
    "Device",
    "Event",
    "Play",
    "PlayDefinition",
    "PlayError",
    "Reply",
    "RuntimeSettings",
    "Session",
    "SessionState",
    "StateConflict",
    "load_definition",
    "parse_definition",
    "to_output_value",
]
