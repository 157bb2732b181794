"""Test helpers for CLOVA extensions: a signer and request builders.

Tests exercise signature verification instead of turning it off: give the channel the
signer's verifier (or ``voicehook serve --clova-public-key`` its public key file) and sign
every body::

    signer = ClovaSigner()
    channel = ClovaChannel(ext, verifier=signer.verifier())
    body = cek_request("IntentRequest", intent="Weather", slots={"city": "부산"})
    headers = {"SignatureCEK": signer.sign(body)}
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from voicehook.clova.signature import SignatureVerifier

__all__ = [
    "TEST_APPLICATION_ID",
    "ClovaClient",
    "ClovaSigner",
    "ClovaTurn",
    "cek_request",
    "check_clova_spec",
]

#: The applicationId test requests carry unless told otherwise.
TEST_APPLICATION_ID = "com.example.voicehook"


class ClovaSigner:
    """A freshly generated RSA-2048 key pair that signs CEK bodies as CLOVA does."""

    __slots__ = ("_key",)

    def __init__(self, key: rsa.RSAPrivateKey | None = None) -> None:
        self._key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @classmethod
    def from_private_key(cls, path: str | Path) -> ClovaSigner:
        """A signer with the RSA private key in the PEM file ``path``."""
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path}: not an RSA private key")
        return cls(key)

    def write_private_key(self, path: str | Path) -> Path:
        """Write the private key as unencrypted PEM (a test key only!)."""
        out = Path(path)
        out.write_bytes(
            self._key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return out

    def sign(self, body: bytes) -> str:
        """The ``SignatureCEK`` header value for ``body``."""
        signature = self._key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    def public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def write_public_key(self, path: str | Path) -> Path:
        """Write the public key as PEM (for ``--clova-public-key``); returns the path."""
        out = Path(path)
        out.write_bytes(self.public_pem())
        return out

    def verifier(self) -> SignatureVerifier:
        return SignatureVerifier(self._key.public_key(), "test signer key")


def cek_request(
    kind: str,
    *,
    intent: str | None = None,
    slots: Mapping[str, Any] | None = None,
    event: str | None = None,
    payload: Mapping[str, Any] | None = None,
    session_id: str = "session-1",
    new: bool = False,
    user_id: str = "user-1",
    application_id: str | None = TEST_APPLICATION_ID,
    attributes: Mapping[str, Any] | None = None,
    version: str = "1.0",
    audio_player: Mapping[str, Any] | None = None,
) -> bytes:
    """A CEK request body (compact JSON bytes), shaped like real traffic.

    ``slots`` maps a slot name to a value, or to a dict with ``value`` / ``valueType`` /
    ``unit``. ``event`` is ``"Namespace.Name"``.
    """
    body: dict[str, Any] = {"type": kind, "requestId": str(uuid.uuid4())}
    if kind == "IntentRequest":
        wire_slots: dict[str, Any] | None = None
        if slots:
            wire_slots = {}
            for name, value in slots.items():
                slot = dict(value) if isinstance(value, Mapping) else {"value": value}
                wire_slots[name] = {"name": name, **slot}
        body["intent"] = {"name": intent or "", "slots": wire_slots}
    if kind == "EventRequest":
        namespace, _, name = (event or "").partition(".")
        body["timestamp"] = "2026-01-01T00:00:00Z"
        body["event"] = {"namespace": namespace, "name": name, "payload": dict(payload or {})}
    system: dict[str, Any] = {
        "user": {"userId": user_id},
        "device": {"deviceId": "device-1", "display": {"size": "none"}},
    }
    if application_id is not None:
        system["application"] = {"applicationId": application_id}
    context: dict[str, Any] = {"System": system}
    if audio_player is not None:
        context["AudioPlayer"] = dict(audio_player)
    message = {
        "version": version,
        "session": {
            "new": new,
            "sessionAttributes": dict(attributes or {}),
            "sessionId": session_id,
            "user": {"userId": user_id},
        },
        "context": context,
        "request": body,
    }
    return json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()


class ClovaTurn:
    """One CEK answer as a test sees it.

    ``status`` / ``data``: the HTTP status and JSON body. ``speech``: every PlainText and
    URL value of ``outputSpeech`` joined by spaces (the verbose form of a SpeechSet).
    ``end``: ``shouldEndSession``. ``directives``: ``namespace.name`` of each directive.
    """

    __slots__ = ("data", "status")

    def __init__(self, status: int, data: Any) -> None:
        self.status = status
        self.data = data

    @property
    def response(self) -> dict[str, Any]:
        found = self.data.get("response") if isinstance(self.data, dict) else None
        return found if isinstance(found, dict) else {}

    @staticmethod
    def _values(speech: Any) -> list[str]:
        if not isinstance(speech, dict):
            return []
        if speech.get("type") == "SpeechSet":
            return ClovaTurn._values(speech.get("verbose"))
        values = speech.get("values")
        items = values if isinstance(values, list) else [values] if values else []
        return [str(v.get("value")) for v in items if isinstance(v, dict)]

    @property
    def speech(self) -> str:
        return " ".join(self._values(self.response.get("outputSpeech")))

    @property
    def reprompt(self) -> str:
        reprompt = self.response.get("reprompt")
        if not isinstance(reprompt, dict):
            return ""
        return " ".join(self._values(reprompt.get("outputSpeech")))

    @property
    def end(self) -> bool | None:
        value = self.response.get("shouldEndSession")
        return value if isinstance(value, bool) else None

    @property
    def directives(self) -> list[str]:
        out = []
        for d in self.response.get("directives") or []:
            header = d.get("header") or {} if isinstance(d, dict) else {}
            out.append(f"{header.get('namespace')}.{header.get('name')}")
        return out

    def __repr__(self) -> str:
        return f"ClovaTurn({self.status}, end={self.end}, speech={self.speech!r})"


class ClovaClient:
    """Talks to a CLOVA endpoint like CLOVA does: signed CEK requests, one session at a time.

    ``target`` is a :class:`~voicehook.server.VoicehookApp` (called in process through its
    ASGI path; its lifespan starts on the first call) or a URL (``http://127.0.0.1:8080``).
    The session id changes after an answer that ends the session; ``sessionAttributes`` are
    sent back as CLOVA does. ``session_ids`` makes the n-th session id (n from 1) repeatable.
    Use ``async with``.
    """

    def __init__(
        self,
        target: Any,
        signer: ClovaSigner | None,
        *,
        path: str = "/clova",
        user_id: str = "user-1",
        application_id: str | None = TEST_APPLICATION_ID,
        version: str = "1.0",
        session_ids: Callable[[int], str] | None = None,
    ) -> None:
        self.target = target
        self._session_ids = session_ids
        self.sessions = 0
        self.signer = signer
        self.path = path
        self.user_id = user_id
        self.application_id = application_id
        self.version = version
        self.session_id = ""
        self.new = True
        self.attributes: dict[str, Any] = {}
        self.new_session()
        self.audio_player: dict[str, Any] | None = None
        self._http: Any = None
        self._started = False
        self.last_body = b""

    async def __aenter__(self) -> ClovaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._started:
            await self.target.shutdown()
            self._started = False

    def new_session(self) -> None:
        self.sessions += 1
        make = self._session_ids
        self.session_id = make(self.sessions) if make is not None else str(uuid.uuid4())
        self.new = True
        self.attributes = {}

    async def post(self, body: bytes, headers: Mapping[str, str] | None = None) -> ClovaTurn:
        """Send ``body`` as is (signed unless ``headers`` are given)."""
        if headers is None:
            headers = {"Content-Type": "application/json;charset-UTF-8"}
            if self.signer is not None:
                headers["SignatureCEK"] = self.signer.sign(body)
        if isinstance(self.target, str):
            import aiohttp

            if self._http is None:
                self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
            async with self._http.post(
                self.target.rstrip("/") + self.path, data=body, headers=dict(headers)
            ) as r:
                raw = await r.read()
                status = r.status
        else:
            from voicehook.server.inprocess import call_asgi

            if not self._started and not self.target.started:
                await self.target.startup()
                self._started = True
            status, _, raw = await call_asgi(self.target, "POST", self.path, body, headers)
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        return ClovaTurn(status, data)

    async def send(self, kind: str, **kwargs: Any) -> ClovaTurn:
        """Send one request of ``kind`` in the current session (see :func:`cek_request`)."""
        if self.audio_player is not None:
            kwargs.setdefault("audio_player", self.audio_player)
        body = cek_request(
            kind,
            session_id=self.session_id,
            new=self.new,
            user_id=self.user_id,
            application_id=self.application_id,
            attributes=self.attributes,
            version=self.version,
            **kwargs,
        )
        self.last_body = body
        turn = await self.post(body)
        self.new = False
        if turn.status == 200:
            attrs = turn.data.get("sessionAttributes") if isinstance(turn.data, dict) else None
            self.attributes = attrs if isinstance(attrs, dict) else {}
            if turn.end is not False:
                self.new_session()
        return turn

    async def launch(self) -> ClovaTurn:
        """A LaunchRequest, in a new session unless the current one has not started."""
        if not self.new:
            self.new_session()
        return await self.send("LaunchRequest")

    async def intent(self, name: str, slots: Mapping[str, Any] | None = None) -> ClovaTurn:
        return await self.send("IntentRequest", intent=name, slots=slots)

    async def event(self, name: str, payload: Mapping[str, Any] | None = None) -> ClovaTurn:
        """An EventRequest; AudioPlayer events come in a fresh session, as on CLOVA."""
        saved = (self.session_id, self.new, self.attributes)
        self.session_id, self.new, self.attributes = str(uuid.uuid4()), True, {}
        try:
            return await self.send("EventRequest", event=name, payload=payload)
        finally:
            self.session_id, self.new, self.attributes = saved

    async def session_ended(self) -> ClovaTurn:
        turn = await self.send("SessionEndedRequest")
        self.new_session()
        return turn


def check_clova_spec(spec: Any) -> str | None:
    """What is wrong with a turn's ``clova:`` request, or None. Forms: ``{launch: true}``,
    ``{end: true}`` (SessionEndedRequest), ``{intent: NAME, slots: {...}}``,
    ``{event: Namespace.Name, payload: {...}}``."""
    if not isinstance(spec, dict):
        return "expected a mapping: {intent, slots}, {event, payload}, {launch: true}, {end: true}"
    kinds = [k for k in ("launch", "end", "intent", "event") if k in spec]
    if len(kinds) != 1:
        return "give exactly one of launch, end, intent or event"
    allowed = {"launch": set(), "end": set(), "intent": {"slots"}, "event": {"payload"}}[kinds[0]]
    extra = set(spec) - {kinds[0]} - allowed
    if extra:
        return f"unknown keys: {', '.join(sorted(extra))}"
    for key in ("slots", "payload"):
        if key in spec and not isinstance(spec[key], dict):
            return f"{key} must be a mapping"
    if kinds[0] == "event" and str(spec["event"]).count(".") != 1:
        return "event is Namespace.Name, e.g. AudioPlayer.PlayFinished"
    return None
