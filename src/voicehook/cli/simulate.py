"""``voicehook simulate PLAY``: talk to a play in Korean, as NUGU's Dialog Manager would.

With a terminal it is an interactive prompt (history with the arrow keys, colours unless
``NO_COLOR`` is set). Without one it reads one user turn per line, so sessions can be piped::

    printf '서울 날씨 알려줘\\n' | voicehook simulate examples/weather

Lines starting with ``/`` are commands: ``/event PlaybackFinished [token=..]``, ``/reset``,
``/state``, ``/help``, ``/quit``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shlex
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TextIO

from voicehook.cli.loading import TargetError, load_play
from voicehook.cli.words import count
from voicehook.dialog.engine import (
    DeviceEvent,
    DialogEngine,
    EngineSettings,
    Reset,
    TurnInput,
    TurnResult,
    UserText,
)
from voicehook.dialog.session import DeviceState, DialogState
from voicehook.nugu.backend import Backend, HttpBackend
from voicehook.nugu.caller import NuguCaller
from voicehook.play import DefinitionError, PlayDefinition, load_definition
from voicehook.server.inprocess import InProcessBackend

HELP = """commands:
  TEXT                        say something (the invocation name alone opens the play)
  intent=NAME TYPE=value      structured input, e.g. intent=ask.weather LOCATION=서울
  /event NAME [key=value ..]  send a device event, e.g. /event PlaybackFinished token=t1
  /reset                      forget the session and the device state
  /state                      show the session state
  /help                       this help
  /quit                       leave (Ctrl-D works too)"""


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")
    p.add_argument(
        "--backend",
        metavar="URL",
        help="call this Backend proxy URL (any language) instead of the play's handlers",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="show request/response JSON")
    p.add_argument("--seed", type=int, help="repeatable random prompt choice and session ids")
    p.add_argument("--null-form", action="store_true", default=None, help="send null params")
    p.add_argument(
        "--play-builder",
        action="store_true",
        default=None,
        help="behave like Play Builder's test chat",
    )
    p.add_argument("--timeout", type=float, help="backend timeout in seconds (default 3)")
    p.add_argument("--api-key", help="send Authorization: token KEY, as a real device does")
    p.add_argument(
        "--channel",
        choices=["nugu", "clova", "botframework"],
        default="nugu",
        help="clova: each turn as a signed CEK request to the CLOVA channel; botframework: "
        "each line as a message activity to the play's Bot Framework skill, in process",
    )
    p.add_argument(
        "--clova-private-key", metavar="PEM", help="with --channel clova --backend: signing key"
    )
    p.add_argument("--clova-path", default="/clova", help="path of the CLOVA endpoint")


# --------------------------------------------------------------------------- output


class Style:
    """ANSI colours, or none."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled

    def _wrap(self, code: str, text: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.enabled else text

    def dim(self, text: str) -> str:
        return self._wrap("2", text)

    def bold(self, text: str) -> str:
        return self._wrap("1", text)

    def green(self, text: str) -> str:
        return self._wrap("32", text)

    def red(self, text: str) -> str:
        return self._wrap("31", text)

    def yellow(self, text: str) -> str:
        return self._wrap("33", text)

    def cyan(self, text: str) -> str:
        return self._wrap("36", text)


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2)


