"""``voicehook simulate PLAY --channel botframework``: the simulator REPL, with every line
sent as a ``message`` activity to the play's Bot Framework skill, in process (the client of
``voicehook test --channel botframework``). It shows what a Bot Framework user gets: the
reply text, whether the skill waits (``inputHint``) and the ``endOfConversation``."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from voicehook.cli.loading import TargetError, load_play
from voicehook.cli.simulate import Style, chat_loop
from voicehook.play import DefinitionError

HELP = """commands (Bot Framework channel):
  TEXT      a message activity with this text (the skill's NLU reads it)
  /end      an endOfConversation activity: the root bot cancels the skill
  /reset    a new conversation (a new conversation.id)
  /help, /quit"""


class BotFrameworkRepl:
    def __init__(self, client: Any, *, verbose: bool, style: Style, echo: bool) -> None:
        self.client = client
        self.verbose = verbose
        self.style = style
        self.echo = echo

    def print(self, text: str) -> None:
        print(text, flush=True)

    def show(self, turn: Any) -> None:
        s = self.style
        if self.verbose:
            self.print(s.dim("  activity: " + json.dumps(turn.activity, ensure_ascii=False)))
            self.print(s.dim("  replies:  " + json.dumps(turn.data, ensure_ascii=False)))
        if turn.status != 200:
            self.print(s.red(f"  HTTP {turn.status}: {turn.data}"))
            return
        if turn.messages:
            self.print(s.cyan("bot> ") + (turn.text or s.dim("(no text)")))
        if turn.directives:
            self.print(s.yellow("  directives: " + ", ".join(turn.directives)))
        if turn.messages:
            wait = "waits for the answer" if turn.waits else "does not wait"
            self.print(s.dim(f"  [inputHint {turn.input_hint}: the skill {wait}]"))
        if turn.ended:
            self.print(s.dim(f"  [endOfConversation {turn.end_code}; a new conversation]"))
        if turn.activity.get("type") == "endOfConversation":
            self.print(s.dim("  [the root bot cancelled the skill; a new conversation]"))
        elif not turn.activities:
            self.print(s.dim("  (no reply)"))

    async def handle(self, line: str) -> bool:
        from voicehook.dialog.engine import DeviceEvent, Reset, UserText

        text = line.strip()
        if not text:
            return True
        if self.echo:
            self.print(f"> {text}")
        if text in ("/quit", "/exit", "/q"):
            return False
        if text == "/help":
            self.print(HELP)
            return True
        if text == "/reset":
            await self.client.turn(Reset())
            self.print(self.style.dim(f"  [new conversation {self.client.conversation_id}]"))
            return True
        if text.startswith("/") and text != "/end":
            self.print(self.style.red(f"  unknown command {text.split()[0]}; /help lists them"))
            return True
        inp = DeviceEvent("endOfConversation") if text == "/end" else UserText(text)
        self.show(await self.client.turn(inp))
        return True


def run(args: argparse.Namespace) -> int:
    from voicehook.dialog.caller import PlayCaller
    from voicehook.dialog.engine import DialogEngine, EngineSettings
    from voicehook.play.context import AppContext
    from voicehook.testing import shared_tokenizer
    from voicehook.testing.botframework import BotFrameworkClient, botframework_test_app
    from voicehook.testing.clova_transcripts import seeded_session_ids

    try:
        if args.backend:
            raise ValueError("--channel botframework runs the play in process; drop --backend")
        play = load_play(args.play)
    except (TargetError, DefinitionError, ValueError, OSError) as exc:
        print(f"voicehook simulate: {exc}", file=sys.stderr)
        return 2
    overrides = {"seed": args.seed} if args.seed is not None else {}
    settings, _ = EngineSettings.from_mapping(play.definition.settings, **overrides)
    tokenizer = shared_tokenizer()

    def engine(app: AppContext) -> DialogEngine:
        caller = PlayCaller(play, app)
        return DialogEngine(play.definition, caller, settings=settings, tokenizer=tokenizer)

    interactive = sys.stdin.isatty()
    color = interactive and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    style = Style(color)
    ids = seeded_session_ids(settings.seed, "simulate")

    async def main() -> None:
        target = botframework_test_app(play, engine)
        async with BotFrameworkClient(target, conversation_ids=ids) as client:
            repl = BotFrameworkRepl(client, verbose=args.verbose, style=style, echo=not interactive)
            repl.print(
                style.bold(
                    f"play {play.name} as a Bot Framework skill in process "
                    "(anonymous mode, expectReplies)"
                )
            )
            await chat_loop(repl.handle, interactive=interactive)

    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        print("")
    return 0
