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
import dis
import functools
import inspect
import json
import logging
import sys
import threading
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, TypeAlias

import msgspec

from voicehook.play.context import AppContext, MissingSessionId
from voicehook.play.counters import Counter
from voicehook.play.deadline import EXPIRED, LATE, DeadlineWatch
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
        try:
            return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
        except (RecursionError, ValueError) as exc:  # nested too deep, or circular
            raise OutputTypeError(
                f"a {type(value).__name__} output value cannot be written as JSON: {exc}"
            ) from None
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
    #: An ``async def`` whose code has no ``await``, ``async for`` or ``async with``: it can
    #: never suspend, so it is simply awaited (no task, no bookkeeping).
    never_awaits: bool = False
    #: Run on the caller's task (no task of its own): set after it finished the last
    #: ``INLINE_AFTER`` calls without suspending, cleared when it suspends.
    inline: bool = False
    sync_runs: int = 0

    def __post_init__(self) -> None:
        self.simple = self.is_async and self.pass_request and not self.inject
        self.never_awaits = self.is_async and not _may_suspend(self.fn)


#: Seconds a cancelled handler task gets to finish before the answer goes without it.
_CANCEL_GRACE = 0.02

#: Calls in a row that finish without suspending before a handler runs inline.
INLINE_AFTER = 8


class PlayStats:
    """Counters of the play's calls, for the server's metrics."""

    __slots__ = (
        "_lock",
        "blocked_deadline",
        "state_conflicts",
        "state_save_errors",
        "state_saves",
        "thread_pool_saturated",
        "threads_busy",
    )

    def __init__(self) -> None:
        self.state_conflicts = 0  # state saves refused: another turn wrote it first
        self.state_save_errors = 0  # state saves that failed otherwise (store down, full)
        self.state_saves = 0  # turns that saved their state (or found it unchanged), tried
        self.blocked_deadline = 0  # calls that ran past the deadline blocking the loop
        self.thread_pool_saturated = 0  # plain def calls that found every thread busy
        self.threads_busy = 0  # plain def handlers running on a pool thread now
        self._lock = threading.Lock()

    def in_thread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run ``fn`` on a pool thread, counted as busy until it returns (even when its
        call was answered at the deadline long before)."""
        with self._lock:
            self.threads_busy += 1
        try:
            return fn(*args, **kwargs)
        finally:
            with self._lock:
                self.threads_busy -= 1


async def _stepped(handler: HandlerInfo, coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` in its own task, noting whether it finished without suspending."""
    try:
        first = coro.send(None)
    except StopIteration as stop:
        handler.sync_runs += 1
        if handler.sync_runs >= INLINE_AFTER:
            handler.inline = True
        return stop.value
    handler.sync_runs = 0
    return await _resume(coro, first)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], yielded: Any) -> Generator[Any, Any, Any]:
    """Go on with a coroutine whose first step already ran: what ``await`` does after it."""
    while True:
        try:
            sent = yield yielded
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:
            try:
                yielded = coro.throw(exc)
            except StopIteration as stop:
                return stop.value
        else:
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


_SUSPENDING_OPS = frozenset(
    {"GET_AWAITABLE", "SEND", "YIELD_VALUE", "GET_AITER", "GET_ANEXT", "BEFORE_ASYNC_WITH"}
)


def _may_suspend(fn: Callable[..., Any]) -> bool:
    """False only when ``fn``'s own code cannot suspend (no await of any kind)."""
    code = getattr(fn, "__code__", None)
    if code is None:  # a callable object, a builtin: assume it may
        return True
    return any(ins.opname in _SUSPENDING_OPS for ins in dis.get_instructions(code))


