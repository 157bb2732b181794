"""The CLOVA channel: ``POST /clova`` for the server's route table.

Order of work for every call: verify ``SignatureCEK`` over the raw body (403, before any
parsing), decode the JSON tolerantly (400 on garbage), check the ``applicationId``
allow-list (403), then let the app (a direct-mode :class:`~voicehook.clova.Extension` or a
play in play mode) answer within the deadline. A handler error or a timeout becomes the
failure speech with ``shouldEndSession: true`` and HTTP 200, because CLOVA treats anything
else as a broken extension.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING

import msgspec

from voicehook.clova import wire
from voicehook.clova.extension import ClovaApp
from voicehook.clova.request import REQUEST_TYPES, ClovaRequest
from voicehook.clova.response import Response, envelope, tell
from voicehook.clova.signature import SignatureError, SignatureVerifier
from voicehook.clova.speech import SpeechLimitError, SpeechLimits
from voicehook.errors import HttpError
from voicehook.http import Answer, HttpRequest
from voicehook.play.deadline import EXPIRED, DeadlineWatch

if TYPE_CHECKING:
    from voicehook.play.context import AppContext

__all__ = ["DEFAULT_DEADLINE", "ClovaChannel"]

logger = logging.getLogger("voicehook.clova")

#: CLOVA waits 8 s (spec §10); answer well before, network included.
DEFAULT_DEADLINE = 5.0
CONTENT_TYPE = b"application/json; charset=utf-8"
_FIX = SpeechLimits(mode="fix")


def _forbidden(code: str, message: str) -> HttpError:
    """A 403; the server logs it with the request id (never the body)."""
    return HttpError(403, code, message)


class ClovaChannel:
    """Serves one :class:`~voicehook.clova.extension.ClovaApp` to CLOVA.

    - ``verifier``: checks ``SignatureCEK``; None turns verification off (development only:
      anyone can then call the extension).
    - ``app_ids``: the ``applicationId`` allow-list; empty accepts any.
    - ``deadline``: seconds the app may take (less than CLOVA's 8).
    - ``limits``: speech limits; ``mode="error"`` in development, ``"fix"`` in production.
    """

    name = "clova"
    methods = frozenset({"POST"})

    def __init__(
        self,
        app: ClovaApp,
        *,
        verifier: SignatureVerifier | None,
        app_ids: Iterable[str] = (),
        deadline: float = DEFAULT_DEADLINE,
        limits: SpeechLimits | None = None,
    ) -> None:
        if not 0 < deadline < 8:
            raise ValueError("the CLOVA deadline must be between 0 and 8 seconds")
        self.app = app
        self.verifier = verifier
        self.app_ids = tuple(a.encode() for a in app_ids if a)
        self.deadline = deadline
        self.limits = limits or SpeechLimits()
        self.context: AppContext | None = None
        self._watch: DeadlineWatch | None = None

    async def startup(self, app: AppContext) -> None:
        self.context = app
        if self.verifier is None:
            logger.warning(
                "CLOVA signature verification is OFF (--clova-insecure-skip-verify): anyone "
                "who can reach this server can call the extension; use it only in development"
            )
        elif self.verifier.fingerprint:
            logger.info("CLOVA signatures checked with the %s", self.verifier.source)
        if not self.app_ids:
            logger.warning(
                "no CLOVA application id configured (--clova-app-id): requests signed by "
                "CLOVA for any extension are answered"
            )
        await self.app.startup(app)

    async def shutdown(self, app: AppContext) -> None:
        await self.app.shutdown(app)

    # -- the call -------------------------------------------------------------------------

    def _decode(self, request: HttpRequest) -> ClovaRequest:
        body = request.body
        try:
            body.decode("utf-8")
            raw = wire.decode_request(body)
        except UnicodeDecodeError:
            raise HttpError(400, "invalid_utf8", "the request body is not valid UTF-8") from None
        except msgspec.ValidationError as exc:
            raise HttpError(400, "invalid_request", f"invalid CEK request: {exc}") from None
        except msgspec.DecodeError as exc:
            raise HttpError(
                400, "invalid_json", f"the request body is not valid JSON: {exc}"
            ) from None
        if raw.request is None or not raw.request.type:
            raise HttpError(400, "missing_field", "missing field: request.type")
        kind = raw.request.type
        if kind not in REQUEST_TYPES:
            raise HttpError(
                400,
                "unknown_request_type",
                f"unknown CEK request type {kind[:60]!r}; expected one of "
                + ", ".join(sorted(REQUEST_TYPES)),
            )
        return ClovaRequest(raw, request.request_id, self.context)

    def _check_app_id(self, req: ClovaRequest) -> None:
        if not self.app_ids:
            return
        app_id = req.application_id
        if app_id is None:
            raise _forbidden("application_not_allowed", "the request names no applicationId")
        candidate = app_id.encode()
        matched = False
        for allowed in self.app_ids:
            matched |= hmac.compare_digest(candidate, allowed)
        if not matched:
            raise _forbidden(
                "application_not_allowed",
                "the applicationId is not one this server serves",
            )

    async def handle(self, request: HttpRequest) -> Answer:
        verifier = self.verifier
        if verifier is not None:
            try:
                verifier.verify(request.header(b"signaturecek"), request.body)
            except SignatureError as exc:
                raise _forbidden(exc.code, exc.message) from None
        req = self._decode(request)
        self._check_app_id(req)
        label = req.type
        # The deadline: one shared timer per event loop (DeadlineWatch) instead of an
        # asyncio.timeout per call, as on the NUGU path.
        loop = asyncio.get_running_loop()
        watch = self._watch
        if watch is None or watch.loop is not loop:
            watch = self._watch = DeadlineWatch(loop, self.deadline)
        task = asyncio.current_task(loop)
        key = watch.start(task, self.deadline)
        failure: BaseException | None = None
        response: Response | None = None
        try:
            response = await self.app.answer(req)
        except BaseException as exc:  # re-raised below unless it is the deadline or a bug
            failure = exc
        state = watch.stop(key)
        if state:  # EXPIRED (cancelled by the watch) or LATE (it blocked the event loop)
            if (
                state == EXPIRED
                and DeadlineWatch.outside_cancel(task)
                and isinstance(failure, asyncio.CancelledError)
            ):
                raise failure  # cancelled from outside too (client gone, shutdown)
            error = f"no answer within {self.deadline:g} s"
            logger.error(
                "CLOVA %s: no answer within %g s; said the failure speech",
                label,
                self.deadline,
                extra={"request_id": request.request_id},
            )
            return self._failure_answer(req, label, "TIMEOUT", error)
        if failure is not None:
            if not isinstance(failure, Exception):
                raise failure
            error = f"{type(failure).__name__}: {failure}"
            logger.error(
                "CLOVA %s failed; said the failure speech",
                label,
                exc_info=failure,
                extra={"request_id": request.request_id},
            )
            return self._failure_answer(req, label, "HANDLER_ERROR", error)
        assert response is not None
        warnings: list[str] = []
        try:
            env = envelope(
                response,
                version=req.version,
                lang=self.app.lang,
                limits=self.limits,
                warnings=warnings,
            )
        except (SpeechLimitError, TypeError, ValueError) as exc:
            error = f"{type(exc).__name__}: {exc}"
            logger.error(
                "CLOVA %s: the answer breaks CLOVA's rules: %s; said the failure speech",
                label,
                exc,
                extra={"request_id": request.request_id},
            )
            return self._failure_answer(req, label, "SPEECH_LIMIT", error)
        for warning in warnings:
            logger.warning("CLOVA %s: %s", label, warning, extra={"request_id": request.request_id})
        return Answer(
            wire.encode_envelope(env), label=label, result_code="OK", content_type=CONTENT_TYPE
        )

    def failure_response(self) -> Response:
        return tell(self.app.failure_speech)

    def _failure_answer(
        self, req: ClovaRequest, label: str, result_code: str, error: str
    ) -> Answer:
        env = envelope(
            self.failure_response(),
            version=req.version,
            lang=self.app.lang,
            limits=_FIX,
            warnings=[],
        )
        return Answer(
            wire.encode_envelope(env),
            label=label,
            result_code=result_code,
            error=error,
            content_type=CONTENT_TYPE,
        )
