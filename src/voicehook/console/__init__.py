"""``voicehook console``: a local web page to talk to a play and see everything it does.

- :mod:`voicehook.console.adapters`: one small adapter per channel, and :func:`make_engine`;
- :mod:`voicehook.console.session`: the conversations, live reload, replay, transcripts;
- :mod:`voicehook.console.web`: the console's own ASGI app (Starlette, the ``console``
  extra) and the page in ``static/``.

Importing this package does not import Starlette; :mod:`voicehook.console.web` does.
"""

from __future__ import annotations

from voicehook.console.adapters import (
    ChannelAdapter,
    ChannelChoice,
    LoadedPlay,
    NuguAdapter,
    make_engine,
    nugu_choices,
    turn_view,
)
from voicehook.console.session import ConsoleError, ConsoleSession

__all__ = [
    "ChannelAdapter",
    "ChannelChoice",
    "ConsoleError",
    "ConsoleSession",
    "LoadedPlay",
    "NuguAdapter",
    "make_engine",
    "nugu_choices",
    "turn_view",
]
