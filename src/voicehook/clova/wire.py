"""The CLOVA CEK custom-extension wire format as msgspec Structs (spec §2, §3, §6, §7).

Input structs are tolerant, because real CEK traffic deviates from the documents (spec §2.1):
``session: null`` (Skill Store events), ``context: {}``, no ``sessionAttributes``, no
``context.System.application``, no ``accessToken``, ``slots: null``, numeric slot values,
``payload: null`` and extra keys everywhere. Every field is optional and ``null`` means
"missing". Output structs are strict: the envelope always has ``version``,
``sessionAttributes`` and ``response.{outputSpeech, card, directives, shouldEndSession}``.

This is the only module that knows CEK's JSON names.
"""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "NO_SPEECH",
    "ApplicationInfo",
    "AudioPlayerContext",
    "Context",
    "Device",
    "Directive",
    "Envelope",
    "Event",
    "Header",
    "IntentInfo",
    "NoSpeech",
    "Reprompt",
    "Request",
    "RequestBody",
    "ResponseBody",
    "Session",
    "SimpleSpeech",
    "SlotInfo",
    "SpeechInfo",
    "SpeechList",
    "SpeechSet",
    "System",
    "User",
    "decode_request",
    "encode_envelope",
]

# -- requests (tolerant) ---------------------------------------------------------------------


class User(msgspec.Struct, rename="camel", gc=False):
    """``session.user`` / ``context.System.user``."""

    user_id: str | None = None
    access_token: str | None = None


class Session(msgspec.Struct, rename="camel", gc=False):
    """``session`` (absent or ``null`` on Skill Store events)."""

    session_id: str | None = None
    new: bool | None = None
    session_attributes: dict[str, Any] | None = None
    user: User | None = None


class ApplicationInfo(msgspec.Struct, rename="camel", gc=False):
    """``context.System.application``."""

    application_id: str | None = None


class Device(msgspec.Struct, rename="camel", gc=False):
    """``context.System.device``."""

    device_id: str | None = None
    display: dict[str, Any] | None = None


class System(msgspec.Struct, rename="camel", gc=False):
    """``context.System``."""

    application: ApplicationInfo | None = None
    device: Device | None = None
    user: User | None = None


class AudioPlayerContext(msgspec.Struct, rename="camel", gc=False):
    """``context.AudioPlayer``: what the device plays or played (spec §8)."""

    player_activity: str | None = None
    offset_in_milliseconds: int | None = None
    total_in_milliseconds: int | None = None
    stream: dict[str, Any] | None = None
    repeat_mode: str | None = None
    token: str | None = None


class Context(msgspec.Struct, rename="pascal", gc=False):
    """``context`` (may be ``{}``)."""

    system: System | None = None
    audio_player: AudioPlayerContext | None = None


class SlotInfo(msgspec.Struct, rename="camel", gc=False):
    """``request.intent.slots[NAME]``. ``value`` may be a number in real traffic."""

    name: str | None = None
    value: str | int | float | bool | None = None
    value_type: str | None = None
    unit: str | None = None


class IntentInfo(msgspec.Struct, gc=False):
    """``request.intent``. Stub ``{"intent": "", "name": "", "slots": null}`` on other types."""

    name: str | None = None
    slots: dict[str, SlotInfo | None] | None = None


class Event(msgspec.Struct, gc=False):
    """``request.event``: ``namespace.name`` and a payload that may be ``{}`` or ``null``."""

    namespace: str | None = None
    name: str | None = None
    payload: dict[str, Any] | None = None


class RequestBody(msgspec.Struct, rename="camel", gc=False):
    """``request``, with the undocumented extras real traffic carries."""

    type: str | None = None
    request_id: str | None = None
    timestamp: str | None = None
    locale: str | None = None
    extension_id: str | None = None
    intent: IntentInfo | None = None
    event: Event | None = None


class Request(msgspec.Struct, gc=False):
    """A whole CEK request."""

    version: str | None = None
    session: Session | None = None
    context: Context | None = None
    request: RequestBody | None = None


_request_decoder = msgspec.json.Decoder(Request, strict=False)


def decode_request(body: bytes) -> Request:
    """Decode a request body; raises ``msgspec.DecodeError`` / ``msgspec.ValidationError``."""
    return _request_decoder.decode(body)


# -- responses (strict) ----------------------------------------------------------------------


class SpeechInfo(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """A SpeechInfoObject: ``{"type": "PlainText"|"URL", "lang", "value"}`` (+ token,
    contentType). ``lang`` is ``""`` for URL items."""

    type: str
    lang: str
    value: str
    token: str | None = None
    content_type: str | None = None


class SimpleSpeech(msgspec.Struct, tag_field="type", tag="SimpleSpeech", gc=False):
    """One sentence (``values`` is a single object)."""

    values: SpeechInfo


class SpeechList(msgspec.Struct, tag_field="type", tag="SpeechList", gc=False):
    """Several sentences or URLs, played in order."""

    values: list[SpeechInfo]


class SpeechSet(msgspec.Struct, tag_field="type", tag="SpeechSet", gc=False):
    """A brief summary and a verbose version (for screenless devices)."""

    brief: SpeechInfo
    verbose: SimpleSpeech | SpeechList


class NoSpeech(msgspec.Struct, gc=False):
    """``outputSpeech: {}`` (audio-only answers, acknowledgements)."""


NO_SPEECH = NoSpeech()

OutputSpeech = SimpleSpeech | SpeechList | SpeechSet | NoSpeech


class Reprompt(msgspec.Struct, rename="camel", gc=False):
    """``response.reprompt``."""

    output_speech: OutputSpeech


class Header(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """``directives[].header``; ``messageId`` is always a fresh UUID."""

    namespace: str
    name: str
    message_id: str
    dialog_request_id: str | None = None


class Directive(msgspec.Struct, gc=False):
    """``directives[]``: ``{"header", "payload"}`` with no ``directive`` wrapper (spec §6)."""

    header: Header
    payload: dict[str, Any]


class ResponseBody(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """``response``. ``card`` is always ``{}`` (JP does not support cards)."""

    output_speech: OutputSpeech
    card: dict[str, Any]
    directives: list[Directive]
    should_end_session: bool
    reprompt: Reprompt | None = None


class Envelope(msgspec.Struct, rename="camel", gc=False):
    """A whole CEK response."""

    version: str
    session_attributes: dict[str, Any]
    response: ResponseBody


_encoder = msgspec.json.Encoder()


def encode_envelope(envelope: Envelope) -> bytes:
    """The response JSON bytes."""
    return _encoder.encode(envelope)
