"""Calling other services from handlers."""

from voicehook.upstream.client import HttpClient, UpstreamError, UpstreamTimeout

__all__ = ["HttpClient", "UpstreamError", "UpstreamTimeout"]
