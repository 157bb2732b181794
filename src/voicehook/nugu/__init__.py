"""The NUGU Backend proxy channel: wire format, endpoint, auth and directive builders."""

from voicehook.nugu import directives
from voicehook.nugu.auth import PlayBuilderPolicy, TokenAuth
from voicehook.nugu.directives import AudioPlayerEvent, DirectiveError, PlayerActivity
from voicehook.nugu.endpoint import NuguChannel

__all__ = [
    "AudioPlayerEvent",
    "DirectiveError",
    "NuguChannel",
    "PlayBuilderPolicy",
    "PlayerActivity",
    "TokenAuth",
    "directives",
]