def format_turn(result: TurnResult, *, verbose: bool = False, style: Style | None = None) -> str:
    """A turn as text: recognition, backend calls, the prompt, directives and the state."""
    s = style or Style(False)
    lines: list[str] = []
    if result.kind == "reset":
        return s.dim("  (reset: new device, no session)")
    if result.kind == "event" and result.event is not None:
        lines.append(f"  event   {result.event.get('type')}")
    else:
        ents = ", ".join(
            f"{e.role}={e.value}"
            + (f" (typed {e.text!r}, {e.source} {e.confidence:.2f})" if e.confidence < 1 else "")
            for e in result.entities
        )
        intent = result.intent or "(none)"
        nlu = f"  intent  {intent} ({result.score:.2f})"
        lines.append(nlu + (f"  entities {ents}" if ents else ""))
        if result.corrections or result.unresolved:
            read = ", ".join(result.corrections)
            unclear = ", ".join(repr(u) for u in result.unresolved)
            lines.append(
                s.yellow(
                    "  typed   "
                    + (f"read {read}" if read else "")
                    + ("; " if read and unclear else "")
                    + (f"not understood {unclear}" if unclear else "")
                )
            )
    if result.actions:
        lines.append(s.dim(f"  path    {' -> '.join(result.actions)}"))
    for call in result.calls:
        status = call.status if call.status is not None else "-"
        code = call.result_code if call.result_code is not None else "-"
        mark = {"ok": s.green, "exception": s.yellow, "failure": s.red}[call.outcome]
        line = f"  call    {call.action}  HTTP {status}  resultCode {code}  {call.elapsed_ms} ms"
        lines.append(mark(line))
        if call.error:
            lines.append(s.red(f"          {call.error}"))
        if verbose:
            lines.append(s.dim("  request " + _json(call.request).replace("\n", "\n          ")))
            shown = call.response if call.response is not None else call.body
            lines.append(s.dim("  answer  " + _json(shown).replace("\n", "\n          ")))
    for v in result.violations:
        lines.append(s.red(f"  violation  {v}"))
    for w in result.warnings:
        lines.append(s.yellow(f"  warning  {w}"))
    if result.prompt is not None:
        label = f"[{result.prompt_type}, {result.prompt_source}]"
        lines.append(s.bold(f"  prompt  {label} ") + s.cyan(result.prompt or "(silent)"))
    if result.directives:
        lines.append(f"  directives {', '.join(result.directive_types)}")
        if verbose:
            lines.append(
                s.dim("          " + _json(result.directives).replace("\n", "\n          "))
            )
    lines.append(
        s.dim("  " + describe_state(result.state, result.device, ended=result.session_ended))
    )
    return "\n".join(lines)


def describe_state(state: DialogState, device: DeviceState, *, ended: bool = False) -> str:
    """One line about the session: open or ended, what it waits for, the AudioPlayer."""
    audio = device.audio
    player = f"AudioPlayer {audio.player_activity}"
    if audio.token:
        player += f" token={audio.token} offset={audio.offset_in_milliseconds}"
    if not state.active:
        return f"session ended; {player}" if ended else f"no session; {player}"
    w = state.waiting
    if w is None:
        what = "listening"
    else:
        what = {
            "SlotWait": lambda: f"slot filling {getattr(w, 'param', '')}",
            "ExceptionWait": lambda: f"exception wait {getattr(w, 'code', '')}",
            "ListenWait": lambda: f"multi-turn {getattr(w, 'action', '')}",
            "ConfirmWait": lambda: f"confirming {getattr(w, 'intent', '')}",
        }[type(w).__name__]()
    return f"session {state.session_id[:8]} open, {what}; {player}"


def state_details(state: DialogState, device: DeviceState) -> str:
    """The conversation and the device as JSON (``/state``)."""
    import msgspec

    data = {"conversation": msgspec.to_builtins(state), "device": msgspec.to_builtins(device)}
    return _json(data)


# --------------------------------------------------------------------------- input


class CommandError(ValueError):
    """A malformed ``/`` command."""


def parse_line(line: str) -> TurnInput | str | None:
    """A line as a turn input, a command name (``state``, ``help``, ``quit``), or None."""
    text = line.strip()
    if not text:
        return None
    if not text.startswith("/"):
        return UserText(text)
    try:
        parts = shlex.split(text[1:])
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    if not parts:
        raise CommandError("empty command; try /help")
    cmd, args = parts[0].lower(), parts[1:]
    if cmd == "event":
        if not args:
            raise CommandError("usage: /event NAME [key=value ...]")
        fields: dict[str, Any] = {}
        for arg in args[1:]:
            key, eq, value = arg.partition("=")
            if not eq or not key:
                raise CommandError(f"expected key=value, got {arg!r}")
            fields[key] = int(value) if value.lstrip("-").isdigit() else value
        return DeviceEvent(args[0], fields)
    if cmd == "reset":
        return Reset()
    if cmd in ("state", "help", "quit", "exit", "q"):
        return "quit" if cmd in ("exit", "q") else cmd
    raise CommandError(f"unknown command /{cmd}; try /help")


# --------------------------------------------------------------------------- running


