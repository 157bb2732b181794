"""The NUGU Backend proxy channel: request bytes in, an :class:`~voicehook.http.Answer` out.

HTTP framing (method, size cap, content type) is the server's job; this module checks the
``Authorization`` header, decodes the NUGU body, maps the call to a play action and encodes
the answer.
"""

from __future__ import annotations

import difflib
import logging
from typing import TYPE_CHECKING, Any

import msgspec

from voicehook.errors import HttpError
from voicehook.http import Answer, HttpRequest
from voicehook.limits import LogLimiter, clip
from voicehook.nugu import wire
from voicehook.nugu.auth import AuthResult, PlayBuilderPolicy, TokenAuth
from voicehook.play.app import Play, RuntimeSettings
from voicehook.play.context import AppContext
from voicehook.play.request import ActionRequest, ActionResult, Event

if TYPE_CHECKING:
    pass

logger = logging.getLogger("voicehook.nugu")

#: The metrics label of calls to actions the play does not know (a bounded label set).
UNKNOWN_ACTION_LABEL = "(unknown)"

_decode_request = wire.request_decoder.decode
_AUTHORIZATION = b"authorization"


def _decode(body: bytes) -> wire.Request:
    try:
        # msgspec checks UTF-8 only in the fields it reads; check the whole body (~0.2 µs).
        body.decode("utf-8")
        return _decode_request(body)
    except UnicodeDecodeError:
        raise HttpError(400, "invalid_utf8", "the request body is not valid UTF-8") from None
    except msgspec.ValidationError as exc:
        raise HttpError(400, "invalid_request", f"invalid NUGU request: {exc}") from None
    except msgspec.DecodeError as exc:
        raise HttpError(400, "invalid_json", f"the request body is not valid JSON: {exc}") from None
    except RecursionError:  # the server caps the depth first; this is for direct use
        raise HttpError(400, "too_deep", "the JSON body nests too deep") from None


class NuguChannel:
    """Serves one play as a NUGU Backend proxy: ``POST {prefix}/{actionName}``.

    ``settings`` are the runtime settings of the calls (deadline, result codes, output
    policy); by default the play's own. ``auth`` checks ``Authorization: token <API key>``.
    """

    __slots__ = ("_log_limit", "app", "auth", "play", "settings")

    name = "nugu"
    methods = frozenset({"POST"})

    def __init__(
        self,
        play: Play,
        app: AppContext,
        auth: TokenAuth | None = None,
        settings: RuntimeSettings | None = None,
    ) -> None:
        self.play = play
        self.app = app
        self.auth = auth
        self.settings = settings if settings is not None else play.settings
        # Unknown actions and URL mismatches come from outside: at most one line per 10 s
        # each (the metrics count every call, under the "(unknown)" label).
        self._log_limit = LogLimiter(10.0)

    async def startup(self, app: AppContext) -> None:
        """Nothing to open: the play's own hooks run in the server's lifespan."""

    async def shutdown(self, app: AppContext) -> None:
        """Nothing to close."""

    async def handle(self, request: HttpRequest) -> Answer:
        """Answer one call. Raises :class:`HttpError` for input that gets a 4xx."""
        path_action = request.path
        if not path_action:
            raise HttpError(404, "not_found", "the URL must be {prefix}/{actionName}")
        body = request.body
        request_id = request.request_id
        auth = self.auth
        auth_missing = False
        if auth is not None:
            verdict = auth.check(request.header(_AUTHORIZATION))  # two: 400 duplicate_header
            if verdict is AuthResult.INVALID:
                raise HttpError(401, "unauthorized", "the API key in Authorization is not valid")
            if verdict is AuthResult.MISSING:
                if auth.play_builder is PlayBuilderPolicy.DENY:
                    raise HttpError(
                        401, "unauthorized", "missing Authorization header (token <API key>)"
                    )
                auth_missing = True
        req = _decode(body)
        wire_action = req.action
        body_action = wire_action.action_name if wire_action is not None else None
        if not body_action:
            raise HttpError(400, "missing_field", "missing field: action.actionName")
        context = req.context
        session = context.session if context is not None else None
        if auth_missing and (session is None or not session.is_play_builder_request):
            raise HttpError(401, "unauthorized", "missing Authorization header (token <API key>)")
        action = path_action
        if path_action != body_action and self._log_limit.allow("url_action") is not None:
            logger.warning(
                "URL action %r differs from action.actionName %r; using the URL's",
                clip(path_action),
                clip(body_action),
                extra={"request_id": request_id},
            )
        version = req.version or "2.0"
        wire_params = wire_action.parameters if wire_action is not None else None
        spec = self.play.spec(action)
        if spec is None:
            params: dict[str, Any] = {}
            if wire_params:
                for key, p in wire_params.items():
                    params[key] = p.value if p is not None else None
            result = await self.play.call(
                ActionRequest(action, params, request_id=request_id), None, self.settings
            )
            held = self._log_limit.allow("unknown_action")
            if held is not None:
                near = difflib.get_close_matches(
                    action[:200], list(self.play.specs), n=3, cutoff=0.5
                )
                logger.error(
                    "unknown action %r: answered %s so the Dialog Manager plays the failure "
                    "prompt; known actions nearest to it: %s%s",
                    clip(action),
                    result.result_code,
                    ", ".join(near) or "none",
                    f" ({held} more unknown-action calls in the last 10 s, not logged)"
                    if held
                    else "",
                    extra={"request_id": request_id, "action": clip(action)},
                )
            # Logged here, with the nearest names: the answer carries no error to log again.
            return Answer(
                _encode(version, result),
                label=UNKNOWN_ACTION_LABEL,
                result_code=result.result_code,
            )
        params = spec.template.copy()
        types: dict[str, str | None] = {}
        if wire_params:
            for key, p in wire_params.items():
                if p is None:
                    params[key] = None
                    continue
                value = p.value
                if value is not None and type(value) is not str:
                    value = _param_text(value)
                params[key] = value
                types[key] = p.type
        event = req.event
        interfaces = context.supported_interfaces if context is not None else None
        profile = req.profile
        call = ActionRequest(
            action,
            params,
            types,
            session,
            context.device if context is not None else None,
            Event(etype if type(etype := event.get("type")) is str else None, event)
            if event
            else None,
            interfaces.audio_player if interfaces is not None else None,
            interfaces,
            profile.private_play if profile is not None else None,
            version,
            body,
            request_id,
            self.app,
        )
        call.plain = True  # every value is a str or None (see _param_text)
        result = await self.play.call(call, spec, self.settings)
        return Answer(_encode(version, result), 200, action, result.result_code, result.error)


_encode_response = wire.response_encoder.encode
_encode_json = msgspec.json.Encoder().encode
_Response = wire.Response


def _encode(version: str, result: ActionResult) -> bytes:
    return _encode_response(
        _Response(version, result.result_code, result.output, result.directives)
    )


def _param_text(value: Any) -> str:
    """A parameter value as the string handlers get (docs/backend-proxy.md, "Parameter
    values"): numbers and booleans as NUGU writes them, an array or object as compact JSON
    text (the body's depth is capped before decoding, so encoding it cannot recurse deep)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    return _encode_json(value).decode()
