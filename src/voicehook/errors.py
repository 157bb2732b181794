"""HTTP-level errors shared by the server and the channels (a leaf module: imports nothing)."""

from __future__ import annotations

import json


class HttpError(Exception):
    """A request that gets a precise 4xx JSON answer instead of being handled.

    ``code`` is a stable machine-readable word (``invalid_json``), ``message`` a sentence for
    people. Neither may contain the request body.
    """

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self, request_id: str = "") -> bytes:
        return error_body(self.code, self.message, request_id)


def error_body(code: str, message: str, request_id: str = "") -> bytes:
    """``{"error": {"code": ..., "message": ..., "requestId": ...}}`` as bytes."""
    err: dict[str, str] = {"code": code, "message": message}
    if request_id:
        err["requestId"] = request_id
    return json.dumps({"error": err}, ensure_ascii=False).encode()
