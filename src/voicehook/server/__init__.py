"""The ASGI server: one application for the play's channels, /health and /metrics."""

from voicehook.server.app import VoicehookApp, create_app
from voicehook.server.config import Settings
from voicehook.server.logs import configure_logging

__all__ = ["Settings", "VoicehookApp", "configure_logging", "create_app"]
