"""``voicehook simulate PLAY --channel clova``: the simulator REPL, with every turn sent as a
signed CEK request to a CLOVA endpoint (the play in process, or ``--backend URL``: any CEK
extension). It shows what CLOVA would say and whether the session stays open."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from voicehook.cli.loading import TargetError, load_clova, load_play
from voicehook.cli.simulate import CommandError, Style, chat_loop, parse_line
from voicehook.play import DefinitionError

HELP = """commands (CLOVA channel):
  TEXT                        what CLOVA's NLU would recognise (voicehook's NLU stands in)
  intent=NAME slot=value ..   an exact CEK IntentRequest, e.g. intent=Clova.NextIntent
  /launch                     a LaunchRequest (a new session)
  /end                        a SessionEndedRequest
  /event NAME [key=value ..]  an EventRequest, e.g. /event AudioPlayer.PlayFinished
  /reset                      a new session and a new device
  /help, /quit"""


def _intent_line(text: str) -> tuple[str, dict[str, str]] | None:
    parts = text.split()
    if not parts or not parts[0].startswith("intent="):
        return None
    slots = {}
    for part in parts[1:]:
        key, eq, value = part.partition("=")
        if not eq or not key:
            raise CommandError(f"expected slot=value, got {part!r}")
        slots[key] = value
    return parts[0][len("intent=") :], slots


class ClovaRepl:
    def __init__(self, driver: Any, *, verbose: bool, style: Style, echo: bool) -> None:
        self.driver = driver
        self.verbose = verbose
        self.style = style
        self.echo = echo

    def print(self, text: str) -> None:
        print(text, flush=True)

    def show(self, turn: Any) -> None:
        s = self.style
        if self.verbose:
            self.print(s.dim("  request:  " + self.driver.client.last_body.decode()))
            self.print(s.dim("  response: " + json.dumps(turn.data, ensure_ascii=False)))
        if turn.status != 200:
            self.print(s.red(f"  HTTP {turn.status}: {turn.data}"))
            return
        self.print(s.cyan("clova> ") + (turn.speech or s.dim("(no speech)")))
        if turn.reprompt:
            self.print(s.dim(f"  reprompt: {turn.reprompt}"))
        if turn.directives:
            self.print(s.yellow("  directives: " + ", ".join(turn.directives)))
        state = "session ends" if turn.end else "session stays open (the mic listens)"
        self.print(s.dim(f"  [{state}]"))

    async def handle(self, line: str) -> bool:
        text = line.strip()
        if not text:
            return True
        if self.echo:
            self.print(f"> {text}")
        client = self.driver.client
        try:
            if text in ("/launch", "/end", "/help", "/quit", "/exit", "/q"):
                if text == "/launch":
                    self.show(await client.launch())
                elif text == "/end":
                    self.show(await client.session_ended())
                elif text == "/help":
                    self.print(HELP)
                else:
                    return False
                return True
            structured = _intent_line(text)
            if structured is not None:
                turn = await client.intent(*structured)
                self.driver.device.apply(turn)
                self.show(turn)
                return True
            inp = parse_line(text)
        except CommandError as exc:
            self.print(self.style.red(f"  {exc}"))
            return True
        if inp is None or inp == "quit":
            return inp is None
        if isinstance(inp, str):  # state/help of the NUGU simulator
            self.print(HELP)
            return True
        turn = await self.driver.turn(inp)
        if turn is None:
            self.print(self.style.dim("  [new session, new device]"))
        else:
            self.show(turn)
        return True


def run(args: argparse.Namespace) -> int:
    from voicehook.clova.extension import ClovaApp
    from voicehook.clova.playmode import PlayMode
    from voicehook.dialog.engine import DialogEngine, EngineSettings
    from voicehook.testing import shared_tokenizer
    from voicehook.testing.clova import ClovaClient, ClovaSigner
    from voicehook.testing.clova_transcripts import ClovaDriver, clova_test_app

    try:
        play = load_play(args.play)
        extension = load_clova(args.play)
        if args.backend and not args.clova_private_key:
            raise ValueError(
                "--channel clova --backend needs --clova-private-key (the server verifies "
                "with the matching --clova-public-key)"
            )
        signer = (
            ClovaSigner.from_private_key(args.clova_private_key)
            if args.clova_private_key
            else ClovaSigner()
        )
    except (TargetError, DefinitionError, ValueError, OSError) as exc:
        print(f"voicehook simulate: {exc}", file=sys.stderr)
        return 2
    overrides = {"seed": args.seed} if args.seed is not None else {}
    settings, _ = EngineSettings.from_mapping(play.definition.settings, **overrides)
    nlu = DialogEngine(play.definition, None, settings=settings, tokenizer=shared_tokenizer()).nlu
    target: Any
    if args.backend:
        target, where = args.backend, f"CLOVA endpoint {args.backend}{args.clova_path}"
    else:
        app: ClovaApp = (
            extension if extension is not None else PlayMode(play, engine_settings=overrides)
        )
        target = clova_test_app(play, app, signer, args.clova_path)
        mode = "direct mode" if extension is not None else "play mode"
        where = f"the CLOVA channel in process ({mode}, signed requests)"
    interactive = sys.stdin.isatty()
    color = interactive and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    style = Style(color)

    async def main() -> None:
        async with ClovaClient(target, signer, path=args.clova_path) as client:
            repl = ClovaRepl(
                ClovaDriver(client, nlu), verbose=args.verbose, style=style, echo=not interactive
            )
            repl.print(style.bold(f"play {play.name} on {where}"))
            await chat_loop(repl.handle, interactive=interactive)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("")
    return 0
