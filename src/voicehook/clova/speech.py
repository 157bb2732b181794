"""Speech for CEK answers: plain text and audio URLs, lists and brief/verbose sets, and the
length limits of spec §10.

Build speech from ``str`` (plain text in the default language), :class:`Text`, :class:`Url`,
a list of those (a ``SpeechList``), or :class:`Brief` (a ``SpeechSet``). :func:`render`
turns it into wire structs and applies :class:`SpeechLimits`:

- every sentence of a PlainText value at most 200 characters, and at most 1,000 characters of
  PlainText in one ``outputSpeech`` (a ``SpeechSet`` counts brief and verbose separately);
- every URL and token at most 2,048 bytes (UTF-8).

In ``"error"`` mode (development, simulate, tests) a break raises :class:`SpeechLimitError`.
In ``"fix"`` mode (production) the speech is made safe and a warning says what changed: text
is cut into items of at most 200 characters at sentence ends (or spaces), text past 1,000
characters is dropped, and a URL or token that is too long is dropped (a cut URL would be
wrong).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias

from voicehook.clova import wire

__all__ = [
    "LANGS",
    "Brief",
    "SpeechLike",
    "SpeechLimitError",
    "SpeechLimits",
    "Text",
    "Url",
    "render",
]

LANGS = frozenset({"ko", "ja", "en"})


class SpeechLimitError(ValueError):
    """A speech, URL or token over CEK's limits (spec §10), in ``"error"`` mode."""


@dataclass(frozen=True, slots=True)
class Text:
    """A PlainText item: text to speak in ``lang`` (default: the extension's language).
    ``token`` (a UUID) asks CLOVA for SpeechSynthesizer events about this item."""

    value: str
    lang: str | None = None
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Url:
    """A URL item: an audio file to play inside the speech (``lang`` is always ``""``).
    ``content_type="application/vnd.apple.mpegurl"`` for HLS."""

    value: str
    content_type: str | None = None


Item: TypeAlias = str | Text | Url


@dataclass(frozen=True, slots=True)
class Brief:
    """A ``SpeechSet``: a short ``brief`` and a longer ``verbose`` version."""

    brief: Item
    verbose: Item | Sequence[Item]


SpeechLike: TypeAlias = Item | Sequence[Item] | Brief


@dataclass(frozen=True, slots=True)
class SpeechLimits:
    """CEK's limits and what to do about a break: ``"error"`` raises, ``"fix"`` repairs."""

    mode: Literal["error", "fix"] = "fix"
    sentence_chars: int = 200
    total_chars: int = 1000
    url_bytes: int = 2048

    def __post_init__(self) -> None:
        if self.mode not in ("error", "fix"):
            raise ValueError("speech limits mode must be 'error' or 'fix'")

    def check_bytes(self, what: str, value: str, warnings: list[str]) -> bool:
        """True when ``value`` fits in ``url_bytes``; else raise or warn and return False."""
        size = len(value.encode())
        if size <= self.url_bytes:
            return True
        message = f"{what} is {size} bytes; CLOVA allows at most {self.url_bytes}"
        if self.mode == "error":
            raise SpeechLimitError(message)
        warnings.append(message + " (dropped)")
        return False


_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s+|\n+")


def sentences(text: str) -> list[str]:
    """``text`` cut after ``.``, ``?``, ``!`` (and their full-width forms) and at newlines."""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text)) if s]


def _cut(sentence: str, limit: int) -> list[str]:
    """A sentence over ``limit`` characters in pieces, cut at the last space or comma."""
    pieces = []
    rest = sentence
    while len(rest) > limit:
        window = rest[: limit + 1]
        at = max(window.rfind(" "), window.rfind(","), window.rfind("，"))
        if at <= 0:
            at = limit
        piece = rest[: at + (1 if rest[at] in ",，" else 0)].strip()
        pieces.append(piece)
        rest = rest[at + 1 :].strip() if rest[at] in " ,，" else rest[at:].strip()
    if rest:
        pieces.append(rest)
    return pieces


def _chunks(text: str, limit: int) -> list[str]:
    """Sentences packed greedily into pieces of at most ``limit`` characters."""
    out: list[str] = []
    current = ""
    for sentence in sentences(text):
        for piece in _cut(sentence, limit) if len(sentence) > limit else [sentence]:
            if current and len(current) + 1 + len(piece) <= limit:
                current = f"{current} {piece}"
            else:
                if current:
                    out.append(current)
                current = piece
    if current:
        out.append(current)
    return out


