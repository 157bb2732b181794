"""The :class:`Play`: a play definition plus the registry of action handlers, and the call.

Calling an action means: take an :class:`ActionRequest` whose ``params`` already hold every
declared key, run the handler under the deadline (plain ``def`` handlers in a thread pool),
and turn what it returns or raises into an :class:`ActionResult` whose output carries every key
as a string or None. Nothing here knows HTTP or any platform's JSON.
"""

from __future__ import annotations

import asyncio
import contextvars
import difflib
import functools
import inspect
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec

from voicehook.play.context import AppContext
from voicehook.play.deadline import DeadlineWatch
from voicehook.play.definition import (
    Action,
    EntityMapping,
    ExceptionCode,
    Parameter,
    PlayDefinition,
    load_definition,
)
from voicehook.play.errors import PlayError
from voicehook.play.request import ActionRequest, ActionResult, Reply
from voicehook.store.base import write_deadline

logger = logging.getLogger("voicehook.play")

HandlerResult: TypeAlias = Mapping[str, object] | Reply | None
Handler: TypeAlias = Callable[..., Any]
Hook: TypeAlias = Callable[[AppContext], Awaitable[None]]
HealthCheck: TypeAlias = Callable[[AppContext], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class RuntimeSettings:
    """How action calls are run and answered.

    - ``deadline``: seconds a handler may take before it is cancelled (NUGU documents no
      timeout; the device gives up after about 10 s for the whole turn).
    - ``failure_code``: the result code for an unexpected handler error. Any code that is not
      ``OK`` and not declared makes the Dialog Manager speak the play's failure prompt.
    - ``timeout_code``: the result code when the deadline passes.
    - ``unknown_action_code``: the result code for an action no handler or declaration knows.
    - ``output_policy``: ``"stringify"`` turns numbers and booleans into strings;
      ``"strict"`` treats a non-string output value as a handler error.
    - ``threads``: size of the pool that runs plain ``def`` handlers.
    """

    deadline: float = 3.0
    failure_code: str = "BACKEND_ERROR"
    timeout_code: str = "BACKEND_TIMEOUT"
    unknown_action_code: str = "UNKNOWN_ACTION"
    output_policy: Literal["stringify", "strict"] = "stringify"
    threads: int = 16
    slow_warning: float = 1.0

    def __post_init__(self) -> None:
        if not self.deadline > 0:
            raise ValueError("deadline must be a positive number of seconds")
        for name in ("failure_code", "timeout_code", "unknown_action_code"):
            code = getattr(self, name)
            if not code or code == "OK":
                raise ValueError(f"{name} must be a non-empty code other than 'OK'")
        if self.output_policy not in ("stringify", "strict"):
            raise ValueError("output_policy must be 'stringify' or 'strict'")
        if self.threads < 1:
            raise ValueError("threads must be at least 1")


class _DeadlinePassed(Exception):
    """Internal: the handler ran past the deadline."""


class OutputTypeError(TypeError):
    """A handler returned an output value that is not a string (strict output policy)."""


def to_output_value(value: object, *, strict: bool = False) -> str | None:
    """One output value as NUGU wants it: a string, or None."""
    if value is None:
        return None
    if isinstance(value, str):
        return value if type(value) is str else str(value)
    if strict:
        raise OutputTypeError(f"output values must be strings or None, got {type(value).__name__}")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if isinstance(value, list | tuple | dict):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return str(value)


@dataclass(slots=True)
class HandlerInfo:
    """A registered handler and how to call it."""

    fn: Handler
    is_async: bool
    inject: tuple[str, ...]
    pass_request: bool
    event: str | None
    simple: bool = False  # ``async def handler(req)``: called directly, the common case

    def __post_init__(self) -> None:
        self.simple = self.is_async and self.pass_request and not self.inject


class ActionSpec:
    """Everything the hot path needs about one action, computed once."""

    __slots__ = (
        "_warned",
        "action",
        "exception_codes",
        "handlers",
        "name",
        "parameters",
        "template",
    )

    def __init__(self, definition: PlayDefinition, action: Action) -> None:
        self.name = action.name
        self.action = action
        self.parameters: dict[str, Parameter] = definition.action_parameters(action.name)
        codes: dict[str, ExceptionCode] = definition.exception_codes(action.name)
        self.exception_codes = frozenset(codes)
        # Every declared key, with configurable parameters' values as their defaults.
        self.template: dict[str, Any] = {
            name: (p.value if p.kind == "configurable" else None)
            for name, p in self.parameters.items()
        }
        self.handlers: dict[str | None, HandlerInfo] = {}
        self._warned: set[str] = set()

    def new_params(self) -> dict[str, Any]:
        """A fresh parameter dict with every declared key."""
        return self.template.copy()

    def handler_for(self, event_type: str | None) -> HandlerInfo | None:
        handlers = self.handlers
        if event_type is not None:
            h = handlers.get(event_type)
            if h is not None:
                return h
        return handlers.get(None)

    def warn_once(self, key: str, message: str, *args: object) -> None:
        if key not in self._warned:
            self._warned.add(key)
            logger.warning(message, *args)


class Play:
    """A play: its definition and its action handlers.

    Build one from a play definition file, from code, or both::

        play = Play.from_file("play.yaml")  # next to this module's file

        @play.action("answer.weather")
        async def weather(req: ActionRequest) -> dict[str, str]:
            return {"weather": "맑음", "temperature": "21"}
    """

    def __init__(
        self,
        definition: PlayDefinition | str = "play",
        *,
        settings: RuntimeSettings | None = None,
    ) -> None:
        if isinstance(definition, str):
            definition = PlayDefinition(name=definition)
        self._definition = definition
        self.settings = settings or RuntimeSettings()
        self._specs: dict[str, ActionSpec] = {}
        self._handlers: list[tuple[str, HandlerInfo]] = []
        self._startup: list[Hook] = []
        self._shutdown: list[Hook] = []
        self._health: dict[str, HealthCheck] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._watch: DeadlineWatch | None = None
        self._rebuild()

    # -- construction --------------------------------------------------------------------

    @classmethod
    def from_file(cls, path: str | Path, *, settings: RuntimeSettings | None = None) -> Play:
        """A play from a ``play.yaml`` (or a directory holding one).

        A relative ``path`` is resolved against the folder of the module that calls
        ``from_file``: ``Play.from_file("play.yaml")`` in ``app.py`` reads the play.yaml next
        to app.py, whatever the working directory. Code without a file (an interactive
        session, ``python -c``) resolves it against the working directory.
        """
        p = Path(path)
        if not p.is_absolute():
            caller = sys._getframe(1).f_globals.get("__file__")
            if isinstance(caller, str) and caller:
                p = Path(caller).resolve().parent / p
        return cls(load_definition(p), settings=settings)

    @property
    def name(self) -> str:
        return self._definition.name

    @property
    def definition(self) -> PlayDefinition:
        """The play definition, including actions and parameters declared in code."""
        return self._definition

    def _rebuild(self) -> None:
        specs = {
            name: ActionSpec(self._definition, act)
            for name, act in self._definition.actions.items()
        }
        for name, info in self._handlers:
            spec = specs[name]
            spec.handlers[info.event] = info
        self._specs = specs

    def declare(
        self,
        name: str,
        *,
        utterance: Mapping[str, str] | None = None,
        backend: Iterable[str] | None = None,
        exceptions: Iterable[str] | None = None,
    ) -> None:
        """Declare an action's parameters and exception codes from code.

        ``utterance`` maps parameter names to entity types (``"LOCATION"`` or
        ``"LOCATION:ROLE"``); ``backend`` names backend parameters; ``exceptions`` names the
        action's exception codes. Declarations add to what the play definition says.
        """
        act = self._definition.actions.get(name) or Action(name=name, backend=True)
        params = dict(act.parameters)
        for pname, etype in (utterance or {}).items():
            type_, _, role = etype.partition(":")
            params.setdefault(
                pname,
                Parameter(
                    name=pname,
                    kind="utterance",
                    mappings=(EntityMapping(type=type_, role=role or type_),),
                ),
            )
        for pname in backend or ():
            params.setdefault(pname, Parameter(name=pname, kind="backend"))
        excs = dict(act.exceptions)
        for code in exceptions or ():
            if code == "OK":
                raise ValueError("'OK' is not an exception code")
            excs.setdefault(code, ExceptionCode(code=code))
        act = msgspec.structs.replace(act, parameters=params, exceptions=excs, backend=True)
        actions = dict(self._definition.actions)
        actions[name] = act
        self._definition = msgspec.structs.replace(self._definition, actions=actions)
        self._rebuild()

    def action(
        self,
        name: str,
        *,
        event: str | None = None,
        utterance: Mapping[str, str] | None = None,
        backend: Iterable[str] | None = None,
        exceptions: Iterable[str] | None = None,
        code_only: bool = False,
    ) -> Callable[[Handler], Handler]:
        """Register the handler of action ``name`` (names may contain dots).

        When the play comes from a play.yaml, ``name`` must be an action it declares: a
        typo (``answer.greetng``) raises ValueError with the nearest names. Pass
        ``code_only=True`` (or call :meth:`declare` first) for an action declared only in
        code. A play built in code (``Play("name")``) declares its actions this way.

        ``event`` registers a handler only for calls carrying that device event
        (``"AudioPlayer.PlaybackFinished"``); calls with another or no event go to the handler
        registered without ``event``. The handler takes the :class:`ActionRequest` as its
        first argument; other arguments named like the action's parameters receive their
        values. It may be ``async def`` or plain ``def`` (run in a thread pool).
        """
        if not name or "/" in name:
            raise ValueError(f"invalid action name {name!r}")

        if (
            name not in self._definition.actions
            and not code_only
            and self._definition.source != "<code>"
        ):
            known = sorted(self._definition.actions)
            near = difflib.get_close_matches(name, known, n=3, cutoff=0.6)
            hint = f"did you mean {' or '.join(repr(n) for n in near)}? " if near else ""
            raise ValueError(
                f"{self._definition.source} declares no action {name!r}; {hint}"
                f"declared: {', '.join(known) or '(none)'}. For an action declared only in "
                f"code, use @play.action({name!r}, code_only=True)"
            )

        def register(fn: Handler) -> Handler:
            if utterance or backend or exceptions or name not in self._definition.actions:
                self.declare(name, utterance=utterance, backend=backend, exceptions=exceptions)
            info = _inspect_handler(fn, event, self._definition.action_parameters(name))
            for existing, other in self._handlers:
                if existing == name and other.event == event:
                    what = f"event {event!r}" if event else "calls"
                    raise ValueError(f"action {name!r} already has a handler for {what}")
            self._handlers.append((name, info))
            self._rebuild()
            return fn

        return register

    def on_startup(self, fn: Hook) -> Hook:
        """Run ``fn(app)`` when the server starts (open pools, warm caches)."""
        self._startup.append(fn)
        return fn

    def on_shutdown(self, fn: Hook) -> Hook:
        """Run ``fn(app)`` when the server stops (close what startup opened)."""
        self._shutdown.append(fn)
        return fn

    def health_check(self, name: str) -> Callable[[HealthCheck], HealthCheck]:
        """Register a health check: ``/health`` answers 503 while it raises or returns False."""

        def register(fn: HealthCheck) -> HealthCheck:
            self._health[name] = fn
            return fn

        return register

    # -- lookups -------------------------------------------------------------------------

    def spec(self, name: str) -> ActionSpec | None:
        """The action's runtime spec, or None when the play does not know it."""
        return self._specs.get(name)

    @property
    def specs(self) -> Mapping[str, ActionSpec]:
        """Every action's runtime spec by name (rebuilt when handlers are registered)."""
        return self._specs

    @property
    def health_checks(self) -> Mapping[str, HealthCheck]:
        return self._health

    def problems(self) -> list[str]:
        """Mismatches between the definition and the registered handlers."""
        out = []
        for name, spec in self._specs.items():
            if spec.action.backend and not spec.handlers:
                out.append(f"action {name!r} calls the backend but has no handler")
        return out

    # -- lifecycle -----------------------------------------------------------------------

    async def startup(self, app: AppContext) -> None:
        for hook in self._startup:
            await hook(app)

    async def shutdown(self, app: AppContext) -> None:
        for hook in reversed(self._shutdown):
            try:
                await hook(app)
            except Exception:
                logger.exception("shutdown hook %s failed", getattr(hook, "__name__", hook))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # -- the call ------------------------------------------------------------------------

    async def call(
        self,
        request: ActionRequest,
        spec: ActionSpec | None = None,
        settings: RuntimeSettings | None = None,
    ) -> ActionResult:
        """Run the action's handler and build the result. Never raises for handler errors.

        ``spec`` is the action's spec when the caller already looked it up; ``settings``
        overrides the play's own runtime settings for this call (a server's ``--deadline``),
        so that serving a play never changes the play object.
        """
        if spec is None:
            spec = self._specs.get(request.action)
        if settings is None:
            settings = self.settings
        if spec is None:
            return ActionResult(
                settings.unknown_action_code,
                {k: to_output_value(v) for k, v in request.params.items()},
                error=f"unknown action {request.action!r}",
            )
        handler = spec.handler_for(request.event.type)
        if handler is None:
            return ActionResult(
                settings.unknown_action_code,
                _echo(request.params),
                error=f"action {spec.name!r} has no handler",
            )
        loop = asyncio.get_running_loop()
        watch = self._watch
        if watch is None or watch.loop is not loop:
            watch = self._watch = DeadlineWatch(loop, settings.deadline)
        task = asyncio.current_task(loop)
        due = loop.time() + settings.deadline
        if task is not None:
            key = next(watch.ids)
            watch.due[key] = (task, due)
            if watch.handle is None:
                watch.arm()
        else:
            key = -1
        failure: BaseException | None = None
        result: object = None
        request.deadline = due  # store writes of this turn: not after it (update_session)
        try:
            if handler.simple:
                result = await handler.fn(request)
            else:
                result = await self._invoke(handler, request, settings)
        except BaseException as exc:  # re-raised below unless the deadline caused it
            failure = exc
        watch.due.pop(key, None)
        if watch.expired and key in watch.expired and task is not None:
            watch.expired.discard(key)
            # The deadline passed: our cancel() hit the handler (or it swallowed it).
            if task.uncancel() > 0 and isinstance(failure, asyncio.CancelledError):
                raise failure  # cancelled from outside too (client gone, shutdown)
            failure = _DeadlinePassed()
        if failure is None and type(result) is dict and request._states is None:
            # The common case: output values from a plain handler, no state to save.
            params = request.params
            if request.plain:
                output: dict[str, str | None] = params.copy()
            else:
                output = {}
                for k, v in params.items():
                    output[k] = v if v is None or type(v) is str else to_output_value(v)
            for k, v in result.items():
                if (v is None or type(v) is str) and k in output:
                    output[k] = v
                else:
                    break  # a number, an undeclared key: the general path handles it
            else:
                return ActionResult("OK", output, [], None)
        return await self._finish(spec, request, result, failure, settings, due)

    async def _finish(
        self,
        spec: ActionSpec,
        request: ActionRequest,
        result: object,
        failure: BaseException | None,
        settings: RuntimeSettings,
        due: float | None = None,
    ) -> ActionResult:
        """Turn any handler outcome into a result: codes, errors, directives, state."""
        code = "OK"
        error = None
        directives: list[dict[str, Any]] = []
        changes: Mapping[str, object] | None = None
        try:
            if failure is not None:
                raise failure
            if result is None:
                pass
            elif type(result) is dict:
                changes = result
            elif isinstance(result, Reply):
                changes = result.output
                directives = result.directives
            elif isinstance(result, Mapping):
                changes = result
            else:
                raise TypeError(
                    f"a handler returns a dict of output values, a Reply or None, "
                    f"not {type(result).__name__}"
                )
        except _DeadlinePassed:
            code = settings.timeout_code
            error = f"handler exceeded the {settings.deadline:g} s deadline"
        except PlayError as exc:
            code = exc.code
            changes = exc.output
            if code not in spec.exception_codes:
                spec.warn_once(
                    f"code:{code}",
                    "action %r raised exception code %r, which is declared neither on the "
                    "action nor globally; the Dialog Manager will speak the failure prompt",
                    spec.name,
                    code,
                )
        except Exception as exc:
            code = settings.failure_code
            error = f"handler raised {type(exc).__name__}: {exc}"
            logger.error(
                "action %r failed (request %s)",
                spec.name,
                request.request_id,
                exc_info=True,
                extra={"request_id": request.request_id, "action": spec.name},
            )
        # The echo rule: every key, as a string or None, with the handler's changes on top.
        output: dict[str, str | None] = {}
        for k, v in request.params.items():
            output[k] = v if v is None or type(v) is str else to_output_value(v)
        if changes:
            try:
                _apply_changes(spec, output, changes, settings.output_policy == "strict")
            except OutputTypeError as exc:
                code = settings.failure_code
                error = str(exc)
                output = _echo(request.params)
        for d in directives:
            if not isinstance(d, dict) or not isinstance(d.get("type"), str):
                code = settings.failure_code
                error = "a directive must be a dict with a 'type' string"
                directives = []
                break
        # Save the state last: only a turn that answers without error keeps its changes.
        if request._states and error is None:
            try:
                with write_deadline(due):  # a failed save never lands later (docs/state.md)
                    await request.save_state()
            except Exception as exc:
                code = settings.failure_code
                error = f"could not save state: {exc}"
                logger.error(
                    "action %r: could not save state (request %s): %s",
                    spec.name,
                    request.request_id,
                    exc,
                    extra={"request_id": request.request_id, "action": spec.name},
                )
        return ActionResult(code, output, directives, error)

    async def _invoke(
        self, handler: HandlerInfo, request: ActionRequest, settings: RuntimeSettings
    ) -> object:
        args: tuple[object, ...] = (request,) if handler.pass_request else ()
        kwargs = (
            {name: request.params.get(name) for name in handler.inject} if handler.inject else {}
        )
        if handler.is_async:
            return await handler.fn(*args, **kwargs)
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=settings.threads, thread_name_prefix="voicehook-handler"
            )
        loop = asyncio.get_running_loop()
        ctx = contextvars.copy_context()
        call = functools.partial(ctx.run, handler.fn, *args, **kwargs)
        return await loop.run_in_executor(self._executor, call)


