"""What a handler receives (:class:`ActionRequest`) and what an action call gives back.

The play layer knows no platform JSON. A channel (``voicehook.nugu`` for NUGU) decodes the
wire format and hands the play layer objects that satisfy the small read-only protocols below.
The dataclasses here implement the same protocols for tests and in-process calls.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import msgspec

if TYPE_CHECKING:
    from voicehook.play.context import AppContext
    from voicehook.play.state import SessionState


class SessionInfo(Protocol):
    """The conversation: ``context.session`` on NUGU."""

    @property
    def id(self) -> str: ...
    @property
    def is_new(self) -> bool: ...
    @property
    def access_token(self) -> str | None: ...
    @property
    def is_play_builder_request(self) -> bool: ...


class DeviceInfo(Protocol):
    """The device: ``context.device`` on NUGU."""

    @property
    def type(self) -> str: ...
    @property
    def state(self) -> dict[str, Any] | None: ...


class AudioPlayerInfo(Protocol):
    """The AudioPlayer context: ``context.supportedInterfaces.AudioPlayer`` on NUGU."""

    @property
    def player_activity(self) -> str: ...
    @property
    def token(self) -> str | None: ...
    @property
    def offset_in_milliseconds(self) -> int: ...


class EnrolledUserInfo(Protocol):
    """A Private Play's enrolled (invited) user."""

    @property
    def name(self) -> str | None: ...
    @property
    def phone_no(self) -> str | None: ...
    @property
    def email(self) -> str | None: ...
    @property
    def tag(self) -> str | None: ...


class PrivatePlayInfo(Protocol):
    """``profile.privatePlay`` on a Private Play."""

    @property
    def device_unique_id(self) -> str | None: ...
    @property
    def user_key(self) -> str | None: ...
    @property
    def device_key(self) -> str | None: ...
    @property
    def enrolled_user(self) -> EnrolledUserInfo | None: ...


@dataclass(frozen=True, slots=True)
class Session:
    """A plain :class:`SessionInfo`, for tests and in-process calls."""

    id: str = ""
    is_new: bool = False
    access_token: str | None = None
    is_play_builder_request: bool = False


@dataclass(frozen=True, slots=True)
class Device:
    """A plain :class:`DeviceInfo`."""

    type: str = "speaker"
    state: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AudioPlayer:
    """A plain :class:`AudioPlayerInfo`."""

    player_activity: str = "IDLE"
    token: str | None = None
    offset_in_milliseconds: int = 0


class Event(msgspec.Struct, gc=False):
    """A device event delivered with the action call (``event`` on NUGU).

    ``type`` is the event name such as ``AudioPlayer.PlaybackFinished``; ``fields`` holds every
    field of the event, ``type`` included.
    """

    type: str | None
    fields: Mapping[str, Any] = msgspec.field(default_factory=dict)

    @property
    def token(self) -> str | None:
        """The ``token`` field (AudioPlayer events carry the stream token)."""
        value = self.fields.get("token")
        return value if isinstance(value, str) else None

    @property
    def offset_in_milliseconds(self) -> int | None:
        """The ``offsetInMilliseconds`` field of AudioPlayer events."""
        value = self.fields.get("offsetInMilliseconds")
        if isinstance(value, bool):
            return None
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
        return None

    def get(self, name: str, default: Any = None) -> Any:
        """Any other field of the event."""
        return self.fields.get(name, default)


class InterfacesInfo(Protocol):
    """The interfaces the play enabled: ``context.supportedInterfaces`` on NUGU."""

    @property
    def audio_player(self) -> AudioPlayerInfo | None: ...
    @property
    def display(self) -> dict[str, Any] | None: ...
    @property
    def extension(self) -> dict[str, Any] | None: ...


@dataclass(frozen=True, slots=True)
class Interfaces:
    """A plain :class:`InterfacesInfo`."""

    audio_player: AudioPlayer | None = None
    display: dict[str, Any] | None = None
    extension: dict[str, Any] | None = None


NO_EVENT = Event(type=None)
_NO_SESSION = Session()
_NO_DEVICE = Device()
_NO_INTERFACES = Interfaces()


