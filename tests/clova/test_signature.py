"""SignatureCEK verification (spec §9.1) with the bundled key and the test signer."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from voicehook.clova.signature import (
    BUNDLED_KEY_SHA256,
    SignatureError,
    SignatureVerifier,
    bundled_public_key_pem,
)
from voicehook.testing import ClovaSigner

FIXTURE = json.loads((Path(__file__).parent / "data" / "clova-signed-request.json").read_text())
REAL_BODY = base64.b64decode(FIXTURE["body_base64"])
REAL_SIGNATURE = FIXTURE["signature_cek"].encode()


def test_the_bundled_key_is_clovas_published_key() -> None:
    key = serialization.load_pem_public_key(bundled_public_key_pem())
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert hashlib.sha256(der).hexdigest() == BUNDLED_KEY_SHA256
    assert SignatureVerifier.bundled().fingerprint == BUNDLED_KEY_SHA256


def test_real_signed_request_verifies_with_the_bundled_key() -> None:
    assert len(REAL_BODY) == 556
    SignatureVerifier.bundled().verify(REAL_SIGNATURE, REAL_BODY)


def test_real_request_reserialised_does_not_verify() -> None:
    reserialised = json.dumps(json.loads(REAL_BODY)).encode()  # spaces after : and ,
    with pytest.raises(SignatureError) as err:
        SignatureVerifier.bundled().verify(REAL_SIGNATURE, reserialised)
    assert err.value.code == "invalid_signature"


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "missing_signature"),
        (b"", "missing_signature"),
        (b"   ", "missing_signature"),
        (b"not base64 at all!", "malformed_signature"),
        (b"abc", "malformed_signature"),  # bad padding
        (b"A" * 2000, "malformed_signature"),
        (base64.b64encode(b"\0" * 256), "invalid_signature"),
        (base64.b64encode(b"short"), "invalid_signature"),
    ],
)
def test_bad_headers(header: bytes | None, code: str) -> None:
    with pytest.raises(SignatureError) as err:
        SignatureVerifier.bundled().verify(header, REAL_BODY)
    assert err.value.code == code


def test_tampered_body(signer: ClovaSigner) -> None:
    body = b'{"version":"1.0","request":{"type":"LaunchRequest"}}'
    header = signer.sign(body).encode()
    signer.verifier().verify(header, body)
    with pytest.raises(SignatureError) as err:
        signer.verifier().verify(header, body.replace(b"Launch", b"Lunch"))
    assert err.value.code == "invalid_signature"


def test_wrong_key(signer: ClovaSigner) -> None:
    body = b"{}"
    with pytest.raises(SignatureError) as err:
        SignatureVerifier.bundled().verify(signer.sign(body).encode(), body)
    assert err.value.code == "invalid_signature"
    with pytest.raises(SignatureError):
        signer.verifier().verify(REAL_SIGNATURE, REAL_BODY)


def test_key_from_a_pem_file(tmp_path: Path, signer: ClovaSigner) -> None:
    path = signer.write_public_key(tmp_path / "key.pem")
    verifier = SignatureVerifier.from_file(path)
    body = b'{"a":1}'
    verifier.verify(signer.sign(body).encode(), body)
    assert verifier.source == str(path)


def test_bad_key_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read"):
        SignatureVerifier.from_file(tmp_path / "missing.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    with pytest.raises(ValueError, match="not a PEM public key"):
        SignatureVerifier.from_file(junk)
