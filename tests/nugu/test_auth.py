"""TokenAuth on its own: which Authorization header values pass, and which do not.

The endpoint tests send a few headers through HTTP; these pin the parsing rules exactly.
Each test names the mutant of ``nugu/auth.py`` it kills (see docs/mutation-report.md).
"""

from __future__ import annotations

import pytest

from voicehook.nugu.auth import AuthResult, PlayBuilderPolicy, TokenAuth

KEY = "k3y-2026"


@pytest.fixture
def auth() -> TokenAuth:
    return TokenAuth([KEY, "other-key"])


@pytest.mark.parametrize(
    "header", [b"token k3y-2026", b"Bearer k3y-2026", b"k3y-2026", b"  token   k3y-2026  "]
)
def test_the_key_alone_or_after_one_scheme_word_passes(auth: TokenAuth, header: bytes) -> None:
    assert auth.check(header) is AuthResult.OK


def test_every_configured_key_passes(auth: TokenAuth) -> None:
    """Kills: comparing only the first key (key rotation broken)."""
    assert auth.check(b"token other-key") is AuthResult.OK


@pytest.mark.parametrize(
    "header",
    [
        b"token k3y-2026junk",  # kills the `startswith` mutant: the key followed by junk
        b"token k3y-2026-",
        b"k3y-2026k3y-2026",
        b"token k3y-202",  # a shorter key (a prefix of the real one)
        b"token K3Y-2026",  # case matters
    ],
)
def test_the_key_with_anything_added_or_missing_is_invalid(auth: TokenAuth, header: bytes) -> None:
    assert auth.check(header) is AuthResult.INVALID


@pytest.mark.parametrize(
    "header", [b"token extra k3y-2026", b"token token k3y-2026", b"a b c k3y-2026"]
)
def test_three_or_more_words_are_invalid_even_when_the_last_is_the_key(
    auth: TokenAuth, header: bytes
) -> None:
    """Kills the mutant that takes the last word of any header (``len(parts) <= 2`` dropped)."""
    assert auth.check(header) is AuthResult.INVALID


@pytest.mark.parametrize("header", [None, b"", b"   ", b"\t"])
def test_no_header_or_an_empty_one_is_missing(auth: TokenAuth, header: bytes | None) -> None:
    assert auth.check(header) is AuthResult.MISSING


def test_a_scheme_word_alone_is_invalid_not_missing(auth: TokenAuth) -> None:
    assert auth.check(b"token") is AuthResult.INVALID


def test_keys_are_stripped_and_empty_ones_ignored() -> None:
    auth = TokenAuth(["", "  ", f"  {KEY}\n"])
    assert auth.check(b"token " + KEY.encode()) is AuthResult.OK
    assert auth.check(b"token  ") is AuthResult.INVALID  # "token" is not a key


@pytest.mark.parametrize("keys", [[], [""], ["  ", "\n"]])
def test_no_usable_key_is_refused(keys: list[str]) -> None:
    with pytest.raises(ValueError, match=r"^TokenAuth needs at least one non-empty key$"):
        TokenAuth(keys)


@pytest.mark.parametrize("key", ["two words", "tab\there", "new\nline"])
def test_a_key_with_inner_whitespace_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match=r"^API keys must not contain whitespace$"):
        TokenAuth([key])


def test_the_play_builder_policy_defaults_to_deny_and_takes_strings() -> None:
    assert TokenAuth([KEY]).play_builder is PlayBuilderPolicy.DENY
    allow = TokenAuth([KEY], play_builder="allow")  # type: ignore[arg-type]
    assert allow.play_builder is PlayBuilderPolicy.ALLOW
    with pytest.raises(ValueError):
        TokenAuth([KEY], play_builder="maybe")  # type: ignore[arg-type]
