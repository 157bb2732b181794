"""The platform-neutral play runtime: NLU-lite, prompts, and the dialog engine.

The main names are importable from here; they load on first use, so importing one
submodule (``voicehook.dialog.prompts``) does not pull in the engine and its HTTP client.
To run a play's own app as the engine's backend, use ``voicehook.server.InProcessBackend``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voicehook.dialog.backend import Backend, BackendReply, HttpBackend
    from voicehook.dialog.engine import (
        BackendCall,
        DeviceEvent,
        DialogEngine,
        EngineSettings,
        Reset,
        TurnResult,
        UserText,
    )
    from voicehook.dialog.runtime import DialogConflict, DialogRuntime
    from voicehook.dialog.session import DialogState, decode_state, encode_state

_EXPORTS = {
    "Backend": "voicehook.dialog.backend",
    "BackendReply": "voicehook.dialog.backend",
    "HttpBackend": "voicehook.dialog.backend",
    "BackendCall": "voicehook.dialog.engine",
    "DeviceEvent": "voicehook.dialog.engine",
    "DialogEngine": "voicehook.dialog.engine",
    "EngineSettings": "voicehook.dialog.engine",
    "Reset": "voicehook.dialog.engine",
    "TurnResult": "voicehook.dialog.engine",
    "UserText": "voicehook.dialog.engine",
    "DialogConflict": "voicehook.dialog.runtime",
    "DialogRuntime": "voicehook.dialog.runtime",
    "DialogState": "voicehook.dialog.session",
    "decode_state": "voicehook.dialog.session",
    "encode_state": "voicehook.dialog.session",
}

__all__ = [
    "Backend",
    "BackendCall",
    "BackendReply",
    "DeviceEvent",
    "DialogConflict",
    "DialogEngine",
    "DialogRuntime",
    "DialogState",
    "EngineSettings",
    "HttpBackend",
    "Reset",
    "TurnResult",
    "UserText",
    "decode_state",
    "encode_state",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'voicehook.dialog' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