def _apply_changes(
    spec: ActionSpec, out: dict[str, str | None], changes: Mapping[str, object], strict: bool
) -> None:
    template = spec.template
    for key, value in changes.items():
        if key not in out and key not in template:
            spec.warn_once(
                f"key:{key}",
                "action %r returned output key %r that is not one of its parameters; "
                "declare it in the play definition",
                spec.name,
                key,
            )
        out[key] = (
            value if value is None or type(value) is str else to_output_value(value, strict=strict)
        )


def _echo(params: Mapping[str, Any]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for key, value in params.items():
        out[key] = value if value is None or type(value) is str else to_output_value(value)
    return out


def _inspect_handler(
    fn: Handler, event: str | None, parameters: Mapping[str, Parameter]
) -> HandlerInfo:
    if not callable(fn):
        raise TypeError("a handler must be callable")
    is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004
    )
    sig = inspect.signature(fn)
    names = list(sig.parameters)
    pass_request = False
    inject: list[str] = []
    for i, pname in enumerate(names):
        param = sig.parameters[pname]
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if i == 0 and pname not in parameters:
            pass_request = True
            continue
        if pname in parameters:
            inject.append(pname)
        elif param.default is param.empty:
            known = ", ".join(parameters) or "none"
            raise TypeError(
                f"handler {getattr(fn, '__name__', fn)!r} takes {pname!r}, which is not a "
                f"parameter of the action (its parameters: {known})"
            )
    return HandlerInfo(
        fn=fn, is_async=is_async, inject=tuple(inject), pass_request=pass_request, event=event
    )