class ActionRequest:
    """The typed view of one action call that a handler receives.

    - ``params``: parameter values by name, ``None`` when missing or null. Every declared
      parameter of the action is present.
    - ``param_types``: the entity type the platform sent for each parameter.
    - ``session``, ``device``, ``event``, ``audio_player``, ``profile``: the call's context.
    - ``raw``: the request body as received, for anything voicehook does not model.
    """

    __slots__ = (
        "_session_state",
        "_states",
        "_user_state",
        "action",
        "app",
        "audio_player",
        "channel",
        "deadline",
        "device",
        "event",
        "interfaces",
        "param_types",
        "params",
        "plain",
        "profile",
        "raw",
        "request_id",
        "session",
        "user",
        "version",
    )

    def __init__(
        self,
        action: str,
        params: dict[str, Any],
        param_types: dict[str, str | None] | None = None,
        session: SessionInfo | None = None,
        device: DeviceInfo | None = None,
        event: Event | None = None,
        audio_player: AudioPlayerInfo | None = None,
        interfaces: InterfacesInfo | None = None,
        profile: PrivatePlayInfo | None = None,
        version: str = "2.0",
        raw: bytes = b"",
        request_id: str = "",
        app: AppContext | None = None,
    ) -> None:
        self.action = action
        self.params = params
        #: True when a channel guarantees every value in ``params`` is a str or None.
        self.plain = False
        self.param_types = param_types or {}
        self.session: SessionInfo = session or _NO_SESSION
        self.device: DeviceInfo = device or _NO_DEVICE
        self.event: Event = event or NO_EVENT
        self.audio_player = audio_player
        self.interfaces: InterfacesInfo = interfaces or _NO_INTERFACES
        self.profile = profile
        self.version = version
        self.raw = raw
        self.request_id = request_id
        self.app = app
        #: The channel that called: ``"nugu"``, ``"clova"`` or ``"botframework"``.
        self.channel = "nugu"
        #: The stable user key a channel supplies (CLOVA ``userId``, Bot Framework
        #: ``from.id``); NUGU's comes from the Private Play profile instead.
        self.user: str | None = None
        #: The turn's deadline on the event loop's clock (set by ``Play.call``); writes of
        #: ``update_session`` must not land after it (docs/state.md, "No late writes").
        self.deadline: float | None = None
        self._session_state: SessionState | None = None
        self._user_state: SessionState | None = None
        self._states: list[SessionState] | None = None

    @property
    def event_type(self) -> str | None:
        """The device event's name (``AudioPlayer.PlaybackFinished``), or None."""
        return self.event.type

    def is_event(self, *names: str) -> bool:
        """True when the call carries one of these events. ``"PlaybackFinished"`` is short
        for ``"AudioPlayer.PlaybackFinished"``."""
        etype = self.event.type
        if etype is None:
            return False
        for name in names:
            if etype == name or ("." not in name and etype == f"AudioPlayer.{name}"):
                return True
        return False

    @property
    def user_key(self) -> str | None:
        """A stable key for the user, where the platform gives one: NUGU Private Play
        ``userKey``, CLOVA ``userId``, Bot Framework ``from.id``."""
        if self.user:
            return self.user
        profile = self.profile
        key = profile.user_key if profile is not None else None
        return key or None  # an empty userKey is no key

    def _store(self) -> Any:
        if self.app is None or self.app.store is None:
            raise RuntimeError(
                "session state needs a store: run with --store URL (or VOICEHOOK_STORE), "
                "or create_app(play, store=...)"
            )
        return self.app.store

    async def session_state(self) -> SessionState:
        """This conversation's state: a dict loaded from the store on first use and saved
        after the turn if it changed. Keyed by play name and session id."""
        if self._session_state is None:
            store = self._store()
            app = self.app
            assert app is not None
            self._session_state = await _state_class().load(
                store, app.state_key(self), app.session_ttl
            )
            self._track(self._session_state)
        return self._session_state

    async def user_state(self) -> SessionState | None:
        """State of this user across sessions, keyed by the platform's stable user key
        (NUGU Private Play ``userKey``); None when the platform gives no such key."""
        user = self.user_key
        if user is None:
            return None
        if self._user_state is None:
            store = self._store()
            app = self.app
            assert app is not None
            self._user_state = await _state_class().load(store, app.user_key(user), app.user_ttl)
            self._track(self._user_state)
        return self._user_state

    async def update_session(self, fn: Callable[[dict[str, Any]], Any]) -> dict[str, Any]:
        """Atomically change the session state with ``fn(state)``, retrying on conflicts
        with other processes. ``fn`` may run more than once: no side effects in it."""
        from voicehook.play.state import update_state
        from voicehook.store.base import write_deadline

        store = self._store()
        app = self.app
        assert app is not None
        with write_deadline(self.deadline):
            return await update_state(store, app.state_key(self), fn, app.session_ttl)

    def _track(self, state: SessionState) -> None:
        if self._states is None:
            self._states = []
        self._states.append(state)

    async def save_state(self) -> None:
        """Save the loaded states that changed (done for you after each turn)."""
        for st in self._states or ():
            await st.save()

    def __repr__(self) -> str:
        return f"ActionRequest(action={self.action!r}, params={self.params!r})"


_STATE_CLASS: type[SessionState] | None = None


def _state_class() -> type[SessionState]:
    """:class:`SessionState`, imported on first use (the play layer does not load the store
    modules until a handler asks for state)."""
    global _STATE_CLASS
    if _STATE_CLASS is None:
        from voicehook.play.state import SessionState

        _STATE_CLASS = SessionState
    return _STATE_CLASS


class Reply:
    """A handler's answer when it needs more than output values.

    ``output`` changes parameter values (every other key is still echoed), ``directives``
    are AudioPlayer/Display directives as dicts (see ``voicehook.nugu.directives``).
    """

    __slots__ = ("directives", "output")

    def __init__(
        self,
        output: Mapping[str, object] | None = None,
        directives: list[dict[str, Any]] | None = None,
    ) -> None:
        self.output: Mapping[str, object] = output if output is not None else {}
        self.directives: list[dict[str, Any]] = directives if directives is not None else []

    def __repr__(self) -> str:
        return f"Reply(output={self.output!r}, directives={self.directives!r})"


class ActionResult:
    """The outcome of an action call, independent of any platform.

    ``result_code`` is ``"OK"`` or an exception code; ``output`` holds a string or None for
    every parameter key; ``error`` says why a failure code was chosen (for logs, never sent).
    """

    __slots__ = ("directives", "error", "output", "result_code")

    def __init__(
        self,
        result_code: str,
        output: dict[str, str | None],
        directives: list[dict[str, Any]] | None = None,
        error: str | None = None,
    ) -> None:
        self.result_code = result_code
        self.output = output
        self.directives = directives if directives is not None else []
        self.error = error

    @property
    def ok(self) -> bool:
        return self.result_code == "OK"

    def __repr__(self) -> str:
        return (
            f"ActionResult(result_code={self.result_code!r}, output={self.output!r}, "
            f"directives={self.directives!r})"
        )
