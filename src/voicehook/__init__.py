"""voicehook: a framework and server for voice-assistant backends.

Write one async function per NUGU Play Builder action; voicehook enforces the Backend proxy
contract and serves it::

    from voicehook import ActionRequest, Play

    play = Play.from_file("play.yaml")

    @play.action("answer.weather")
    async def weather(req: ActionRequest) -> dict[str, str]:
        return {"weather": "맑음", "temperature": "21"}
"""

from voicehook.nugu import directives
from voicehook.nugu.directives import AudioPlayerEvent, PlayerActivity
from voicehook.play import (
    ActionRequest,
    ActionResult,
    AppContext,
    DefinitionError,
    Play,
    PlayDefinition,
    PlayError,
    Reply,
    RuntimeSettings,
)
from voicehook.server import Settings, create_app

__version__ = "0.1.0"

__all__ = [
    "ActionRequest",
    "ActionResult",
    "AppContext",
    "AudioPlayerEvent",
    "DefinitionError",
    "Play",
    "PlayDefinition",
    "PlayError",
    "PlayerActivity",
    "Reply",
    "RuntimeSettings",
    "Settings",
    "__version__",
    "create_app",
    "directives",
]
