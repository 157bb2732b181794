"""Logs: JSON lines or text, with the request id on every record made during a request.

- :func:`configure_logging` sends voicehook's, uvicorn's and your handlers' records (the
  root logger) to stderr in one format: ``json`` (one object per line) or ``text``.
- :data:`REQUEST_ID` holds the id of the request being served; a filter copies it onto
  every record as ``request_id``, so ``logging.getLogger(__name__).info(...)`` in a handler
  carries it too.
- :class:`DebugBodies` logs request and response bodies (``serve --debug-bodies``, for
  development only: bodies hold what users said).
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time
from collections.abc import MutableMapping
from typing import Any, Literal

from voicehook.http import ASGIApp, Receive, Scope, Send

__all__ = [
    "REQUEST_ID",
    "DebugBodies",
    "JsonFormatter",
    "RequestIdFilter",
    "TextFormatter",
    "configure_logging",
]

#: The id of the request being served (None outside a request).
REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "voicehook_request_id", default=None
)

_RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "color_message",
}


class RequestIdFilter(logging.Filter):
    """Adds ``request_id`` (from :data:`REQUEST_ID`) to records that have none."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            rid = REQUEST_ID.get()
            if rid is not None:
                record.request_id = rid
        return True


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON line: ts, level, logger, msg, extra fields, error."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["error"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``12:00:01 INFO voicehook.server [rid] message key=value`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        ts = time.strftime("%H:%M:%S", time.localtime(record.created))
        rid = getattr(record, "request_id", None)
        head = f"{ts} {record.levelname:<7} {record.name}"
        if rid:
            head += f" [{rid}]"
        extras = [
            f"{k}={v}"
            for k, v in record.__dict__.items()
            if k not in _RESERVED and not k.startswith("_") and k != "request_id"
        ]
        line = f"{head} {record.getMessage()}" + (f"  {' '.join(extras)}" if extras else "")
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


LogFormat = Literal["json", "text"]


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def default_format() -> LogFormat:
    """Text on a terminal, JSON otherwise (a log collector reads JSON)."""
    return "text" if sys.stderr.isatty() else "json"


def configure_logging(
    level: str = "info", *, json_lines: bool | None = None, fmt: LogFormat | None = None
) -> None:
    """Send voicehook's, uvicorn's and the handlers' logs to stderr in one format.

    ``fmt`` is ``json`` or ``text``; None picks :func:`default_format`. ``json_lines`` is
    the older spelling (True = json).
    """
    if fmt is None:
        fmt = default_format() if json_lines is None else ("json" if json_lines else "text")
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    for name in ("voicehook", "uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    root = logging.getLogger()
    root.handlers[:] = [handler]  # the handlers' own loggers (app, upstream libraries)
    root.setLevel(level.upper())


class DebugBodies:
    """ASGI middleware that logs each request's and response's body (development only).

    Bodies are cut at ``limit`` bytes. They are logged at INFO on ``voicehook.bodies`` with
    the request id, method, path and status.
    """

    def __init__(self, app: ASGIApp, *, limit: int = 16_384) -> None:
        self.app = app
        self.limit = limit
        self.log = logging.getLogger("voicehook.bodies")
        self._count = 0

    def _text(self, data: bytes) -> str:
        cut = data[: self.limit].decode("utf-8", "replace")
        return cut + (f"… ({len(data)} bytes)" if len(data) > self.limit else "")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = bytearray()
        response = bytearray()
        status = 0
        headers = list(scope.get("headers", []))
        rid = next((bytes(v).decode("latin-1") for k, v in headers if k == b"x-request-id"), "")
        if not rid:  # give the request an id, so the server's own lines carry the same one
            self._count += 1
            rid = f"dbg-{self._count:x}"
            scope = {**scope, "headers": [*headers, (b"x-request-id", rid.encode())]}

        async def receive_and_keep() -> MutableMapping[str, Any]:
            message = await receive()
            if message["type"] == "http.request" and len(request) <= self.limit:
                request.extend(message.get("body", b""))
            return message

        async def send_and_keep(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            elif message["type"] == "http.response.body" and len(response) <= self.limit:
                response.extend(message.get("body", b""))
            await send(message)

        await self.app(scope, receive_and_keep, send_and_keep)
        extra = {"request_id": rid, "method": scope["method"], "path": scope["path"]}
        self.log.info("request body: %s", self._text(bytes(request)), extra=extra)
        self.log.info("response body (%d): %s", status, self._text(bytes(response)), extra=extra)
