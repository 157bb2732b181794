"""What a CLOVA handler returns: :class:`Response`, with :func:`tell` and :func:`ask` for the
common cases, and :func:`envelope` that turns it into the wire answer within CEK's limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from voicehook.clova import wire
from voicehook.clova.speech import SpeechLike, SpeechLimits, render

__all__ = ["Response", "ask", "envelope", "neutral", "tell"]


@dataclass(frozen=True, slots=True)
class Response:
    """A CEK answer.

    - ``speech``: what CLOVA says (``str``, :class:`~voicehook.clova.speech.Text`,
      :class:`~voicehook.clova.speech.Url`, a list of them, or
      :class:`~voicehook.clova.speech.Brief`); None for ``outputSpeech: {}``.
    - ``reprompt``: said once more if the user stays silent (only with ``end=False``).
    - ``end``: ``shouldEndSession``.
    - ``attributes``: ``sessionAttributes`` (CLOVA sends them back on the next turn).
    - ``directives``: from :mod:`voicehook.clova.directives`.
    """

    speech: SpeechLike | None = None
    reprompt: SpeechLike | None = None
    end: bool = True
    attributes: Mapping[str, Any] = field(default_factory=dict)
    directives: Sequence[wire.Directive] = ()

    def __post_init__(self) -> None:
        if self.reprompt is not None and self.end:
            raise ValueError("a reprompt needs end=False (CLOVA ignores it when the session ends)")


def tell(speech: SpeechLike | None, **kwargs: Any) -> Response:
    """Say ``speech`` and end the session."""
    return Response(speech, end=True, **kwargs)


def ask(speech: SpeechLike, reprompt: SpeechLike | None = None, **kwargs: Any) -> Response:
    """Say ``speech`` and keep listening (``shouldEndSession: false``)."""
    return Response(speech, reprompt, end=False, **kwargs)


def neutral() -> Response:
    """The acknowledgement of spec §11.12: no speech, no directives, session ended."""
    return Response()


def _directive_ok(d: wire.Directive, limits: SpeechLimits, warnings: list[str]) -> bool:
    """Check the URLs and tokens of a directive (2,048 bytes each)."""
    payload = d.payload
    name = f"{d.header.namespace}.{d.header.name}"
    streams: list[Mapping[str, Any]] = []
    item = payload.get("audioItem")
    if isinstance(item, Mapping) and isinstance(item.get("stream"), Mapping):
        streams.append(item["stream"])
    if isinstance(payload.get("audioStream"), Mapping):
        streams.append(payload["audioStream"])
    for stream in streams:
        for key in ("url", "token"):
            value = stream.get(key)
            if isinstance(value, str) and not limits.check_bytes(
                f"the {key} of {name}", value, warnings
            ):
                return False
    return True


def envelope(
    response: Response,
    *,
    version: str,
    lang: str,
    limits: SpeechLimits,
    warnings: list[str],
) -> wire.Envelope:
    """The wire answer for ``response``. Raises
    :class:`~voicehook.clova.speech.SpeechLimitError` in ``"error"`` mode."""
    speech = render(response.speech, lang=lang, limits=limits, warnings=warnings)
    reprompt = None
    if response.reprompt is not None:
        reprompt_speech = render(response.reprompt, lang=lang, limits=limits, warnings=warnings)
        if not isinstance(reprompt_speech, wire.NoSpeech):
            reprompt = wire.Reprompt(reprompt_speech)
    directives = [d for d in response.directives if _directive_ok(d, limits, warnings)]
    return wire.Envelope(
        version,
        dict(response.attributes),
        wire.ResponseBody(speech, {}, directives, response.end, reprompt),
    )
