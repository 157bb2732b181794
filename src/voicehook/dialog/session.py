"""The dialog engine's state: the conversation, and the device, kept apart.

The engine is stateless. What it remembers of a conversation between two turns lives in a
:class:`DialogState` (slot filling, exception wait, parameters), a msgspec Struct that
encodes to JSON or msgpack. The device the user talks to (its AudioPlayer) is a
:class:`DeviceState`: a channel supplies it with each turn (CLOVA sends the player's state in
every request) or a simulator keeps it between turns, across sessions, as a real speaker
would. A server can keep the conversation in the state store and serve the next turn from any
process::

    state = engine.new_state()
    result = await engine.turn(state, UserText("서울 날씨 알려줘"))
    blob = encode_state(result.state)          # store it
    state = decode_state(blob)                 # later, anywhere
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "AudioPlayerState",
    "ConfirmWait",
    "DeviceState",
    "DialogState",
    "ExceptionWait",
    "ListenWait",
    "PendingEntity",
    "SlotWait",
    "Waiting",
    "decode_state",
    "encode_state",
]


class AudioPlayerState(msgspec.Struct, rename="camel"):
    """The simulated device's AudioPlayer, as sent in ``context.supportedInterfaces``."""

    player_activity: str = "IDLE"
    token: str | None = None
    offset_in_milliseconds: int = 0

    def as_context(self) -> dict[str, object]:
        """The ``supportedInterfaces.AudioPlayer`` object of a request."""
        out: dict[str, object] = {"playerActivity": self.player_activity}
        if self.token is not None:
            out["token"] = self.token
        out["offsetInMilliseconds"] = self.offset_in_milliseconds
        return out


class SlotWait(msgspec.Struct, tag="slot", frozen=True):
    """Slot filling: ``param`` of ``action`` is missing; ``spoken`` prompts were asked."""

    action: str
    param: str
    spoken: int = 1


class ExceptionWait(msgspec.Struct, tag="exception", frozen=True):
    """Exception wait: ``action`` answered ``code``; ``spoken`` exception prompts were said."""

    action: str
    code: str
    spoken: int = 1


class ListenWait(msgspec.Struct, tag="listen", frozen=True):
    """Multi-turn listen: the next utterance is matched against ``action``'s branches.

    ``reprompts`` counts the reprompts spoken since the wait prompt.
    """

    action: str
    reprompts: int = 0


class PendingEntity(msgspec.Struct, frozen=True, array_like=True):
    """An entity kept while the user confirms it: ``[type, role, text, value]``."""

    type: str
    role: str
    text: str
    value: str


class ConfirmWait(msgspec.Struct, tag="confirm", frozen=True):
    """The user is asked to confirm what a typo-corrected or partial entity was read as
    ("모래 → 모레, 맞아요?"). ``intent``, ``score`` and ``entities`` run on yes; ``resume``
    is the wait that was active before the question (None: none)."""

    action: str
    intent: str | None
    score: float
    entities: tuple[PendingEntity, ...] = ()
    resume: SlotWait | ExceptionWait | ListenWait | None = None


Waiting: TypeAlias = SlotWait | ExceptionWait | ListenWait | ConfirmWait


class DeviceState(msgspec.Struct, kw_only=True):
    """The device: its AudioPlayer. It outlives sessions, like a real speaker."""

    audio: AudioPlayerState = msgspec.field(default_factory=AudioPlayerState)

    def copy(self) -> DeviceState:
        return DeviceState(audio=msgspec.structs.replace(self.audio))


class DialogState(msgspec.Struct, kw_only=True):
    """Everything the engine keeps of a conversation between turns.

    - ``active``: a play session is open (the device listens for the next utterance).
    - ``session_id`` / ``is_new``: sent in ``context.session``; ``is_new`` is true during the
      first turn of a session only.
    - ``params``: known parameter values by name (utterance, backend and configurable);
      ``param_types``: the entity type that filled each utterance parameter.
    - ``waiting``: a slot-filling, exception-wait or multi-turn state, or None.
    - ``fallback_spoken``: position in the fallback prompt stack (consecutive fallbacks).
    - ``failures``: consecutive turns that failed (fallback, unfilled slot, no branch, ...).
    - ``last_prompt`` / ``last_prompt_type`` / ``last_directives``: the last response.
    - ``turns`` / ``sessions``: counters (turn numbers, reproducible session ids).
    """

    active: bool = False
    session_id: str = ""
    is_new: bool = False
    params: dict[str, str | None] = msgspec.field(default_factory=dict)
    param_types: dict[str, str] = msgspec.field(default_factory=dict)
    waiting: Waiting | None = None
    fallback_spoken: int = 0
    failures: int = 0
    last_prompt: str | None = None
    last_prompt_type: Literal["wait", "end"] | None = None
    last_directives: list[dict[str, object]] = msgspec.field(default_factory=list)
    turns: int = 0
    sessions: int = 0


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(DialogState)


def encode_state(state: DialogState) -> bytes:
    """The state as JSON bytes."""
    return _encoder.encode(state)


def decode_state(data: bytes | str) -> DialogState:
    """A state from :func:`encode_state`'s JSON. Raises msgspec errors on bad input."""
    return _decoder.decode(data)


def copy_state(state: DialogState) -> DialogState:
    """A deep copy (the engine never changes the state it was given)."""
    return _decoder.decode(_encoder.encode(state))
