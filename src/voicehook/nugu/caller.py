"""The dialog engine's NUGU caller: action calls as NUGU Backend proxy requests.

:class:`NuguCaller` builds the request body exactly as the NUGU platform would
(:func:`voicehook.nugu.wire.build_request`), sends it through a
:class:`~voicehook.nugu.backend.Backend` (any backend proxy over HTTP, or a play's own app in
process), and judges the answer with the NUGU answer rules (:mod:`voicehook.nugu.answer`),
the same rules ``voicehook check`` applies.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgspec

from voicehook.dialog.caller import ActionCall, CallAnswer
from voicehook.nugu.answer import Asked, Finding, check_answer, check_status
from voicehook.nugu.backend import Backend, BackendReply
from voicehook.nugu.wire import build_request
from voicehook.play.app import to_output_value

__all__ = ["NuguCaller"]

#: Findings after which nothing in the answer is usable: the DM speaks the failure prompt.
_FATAL = frozenset(
    {
        "http_status",
        "play_builder_unauthorized",
        "not_json",
        "not_object",
        "result_code_missing",
        "result_code_not_string",
        "directives_not_list",
    }
)
#: Whether a code is declared is the engine's call (it knows the play).
_ENGINE_DECIDES = frozenset({"result_code_unknown"})


class NuguCaller:
    """Makes the engine's action calls as NUGU Backend proxy requests through ``backend``."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend

    def request(self, call: ActionCall) -> dict[str, Any]:
        """The request body NUGU would send for ``call``, as a JSON-ready dict."""
        interfaces: dict[str, Any] = {}
        if call.audio_player is not None:
            interfaces["AudioPlayer"] = call.audio_player
        return build_request(
            call.action,
            dict(call.params),
            param_types=dict(call.param_types),
            session_id=call.session_id,
            is_new=call.is_new,
            play_builder=call.play_builder,
            null_form=call.null_form,
            event=call.event,
            device_type=call.device_type,
            supported_interfaces=interfaces,
        )

    async def call(self, call: ActionCall, *, timeout: float) -> CallAnswer:
        request = self.request(call)
        answer = CallAnswer(request=request)
        body = msgspec.json.encode(request)
        started = time.perf_counter()
        try:
            reply = await asyncio.wait_for(
                self.backend.call(call.action, body, timeout=timeout), timeout + 0.5
            )
        except TimeoutError:
            reply = BackendReply(error=f"timeout after {timeout:g} s")
        answer.elapsed_ms = round((time.perf_counter() - started) * 1000, 2)
        answer.status = reply.status
        if reply.body:
            answer.body = reply.body.decode("utf-8", "replace")
        if reply.error is not None:
            answer.error = reply.error
            return answer
        params = request["action"]["parameters"]
        asked = Asked(
            action=call.action,
            version=request["version"],
            declared_keys=tuple(call.params),
            request_keys=tuple(params),
            play_builder=call.play_builder,
        )
        status = reply.status if reply.status is not None else 0
        findings: list[Finding] = check_status(asked, status, reply.body)
        if not findings:
            verdict = check_answer(asked, reply.body, ())
            findings = list(verdict.findings)
            answer.result_code = verdict.result_code
        for f in findings:
            if f.kind in _FATAL:
                answer.error = f.message
                return answer
            if f.kind in _ENGINE_DECIDES:
                continue
            text = f"{call.action}: {f.message}"
            (answer.violations if f.severity == "violation" else answer.warnings).append(text)
        data = msgspec.json.decode(reply.body)
        answer.response = data
        output = data.get("output")
        if isinstance(output, dict):
            answer.output = {
                str(k): v if v is None or isinstance(v, str) else to_output_value(v)
                for k, v in output.items()
            }
        answer.directives = [
            d
            for d in data.get("directives") or ()
            if isinstance(d, dict) and isinstance(d.get("type"), str) and d["type"]
        ]
        return answer

    async def aclose(self) -> None:
        await self.backend.aclose()
