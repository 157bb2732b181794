"""What a CLOVA handler receives: :class:`ClovaRequest`, a read-only view of a CEK request
that never fails on the gaps real traffic has (spec §2.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from voicehook.clova import wire
from voicehook.clova.slots import Slot

if TYPE_CHECKING:
    from voicehook.play.context import AppContext

__all__ = ["REQUEST_TYPES", "ClovaRequest"]

REQUEST_TYPES = frozenset({"LaunchRequest", "IntentRequest", "SessionEndedRequest", "EventRequest"})


class ClovaRequest:
    """One verified, decoded CEK request.

    - ``type``: ``LaunchRequest``, ``IntentRequest``, ``SessionEndedRequest``, ``EventRequest``.
    - ``version``: the message version (``"1.0"`` or ``"0.1.0"``; the answer echoes it).
    - ``intent`` / ``slots``: the intent name and its :class:`~voicehook.clova.slots.Slot`\\ s.
    - ``event``: ``"AudioPlayer.PlayStarted"`` for an EventRequest; ``payload`` its payload.
    - ``session_id``, ``is_new``, ``attributes`` (the ``sessionAttributes`` sent back).
    - ``user_id``: the speaker (``session.user``), else the device owner (``context.System.user``).
    - ``application_id``, ``device_id``, ``request_id``, ``timestamp``, ``locale``.
    - ``audio_player``: ``context.AudioPlayer`` or None. ``raw``: the wire struct.
    - ``app``: the server's :class:`~voicehook.play.context.AppContext` (store, http).
    """

    __slots__ = ("_slots", "app", "raw", "request_id", "server_request_id", "type", "version")

    channel = "clova"

    def __init__(
        self, raw: wire.Request, server_request_id: str = "", app: AppContext | None = None
    ) -> None:
        body = raw.request or wire.RequestBody()
        self.raw = raw
        self.type = body.type or ""
        self.version = raw.version or "1.0"
        self.request_id = body.request_id
        self.server_request_id = server_request_id
        self.app = app
        self._slots: dict[str, Slot] | None = None

    # -- session and user ---------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        s = self.raw.session
        return s.session_id if s is not None and s.session_id else None

    @property
    def is_new(self) -> bool:
        s = self.raw.session
        return bool(s is not None and s.new)

    @property
    def attributes(self) -> dict[str, Any]:
        """A copy of ``session.sessionAttributes`` (``{}`` when absent)."""
        s = self.raw.session
        return dict(s.session_attributes) if s is not None and s.session_attributes else {}

    @property
    def _system(self) -> wire.System | None:
        ctx = self.raw.context
        return ctx.system if ctx is not None else None

    @property
    def user_id(self) -> str | None:
        s = self.raw.session
        if s is not None and s.user is not None and s.user.user_id:
            return s.user.user_id
        system = self._system
        if system is not None and system.user is not None and system.user.user_id:
            return system.user.user_id
        return None

    @property
    def access_token(self) -> str | None:
        s = self.raw.session
        if s is not None and s.user is not None and s.user.access_token:
            return s.user.access_token
        return None

    @property
    def application_id(self) -> str | None:
        """``context.System.application.applicationId``, else ``request.extensionId``."""
        system = self._system
        if system is not None and system.application is not None:
            app_id = system.application.application_id
            if app_id:
                return app_id
        body = self.raw.request
        return body.extension_id if body is not None and body.extension_id else None

    @property
    def device_id(self) -> str | None:
        system = self._system
        if system is not None and system.device is not None:
            return system.device.device_id or None
        return None

    @property
    def timestamp(self) -> str | None:
        body = self.raw.request
        return body.timestamp if body is not None else None

    @property
    def locale(self) -> str | None:
        body = self.raw.request
        return body.locale if body is not None else None

    # -- intent ---------------------------------------------------------------------------

    @property
    def intent(self) -> str | None:
        """The intent name of an IntentRequest (None for other types)."""
        if self.type != "IntentRequest":
            return None
        body = self.raw.request
        info = body.intent if body is not None else None
        return info.name if info is not None and info.name else None

    @property
    def slots(self) -> dict[str, Slot]:
        """The slots of an IntentRequest by name (``{}`` when ``slots`` is null)."""
        if self._slots is None:
            found: dict[str, Slot] = {}
            body = self.raw.request
            info = body.intent if body is not None and self.type == "IntentRequest" else None
            if info is not None and info.slots:
                for key, slot in info.slots.items():
                    if slot is None:
                        continue
                    found[key] = Slot.of(slot.name or key, slot.value, slot.value_type, slot.unit)
            self._slots = found
        return self._slots

    def slot(self, name: str, default: str | None = None) -> str | None:
        """A slot's value as text, or ``default``."""
        found = self.slots.get(name)
        return found.value if found is not None and found.value is not None else default

    # -- events ---------------------------------------------------------------------------

    @property
    def event(self) -> str | None:
        """``namespace.name`` of an EventRequest (None for other types)."""
        body = self.raw.request
        ev = body.event if body is not None and self.type == "EventRequest" else None
        if ev is None or not ev.namespace or not ev.name:
            return None
        return f"{ev.namespace}.{ev.name}"

    @property
    def payload(self) -> dict[str, Any]:
        """The event payload (``{}`` when null or absent)."""
        body = self.raw.request
        ev = body.event if body is not None else None
        return dict(ev.payload) if ev is not None and ev.payload else {}

    @property
    def audio_player(self) -> wire.AudioPlayerContext | None:
        ctx = self.raw.context
        return ctx.audio_player if ctx is not None else None

    def __repr__(self) -> str:
        what = self.intent or self.event or ""
        return f"ClovaRequest({self.type} {what}".rstrip() + f", session={self.session_id!r})"
