"""The NUGU Backend proxy wire format as msgspec Structs.

Input structs are tolerant: unknown fields are ignored, most fields are optional, ``null``
is accepted where real traffic has it (``supportedInterfaces: null``, ``state: null``,
``{"type": null, "value": null}``), and numbers in strings are accepted (lax decoding).
The output struct is strict: it always has ``version``, ``resultCode``, ``output`` and
``directives``.

Attribute names follow Python style; ``rename="camel"`` maps them to NUGU's JSON names.
The structs satisfy the read-only protocols of :mod:`voicehook.play.request`, so the play
layer uses them without copying.
"""

from __future__ import annotations

from typing import Any

import msgspec


class Parameter(msgspec.Struct, omit_defaults=True, gc=False):
    """``action.parameters[KEY]``: ``{type, value}``."""

    type: str | None = None
    value: Any = None


class Action(msgspec.Struct, rename="camel", gc=False):
    """``action``."""

    action_name: str | None = None
    parameters: dict[str, Parameter | None] | None = None


class Session(msgspec.Struct, rename="camel", gc=False):
    """``context.session``."""

    id: str = ""
    is_new: bool = False
    access_token: str | None = None
    is_play_builder_request: bool = False


class Device(msgspec.Struct, rename="camel", gc=False):
    """``context.device``."""

    type: str = ""
    state: dict[str, Any] | None = None


class AudioPlayerContext(msgspec.Struct, rename="camel", gc=False):
    """``context.supportedInterfaces.AudioPlayer``."""

    player_activity: str = "IDLE"
    token: str | None = None
    offset_in_milliseconds: int = 0


class SupportedInterfaces(msgspec.Struct, rename="pascal", gc=False):
    """``context.supportedInterfaces``: the interfaces the play enabled."""

    audio_player: AudioPlayerContext | None = None
    display: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None


class Context(msgspec.Struct, rename="camel", gc=False):
    """``context``."""

    session: Session | None = None
    device: Device | None = None
    supported_interfaces: SupportedInterfaces | None = None


class EnrolledUser(msgspec.Struct, rename="camel", gc=False):
    """``profile.privatePlay.enrolledUser``."""

    name: str | None = None
    phone_no: str | None = None
    email: str | None = None
    tag: str | None = None
    user_token: str | None = None
    service_type: str | None = None


class PrivatePlay(msgspec.Struct, rename="camel", gc=False):
    """``profile.privatePlay`` (Private Plays only)."""

    device_unique_id: str | None = None
    user_key: str | None = None
    device_key: str | None = None
    enrolled_user: EnrolledUser | None = None


class Profile(msgspec.Struct, rename="camel", gc=False):
    """``profile``."""

    private_play: PrivatePlay | None = None


class Request(msgspec.Struct, gc=False):
    """A Backend proxy request body."""

    version: str | None = None
    action: Action | None = None
    event: dict[str, Any] | None = None
    context: Context | None = None
    profile: Profile | None = None


class Response(msgspec.Struct, rename="camel", gc=False):
    """A Backend proxy response body (every field always present)."""

    version: str
    result_code: str
    output: dict[str, str | None]
    directives: list[dict[str, Any]]


request_decoder = msgspec.json.Decoder(Request, strict=False)
response_encoder = msgspec.json.Encoder()


class ResponseIn(msgspec.Struct, rename="camel"):
    """A response as a client (the simulator, the checker) reads it: tolerant, all optional."""

    version: Any = None
    result_code: Any = None
    output: Any = None
    directives: Any = None


def build_request(
    action: str,
    params: dict[str, Any],
    *,
    param_types: dict[str, str | None] | None = None,
    session_id: str = "",
    is_new: bool = False,
    play_builder: bool = False,
    null_form: bool = False,
    event: dict[str, Any] | None = None,
    device_type: str = "speaker",
    supported_interfaces: dict[str, Any] | None = None,
    access_token: str | None = None,
    profile: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A request body as the NUGU platform would send it, as a JSON-ready dict.

    Null parameters are omitted (the API reference's rule) unless ``null_form`` is set, which
    sends them as ``{"type": null, "value": null}`` (the backend-proxy guide's form).
    ``play_builder`` builds the Play Builder test shape: no event, device ``speaker``,
    ``isPlayBuilderRequest: true``.
    """
    types = param_types or {}
    wire_params: dict[str, Any] = {}
    for key, value in params.items():
        if value is None:
            if null_form:
                wire_params[key] = {"type": None, "value": None}
            continue
        wire_params[key] = {"type": types.get(key), "value": value}
    session: dict[str, Any] = {"id": session_id, "isNew": is_new}
    if play_builder:
        session["isPlayBuilderRequest"] = True
    elif access_token:
        session["accessToken"] = access_token
    body: dict[str, Any] = {
        "version": "2.0",
        "action": {"actionName": action, "parameters": wire_params},
        "context": {
            "session": session,
            "device": {"type": "speaker" if play_builder else device_type, "state": {}},
            "supportedInterfaces": supported_interfaces if supported_interfaces is not None else {},
        },
    }
    if event is not None and not play_builder:
        body["event"] = event
    if profile is not None:
        body["profile"] = profile
    return body
