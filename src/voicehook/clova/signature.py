"""``SignatureCEK`` verification (spec §9.1): Base64 of an RSA PKCS#1 v1.5 / SHA-256
signature over the raw request body bytes, checked against CLOVA's published public key.

The key is bundled (``cek-public-key.pem``, the key every official SDK embeds) and can be
replaced with another PEM file, e.g. a test key from :class:`voicehook.testing.ClovaSigner`.
"""

from __future__ import annotations

import binascii
import hashlib
from importlib import resources
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

__all__ = [
    "BUNDLED_KEY_SHA256",
    "SignatureError",
    "SignatureVerifier",
    "bundled_public_key_pem",
]

#: SHA-256 of the DER form of CLOVA's published key (spec §9.1), checked at load time.
BUNDLED_KEY_SHA256 = "0aa9590f35a0646b12ceeb09103ba0cbdde4a97b8dca10d956550f3f8c1bee86"

#: A 2048-bit (or 4096-bit) signature is 256 (512) bytes: 700 Base64 characters is plenty.
_MAX_HEADER = 700


class SignatureError(Exception):
    """Why a request's signature was refused; ``code`` is a stable word for the answer."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def bundled_public_key_pem() -> bytes:
    """CLOVA's published CEK public key (PEM), as bundled with voicehook."""
    return resources.files("voicehook.clova").joinpath("cek-public-key.pem").read_bytes()


def _load(pem: bytes, source: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise ValueError(f"{source}: not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{source}: the CEK signature key must be an RSA key")
    if key.key_size < 2048:
        raise ValueError(f"{source}: an RSA key of {key.key_size} bits is too short")
    return key


class SignatureVerifier:
    """Checks ``SignatureCEK`` header values against one RSA public key."""

    __slots__ = ("_key", "fingerprint", "source")

    def __init__(self, key: rsa.RSAPublicKey, source: str) -> None:
        self._key = key
        self.source = source
        der = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.fingerprint = hashlib.sha256(der).hexdigest()

    @classmethod
    def bundled(cls) -> SignatureVerifier:
        """The verifier for real CLOVA traffic."""
        verifier = cls(_load(bundled_public_key_pem(), "bundled CEK key"), "bundled CLOVA key")
        if verifier.fingerprint != BUNDLED_KEY_SHA256:  # pragma: no cover - packaging error
            raise RuntimeError("the bundled CLOVA key file is damaged")
        return verifier

    @classmethod
    def from_pem(cls, pem: bytes, source: str = "PEM") -> SignatureVerifier:
        return cls(_load(pem, source), source)

    @classmethod
    def from_file(cls, path: str | Path) -> SignatureVerifier:
        """A verifier for the PEM public key in ``path`` (``--clova-public-key``)."""
        try:
            pem = Path(path).read_bytes()
        except OSError as exc:
            raise ValueError(f"cannot read the CLOVA public key {path}: {exc}") from None
        return cls.from_pem(pem, str(path))

    def verify(self, header: bytes | None, body: bytes) -> None:
        """Return when ``header`` is a valid signature of ``body``; else raise
        :class:`SignatureError` (``missing_signature`` / ``malformed_signature`` /
        ``invalid_signature``)."""
        if header is None or not header.strip():
            raise SignatureError("missing_signature", "the SignatureCEK header is missing")
        value = header.strip()
        if len(value) > _MAX_HEADER:
            raise SignatureError("malformed_signature", "the SignatureCEK header is too long")
        try:
            signature = binascii.a2b_base64(value, strict_mode=True)
        except (binascii.Error, ValueError):
            raise SignatureError(
                "malformed_signature", "the SignatureCEK header is not valid Base64"
            ) from None
        try:
            self._key.verify(signature, body, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise SignatureError(
                "invalid_signature", "the SignatureCEK signature does not match the body"
            ) from None
