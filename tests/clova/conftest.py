from __future__ import annotations

import functools

import pytest

from voicehook.testing import ClovaSigner


@functools.cache
def _signer() -> ClovaSigner:
    return ClovaSigner()


@pytest.fixture
def signer() -> ClovaSigner:
    """One generated key pair for the whole session (RSA key generation takes ~0.1 s)."""
    return _signer()