class _Renderer:
    __slots__ = ("lang", "limits", "warnings")

    def __init__(self, lang: str, limits: SpeechLimits, warnings: list[str]) -> None:
        self.lang = lang
        self.limits = limits
        self.warnings = warnings

    def items(self, raw: Sequence[Item]) -> list[wire.SpeechInfo]:
        """Wire items for ``raw`` within the limits (raises in error mode)."""
        limits = self.limits
        out: list[wire.SpeechInfo] = []
        total = 0
        truncated = False
        for item in raw:
            if isinstance(item, Url):
                if not item.value:
                    raise SpeechLimitError("a URL speech item needs a URL")
                if limits.check_bytes("a speech URL", item.value, self.warnings):
                    out.append(wire.SpeechInfo("URL", "", item.value, None, item.content_type))
                continue
            if isinstance(item, str):
                text, lang, token = item, self.lang, None
            elif not isinstance(item, Text):
                raise TypeError(
                    f"a speech item must be a str, Text or Url, not {type(item).__name__}"
                )
            else:
                text, lang, token = item.value, item.lang or self.lang, item.token
            if lang not in LANGS:
                raise SpeechLimitError(f"speech lang must be ko, ja or en, not {lang!r}")
            if token is not None and not limits.check_bytes("a speech token", token, self.warnings):
                token = None
            text = text.strip()
            if not text:
                continue
            if len(text) <= limits.sentence_chars and total + len(text) <= limits.total_chars:
                # No sentence of a short text can be too long: the common case, no splitting.
                total += len(text)
                out.append(wire.SpeechInfo("PlainText", lang, text, token))
                continue
            if limits.mode == "error":
                for sentence in sentences(text):
                    if len(sentence) > limits.sentence_chars:
                        raise SpeechLimitError(
                            f"a sentence of {len(sentence)} characters "
                            f"(CLOVA allows {limits.sentence_chars}): {sentence[:40]}…"
                        )
                total += len(text)
                if total > limits.total_chars:
                    raise SpeechLimitError(
                        f"{total} characters of speech (CLOVA allows {limits.total_chars})"
                    )
                out.append(wire.SpeechInfo("PlainText", lang, text, token))
                continue
            if truncated:
                self.warnings.append("speech over the total limit dropped")
                continue
            pieces = _chunks(text, limits.sentence_chars)
            if len(pieces) > 1:
                self.warnings.append(
                    f"speech of {len(text)} characters cut into {len(pieces)} items "
                    f"of at most {limits.sentence_chars}"
                )
            for piece in pieces:
                if total + len(piece) > limits.total_chars:
                    room = limits.total_chars - total
                    kept = _cut(piece, room)[0] if room > 0 else ""
                    if kept and len(kept) <= room:
                        out.append(wire.SpeechInfo("PlainText", lang, kept, token))
                        total += len(kept)
                    self.warnings.append(
                        f"speech cut at {total} characters (CLOVA allows {limits.total_chars})"
                    )
                    truncated = True
                    break
                out.append(wire.SpeechInfo("PlainText", lang, piece, token))
                total += len(piece)
        return out

    def speech(self, items: list[wire.SpeechInfo]) -> wire.OutputSpeech:
        if not items:
            return wire.NO_SPEECH
        if len(items) == 1:
            return wire.SimpleSpeech(items[0])
        return wire.SpeechList(items)


def _as_list(value: Item | Sequence[Item]) -> Sequence[Item]:
    if isinstance(value, str | Text | Url):
        return [value]
    return value


def render(
    speech: SpeechLike | None,
    *,
    lang: str,
    limits: SpeechLimits,
    warnings: list[str],
) -> wire.OutputSpeech:
    """The wire ``outputSpeech`` for ``speech`` (``{}`` for None or empty speech)."""
    if speech is None:
        return wire.NO_SPEECH
    r = _Renderer(lang, limits, warnings)
    if isinstance(speech, Brief):
        brief = r.items(_as_list(speech.brief))
        verbose = r.items(_as_list(speech.verbose))
        if not brief or not verbose:
            raise SpeechLimitError("a SpeechSet needs a brief and a verbose speech")
        if len(brief) > 1:
            if limits.mode == "error":  # pragma: no cover - items() already raised
                raise SpeechLimitError("the brief speech of a SpeechSet must be one item")
            warnings.append("the brief speech was cut to its first item")
        verbose_speech = r.speech(verbose)
        assert not isinstance(verbose_speech, wire.NoSpeech | wire.SpeechSet)
        return wire.SpeechSet(brief[0], verbose_speech)
    return r.speech(r.items(_as_list(speech)))
