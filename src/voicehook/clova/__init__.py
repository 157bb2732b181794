"""The CLOVA CEK custom-extension channel: wire format, signature check, direct mode
(:class:`Extension`), the channel, and the speech and directive builders.

See ``docs/clova.md``.
"""

from voicehook.clova import directives
from voicehook.clova.channel import DEFAULT_DEADLINE, ClovaChannel
from voicehook.clova.directives import DirectiveError
from voicehook.clova.extension import ClovaApp, Extension
from voicehook.clova.request import ClovaRequest
from voicehook.clova.response import Response, ask, neutral, tell
from voicehook.clova.signature import SignatureError, SignatureVerifier
from voicehook.clova.slots import Slot
from voicehook.clova.speech import Brief, SpeechLimitError, SpeechLimits, Text, Url

__all__ = [
    "DEFAULT_DEADLINE",
    "Brief",
    "ClovaApp",
    "ClovaChannel",
    "ClovaRequest",
    "DirectiveError",
    "Extension",
    "Response",
    "SignatureError",
    "SignatureVerifier",
    "Slot",
    "SpeechLimitError",
    "SpeechLimits",
    "Text",
    "Url",
    "ask",
    "directives",
    "neutral",
    "tell",
]
