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


# -- the exact refusals (found by mutation testing: codes, messages and bounds) ------------


@pytest.mark.parametrize(
    ("header", "code", "message"),
    [
        (None, "missing_signature", "the SignatureCEK header is missing"),
        (b" \t", "missing_signature", "the SignatureCEK header is missing"),
        (b"A" * 701, "malformed_signature", "the SignatureCEK header is too long"),
        (b"abc", "malformed_signature", "the SignatureCEK header is not valid Base64"),
        (
            base64.b64encode(b"\0" * 256),
            "invalid_signature",
            "the SignatureCEK signature does not match the body",
        ),
    ],
)
def test_refusal_codes_and_messages(header: bytes | None, code: str, message: str) -> None:
    with pytest.raises(SignatureError) as err:
        SignatureVerifier.bundled().verify(header, REAL_BODY)
    assert (err.value.code, err.value.message, str(err.value)) == (code, message, message)


def test_header_length_limit_is_700_characters() -> None:
    # 700 Base64 characters decode (to 525 bytes) and reach the RSA check; 704 do not.
    for value, code in ((b"A" * 700, "invalid_signature"), (b"A" * 704, "malformed_signature")):
        with pytest.raises(SignatureError) as err:
            SignatureVerifier.bundled().verify(value, REAL_BODY)
        assert err.value.code == code


def test_surrounding_whitespace_is_ignored_but_inner_junk_is_not() -> None:
    SignatureVerifier.bundled().verify(b"  " + REAL_SIGNATURE + b"\r\n", REAL_BODY)
    # Base64 is read strictly: junk inside a valid signature is not skipped over.
    for junk in (REAL_SIGNATURE[:100] + b"!" + REAL_SIGNATURE[100:], REAL_SIGNATURE + b"=="):
        with pytest.raises(SignatureError) as err:
            SignatureVerifier.bundled().verify(junk, REAL_BODY)
        assert err.value.code == "malformed_signature"


def test_key_sources_and_fingerprints(signer: ClovaSigner) -> None:
    bundled = SignatureVerifier.bundled()
    assert bundled.source == "bundled CLOVA key"
    verifier = SignatureVerifier.from_pem(signer.public_pem())
    assert verifier.source == "PEM"
    der = serialization.load_pem_public_key(signer.public_pem()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert verifier.fingerprint == hashlib.sha256(der).hexdigest() != bundled.fingerprint
    assert SignatureVerifier.from_pem(signer.public_pem(), "mine").source == "mine"


def test_weak_or_wrong_keys_are_refused(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    def pem(key: object) -> bytes:
        return key.public_key().public_bytes(  # type: ignore[attr-defined, no-any-return]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    short = pem(rsa.generate_private_key(public_exponent=65537, key_size=2047))  # noqa: S505 - on purpose
    with pytest.raises(ValueError) as err:
        SignatureVerifier.from_pem(short, "short.pem")
    assert str(err.value) == "short.pem: an RSA key of 2047 bits is too short"
    # 2048 bits is the least accepted.
    SignatureVerifier.from_pem(pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    with pytest.raises(ValueError) as err:
        SignatureVerifier.from_pem(pem(ec.generate_private_key(ec.SECP256R1())), "ec.pem")
    assert str(err.value) == "ec.pem: the CEK signature key must be an RSA key"
    with pytest.raises(ValueError) as err:
        SignatureVerifier.from_pem(b"not a key", "junk.pem")
    assert str(err.value).startswith("junk.pem: not a PEM public key (")
    missing = tmp_path / "missing.pem"
    with pytest.raises(ValueError) as err:
        SignatureVerifier.from_file(missing)
    assert str(err.value).startswith(f"cannot read the CLOVA public key {missing}: [Errno 2]")


def test_a_damaged_bundled_key_stops_the_start(
    monkeypatch: pytest.MonkeyPatch, signer: ClovaSigner
) -> None:
    """A packaging error: the bundled file is not CLOVA's key, or not a key at all."""
    import voicehook.clova.signature as signature

    monkeypatch.setattr(signature, "bundled_public_key_pem", signer.public_pem)
    with pytest.raises(RuntimeError) as err:
        SignatureVerifier.bundled()
    assert str(err.value) == "the bundled CLOVA key file is damaged"
    monkeypatch.setattr(signature, "bundled_public_key_pem", lambda: b"junk")
    with pytest.raises(ValueError) as bad:
        SignatureVerifier.bundled()
    assert str(bad.value).startswith("bundled CEK key: not a PEM public key (")
