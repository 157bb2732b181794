"""The platform-neutral play runtime: NLU-lite, prompts, and the dialog engine.

The main names are importable from here; they load on first use, so importing one
submodule (``voicehook.dialog.prompts``) does not pull in the engine and its HTTP client.
The engine calls actions through an ``ActionCaller``: ``PlayCaller`` (in process, here) or
``voicehook.nugu.caller.NuguCaller`` (NUGU JSON over HTTP or to a play's own app).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from voicehook.dialog.caller import ActionCall, ActionCaller, CallAnswer, PlayCaller
    from voicehook.dialog.engine import (
        BackendCall,
        DeviceEvent,
        DialogEngine,
        EngineSettings,
        Intent,
        Reset,
        TurnResult,
        UserText,
    )
    from voicehook.dialog.runtime import DialogConflict, DialogRuntime
    from voicehook.dialog.session import DialogState, decode_state, encode_state

_EXPORTS = {
    "ActionCall": "voicehook.dialog.caller",
    "ActionCaller": "voicehook.dialog.caller",
    "CallAnswer": "voicehook.dialog.caller",
    "PlayCaller": "voicehook.dialog.caller",
    "BackendCall": "voicehook.dialog.engine",
    "DeviceEvent": "voicehook.dialog.engine",
    "DialogEngine": "voicehook.dialog.engine",
    "EngineSettings": "voicehook.dialog.engine",
    "Intent": "voicehook.dialog.engine",
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
    "ActionCall",
    "ActionCaller",
    "BackendCall",
    "CallAnswer",
    "DeviceEvent",
    "DialogConflict",
    "DialogEngine",
    "DialogRuntime",
    "DialogState",
    "EngineSettings",
    "Intent",
    "PlayCaller",
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
