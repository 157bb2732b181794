"""The ``Authorization: token <API key>`` check of NUGU Backend proxy calls."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from enum import StrEnum


class PlayBuilderPolicy(StrEnum):
    """What to do with a call that has no Authorization header but says it comes from the
    Play Builder test chat (``isPlayBuilderRequest: true``; the test chat sends no header).

    - ``deny``: answer 401 like any call without a key (the safe default).
    - ``allow``: let it through. The flag is in the body, so anyone can set it: use this only
      while you test in Play Builder, or behind a network rule.
    """

    DENY = "deny"
    ALLOW = "allow"


class AuthResult(StrEnum):
    OK = "ok"
    MISSING = "missing"
    INVALID = "invalid"


class TokenAuth:
    """Checks the API key in constant time against one or more keys (for rotation).

    Accepted header forms: ``token <key>`` (what NUGU sends), any other ``<scheme> <key>``,
    and a bare ``<key>``. Every configured key is compared, so the time taken does not say
    which key (or how much of one) matched.
    """

    __slots__ = ("_keys", "play_builder")

    def __init__(
        self, keys: Iterable[str], play_builder: PlayBuilderPolicy = PlayBuilderPolicy.DENY
    ) -> None:
        cleaned = [k.strip() for k in keys if k and k.strip()]
        if not cleaned:
            raise ValueError("TokenAuth needs at least one non-empty key")
        for key in cleaned:
            if any(ch.isspace() for ch in key):
                raise ValueError("API keys must not contain whitespace")
        self._keys = [k.encode() for k in cleaned]
        self.play_builder = PlayBuilderPolicy(play_builder)

    def check(self, header: bytes | None) -> AuthResult:
        """Check an Authorization header value (raw bytes, or None when absent)."""
        if header is None:
            return AuthResult.MISSING
        parts = header.split()
        if not parts:
            return AuthResult.MISSING
        candidate = parts[-1] if len(parts) <= 2 else b""
        matched = False
        for key in self._keys:
            matched |= hmac.compare_digest(candidate, key)
        return AuthResult.OK if matched else AuthResult.INVALID