def _wake(waiter: asyncio.Future[None], _task: object) -> None:
    if not waiter.done():
        waiter.set_result(None)


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
        self._counters: dict[str, Counter] = {}
        self._executor: ThreadPoolExecutor | None = None
        self._pool_size = 0
        self._watch: DeadlineWatch | None = None
        self._orphans: set[asyncio.Task[Any]] = set()
        self.stats = PlayStats()
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

    def counter(self, name: str, help: str, *, labels: Iterable[str] = ()) -> Counter:
        """A counter of your own, served on ``/metrics`` (see :mod:`voicehook.play.counters`).

        Declaring the same name twice gives the same counter."""
        existing = self._counters.get(name)
        if existing is not None:
            return existing
        counter = self._counters[name] = Counter(name, help, tuple(labels))
        return counter

    @property
    def counters(self) -> Mapping[str, Counter]:
        """The play's own counters by name."""
        return self._counters

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
        for task in list(self._orphans):
            task.cancel()

    # -- the call ------------------------------------------------------------------------

    async def call(
        self,
        request: ActionRequest,
        spec: ActionSpec | None = None,
        settings: RuntimeSettings | None = None,
    ) -> ActionResult:
        """Run the action's handler and build the result. Never raises for handler errors,
        except :class:`~voicehook.play.context.MissingSessionId` (an HttpError 400): the
        action keeps session state and the request has no session id.

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
                _echo(request.params),
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
        due = loop.time() + settings.deadline
        request.deadline = due  # store writes of this turn: not after it (update_session)
        failure: BaseException | None = None
        result: object = None
        if handler.never_awaits and handler.simple:
            # It cannot suspend, so nothing can cancel it: it needs no watch entry (a dict
            # insert and delete per call). Whether it ran past the deadline is one clock read.
            try:
                result = await handler.fn(request)
            except BaseException as exc:  # re-raised below unless the deadline caused it
                failure = exc
            if request._states is None:
                if loop.time() >= due:  # the watch's LATE: it blocked the loop too long
                    failure = self._deadline_passed(LATE, None, failure, spec, request)
                else:
                    fast = _plain_result(request, result, failure)
                    if fast is not None:
                        return fast
                return await self._finish(spec, request, result, failure, settings)
            # State to save: the save may suspend, so from here the watch covers the turn.
            watch, task = self._watch_for(loop, settings)
            key = watch.start_until(task, due)
        else:
            watch, task = self._watch_for(loop, settings)
            key = watch.start_until(task, due)
            try:
                if handler.simple:
                    result = await self._run(handler, handler.fn(request), loop)
                else:
                    result = await self._invoke(handler, request, settings, loop)
            except BaseException as exc:  # re-raised below unless the deadline caused it
                failure = exc
            if request._states is None:
                # No state to save: the turn ends here, and so does its deadline.
                state = watch.stop(key)
                if state:
                    failure = self._deadline_passed(state, task, failure, spec, request)
                else:
                    fast = _plain_result(request, result, failure)
                    if fast is not None:
                        return fast
                return await self._finish(spec, request, result, failure, settings)
        # The state save is part of the turn: it runs under the same deadline (the watch
        # cancels it when the time is up, so a store that hangs cannot stretch the turn).
        if failure is None and watch.remaining(key) <= 0.0:
            state = watch.stop(key)
            # The handler itself ran past the deadline: save nothing.
            failure = self._deadline_passed(state or LATE, task, None, spec, request)
            request._states = None
            return await self._finish(spec, request, None, failure, settings)
        try:
            answer = await self._finish(spec, request, result, failure, settings, due)
        except asyncio.CancelledError as exc:
            state = watch.stop(key)
            if state != EXPIRED:
                raise
            failure = self._deadline_passed(state, task, exc, spec, request)
            request._states = None  # nothing is saved after the deadline
            return await self._finish(spec, request, None, failure, settings)
        state = watch.stop(key)
        if state:
            # The watch cancelled us as the turn ended, or the save blocked the loop: the
            # saved state stands, but the answer is the one NUGU's timer expects.
            failure = self._deadline_passed(state, task, None, spec, request)
            request._states = None
            return await self._finish(spec, request, None, failure, settings)
        return answer

    def _watch_for(
        self, loop: asyncio.AbstractEventLoop, settings: RuntimeSettings
    ) -> tuple[DeadlineWatch, asyncio.Task[Any] | None]:
        """The loop's deadline watch (made on first use) and the task to cancel."""
        watch = self._watch
        if watch is None or watch.loop is not loop:
            watch = self._watch = DeadlineWatch(loop, settings.deadline)
        return watch, asyncio.current_task(loop)

    def _deadline_passed(
        self,
        state: int,
        task: asyncio.Task[Any] | None,
        failure: BaseException | None,
        spec: ActionSpec,
        request: ActionRequest,
    ) -> BaseException:
        """The failure to answer once the deadline passed (``state`` from the watch)."""
        if state == EXPIRED:
            # Our cancel() hit the call (or the handler swallowed it).
            if DeadlineWatch.outside_cancel(task) and isinstance(failure, asyncio.CancelledError):
                raise failure  # cancelled from outside too (client gone, shutdown)
            return _DeadlinePassed()
        # LATE: the call ran past its deadline without a chance to cancel it: it kept the
        # event loop busy (the loop watchdog names it too).
        spec.warn_once(
            "late",
            "action %r ran past its deadline without yielding to the event loop (request "
            "%s); it was answered with the timeout code. Do blocking work in a plain def "
            "handler (thread pool) or await between steps",
            spec.name,
            request.request_id,
        )
        self.stats.blocked_deadline += 1
        return _DeadlinePassed()

    async def _run(
        self, handler: HandlerInfo, coro: Coroutine[Any, Any, Any], loop: asyncio.AbstractEventLoop
    ) -> object:
        """Run an ``async`` handler's coroutine.

        A handler that finished without suspending the last times runs right here (no task:
        the fast path). One that suspends runs in its own task, and this call waits on a
        plain future: at the deadline the answer goes out at once even when the handler
        swallows the cancellation (it finishes in the background, and its outcome is
        dropped).
        """
        if handler.never_awaits:
            return await coro
        if handler.inline:
            try:
                first = coro.send(None)
            except StopIteration as stop:
                return stop.value
            # It suspended: from the next call on it runs in its own task. This call goes
            # on here, exactly as ``await coro`` would.
            handler.inline = False
            handler.sync_runs = 0
            return await _resume(coro, first)
        inner = loop.create_task(_stepped(handler, coro))
        waiter = loop.create_future()
        inner.add_done_callback(functools.partial(_wake, waiter))
        try:
            await waiter
        except asyncio.CancelledError:
            if not inner.done():
                inner.cancel()
                # A handler that honours the cancellation ends within a loop iteration or
                # two (its finally blocks run); one that ignores it is not waited for.
                await asyncio.wait((inner,), timeout=_CANCEL_GRACE)
                if not inner.done():
                    self._orphans.add(inner)
                    inner.add_done_callback(self._orphan_done)
                elif not inner.cancelled():
                    inner.exception()  # seen: no "never retrieved" warning
            raise
        return inner.result()

    def _orphan_done(self, task: asyncio.Task[Any]) -> None:
        """A handler task whose call was answered without it (the deadline passed)."""
        self._orphans.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        logger.warning(
            "a handler ignored its cancellation at the deadline and finished later (%s); "
            "its outcome was dropped",
            "raised " + type(exc).__name__ if exc is not None else "returned",
        )

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
        except MissingSessionId:
            raise  # the request lacks what the action needs: a 400 for the caller
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
        output = _echo(request.params)
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
            self.stats.state_saves += 1
            try:
                with write_deadline(due):  # a failed save never lands later (docs/state.md)
                    await request.save_state()
            except Exception as exc:
                code = settings.failure_code
                error = f"could not save state: {exc}"
                if type(exc).__name__ == "StateConflict":
                    self.stats.state_conflicts += 1
                else:
                    self.stats.state_save_errors += 1
                logger.error(
                    "action %r: could not save state (request %s): %s",
                    spec.name,
                    request.request_id,
                    exc,
                    extra={"request_id": request.request_id, "action": spec.name},
                )
        return ActionResult(code, output, directives, error)

    async def _invoke(
        self,
        handler: HandlerInfo,
        request: ActionRequest,
        settings: RuntimeSettings,
        loop: asyncio.AbstractEventLoop,
    ) -> object:
        args: tuple[object, ...] = (request,) if handler.pass_request else ()
        kwargs = (
            {name: request.params.get(name) for name in handler.inject} if handler.inject else {}
        )
        if handler.is_async:
            return await self._run(handler, handler.fn(*args, **kwargs), loop)
        executor = self._executor
        if executor is None:
            executor = self._executor = ThreadPoolExecutor(
                max_workers=settings.threads, thread_name_prefix="voicehook-handler"
            )
            self._pool_size = settings.threads
        stats = self.stats
        if stats.threads_busy >= self._pool_size:
            stats.thread_pool_saturated += 1
            if stats.thread_pool_saturated & (stats.thread_pool_saturated - 1) == 0:
                # 1st, 2nd, 4th, 8th ... time: a log line that cannot flood the log.
                logger.warning(
                    "all %d handler threads are busy (action %r waits for one; saturated "
                    "%d times so far): a plain def handler blocks too long, or raise "
                    "--threads",
                    self._pool_size,
                    request.action,
                    stats.thread_pool_saturated,
                    extra={"request_id": request.request_id, "action": request.action},
                )
        ctx = contextvars.copy_context()
        call = functools.partial(stats.in_thread, ctx.run, handler.fn, *args, **kwargs)
        return await loop.run_in_executor(executor, call)


def _plain_result(
    request: ActionRequest, result: object, failure: BaseException | None
) -> ActionResult | None:
    """The common case without :meth:`Play._finish`: a handler that returned a dict of
    str-or-None values for declared keys. None for anything else (the general path)."""
    if failure is not None or type(result) is not dict:
        return None
    output = request.params.copy() if request.plain else _echo(request.params)
    for k, v in result.items():
        if (v is None or type(v) is str) and k in output:
            output[k] = v
        else:
            return None  # a number, an undeclared key: the general path handles it
    return ActionResult("OK", output, [], None)


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
    """Every parameter as an output value (str or None). Never raises: a value that cannot
    be written as text (nested too deep) is echoed as None."""
    out: dict[str, str | None] = {}
    for key, value in params.items():
        if value is None or type(value) is str:
            out[key] = value
        else:
            try:
                out[key] = to_output_value(value)
            except OutputTypeError:
                out[key] = None
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