def build_engine(args: argparse.Namespace) -> tuple[DialogEngine, str]:
    """The engine for the command's arguments and a one-line description of the backend."""
    definition: PlayDefinition
    backend: Backend
    overrides = {
        "seed": args.seed,
        "null_form": args.null_form,
        "play_builder": args.play_builder,
        "timeout": args.timeout,
    }
    if args.backend:
        target = Path(args.play)
        if target.is_dir() or target.suffix in (".yaml", ".yml"):
            definition = load_definition(target)
        else:
            definition = load_play(args.play).definition
        settings, _ = EngineSettings.from_mapping(definition.settings, **overrides)
        backend = HttpBackend(args.backend, timeout=settings.timeout, api_key=args.api_key)
        where = f"backend {args.backend}"
    else:
        play = load_play(args.play)
        definition = play.definition
        settings, _ = EngineSettings.from_mapping(definition.settings, **overrides)
        backend = InProcessBackend(play, api_key=args.api_key)
        where = "in-process handlers"
    return DialogEngine(definition, NuguCaller(backend), settings=settings), where


class Session:
    """Runs lines through the engine and prints each turn."""

    def __init__(
        self,
        engine: DialogEngine,
        out: TextIO,
        *,
        verbose: bool,
        style: Style,
        echo: bool,
    ) -> None:
        self.engine = engine
        self.state = engine.new_state()
        self.device = DeviceState()
        self.out = out
        self.verbose = verbose
        self.style = style
        self.echo = echo

    def print(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    async def handle(self, line: str) -> bool:
        """Handle one line; False means quit."""
        try:
            inp = parse_line(line)
        except CommandError as exc:
            self.print(self.style.red(f"  {exc}"))
            return True
        if inp is None:
            return True
        if self.echo:
            self.print(f"> {line.strip()}")
        if inp == "quit":
            return False
        if inp == "help":
            self.print(HELP)
            return True
        if inp == "state":
            self.print(state_details(self.state, self.device))
            return True
        assert not isinstance(inp, str)
        result = await self.engine.turn(self.state, inp, device=self.device)
        self.state = result.state
        self.device = result.device
        self.print(format_turn(result, verbose=self.verbose, style=self.style))
        return True


def _read_tty(prompt: str) -> Callable[[], str | None]:
    with contextlib.suppress(ImportError):  # readline gives input() history and arrow keys
        import readline  # noqa: F401

    def read() -> str | None:
        try:
            return input(prompt)
        except EOFError:
            return None

    return read


async def chat_loop(handle: Callable[[str], Awaitable[bool]], *, interactive: bool) -> None:
    """Read the user's lines off the event loop (a ``user>`` prompt on a terminal, else
    standard input) and hand each to ``handle`` until it returns False or input ends. The
    CLOVA and Bot Framework simulators share it; the NUGU one reads synchronously."""
    read = _read_tty("user> ") if interactive else None
    while True:
        line = (
            await asyncio.to_thread(read)
            if read is not None
            else await asyncio.to_thread(sys.stdin.readline) or None
        )
        if line is None or not await handle(line):
            break


def run(args: argparse.Namespace) -> int:
    if getattr(args, "channel", "nugu") == "clova":
        from voicehook.cli.simulate_clova import run as run_clova

        return run_clova(args)
    if getattr(args, "channel", "nugu") == "botframework":
        from voicehook.cli.simulate_botframework import run as run_botframework

        return run_botframework(args)
    try:
        engine, where = build_engine(args)
    except (TargetError, DefinitionError, ValueError) as exc:
        print(f"voicehook simulate: {exc}", file=sys.stderr)
        return 2
    interactive = sys.stdin.isatty()
    color = interactive and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    style = Style(color)
    session = Session(engine, sys.stdout, verbose=args.verbose, style=style, echo=not interactive)
    defn = engine.definition
    head = f"play {defn.name} ({count(len(defn.actions), 'action')}) with {where}"
    if defn.invocation:
        head += f"; invocation name: {defn.invocation}"
    session.print(style.bold(head))
    if interactive:
        session.print(style.dim("type /help for commands, /quit to leave"))
    read = _read_tty(style.green("user> ") if color else "user> ") if interactive else None
    with asyncio.Runner() as runner:
        try:
            while True:
                line = read() if read is not None else sys.stdin.readline() or None
                if line is None:
                    break
                if not runner.run(session.handle(line)):
                    break
        except KeyboardInterrupt:
            session.print("")
        finally:
            runner.run(engine.aclose())
    return 0
