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
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from voicehook.clova.signature import SignatureVerifier

__all__ = ["ClovaSigner", "cek_request"]


class ClovaSigner:
    """A freshly generated RSA-2048 key pair that signs CEK bodies as CLOVA does."""

    __slots__ = ("_key",)

    def __init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

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
    application_id: str | None = "com.example.voicehook",
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
