"""The ASGI server: one application for the play's channels, /health and /metrics."""

from voicehook.server.app import VoicehookApp, create_app
from voicehook.server.config import Settings
from voicehook.server.inprocess import InProcessBackend, call_asgi
from voicehook.server.logs import configure_logging

__all__ = [
    "InProcessBackend",
    "Settings",
    "VoicehookApp",
    "call_asgi",
    "configure_logging",
    "create_app",
]
