"""The ``voicehook`` command line.

Each subcommand lives in its own module with ``add_parser(subparsers)`` and ``run(args)``;
modules are imported only when their command runs (``voicehook --help`` stays fast).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

#: command name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("voicehook.cli.serve", "serve a play as a NUGU Backend proxy"),
    "routes": ("voicehook.cli.routes", "list a play's actions, parameters and exception codes"),
    "validate": ("voicehook.cli.validate", "check a play definition file"),
    "simulate": ("voicehook.cli.simulate", "talk to a play in Korean, as NUGU's Dialog Manager"),
    "test": ("voicehook.cli.transcripts", "run scripted conversations (transcripts)"),
    "check": ("voicehook.cli.check", "check any backend proxy URL against a play's contract"),
    "new": ("voicehook.cli.new", "start a new play from a working template"),
    "manifest": ("voicehook.cli.manifest", "print a play's Bot Framework skill manifest"),
    "chat": ("voicehook.cli.chat", "talk to a Bot Framework bot from the terminal"),
    "gateway": ("voicehook.cli.gateway", "run a Bot Framework root bot that hands turns to skills"),
    "console": ("voicehook.cli.console", "a local web page to talk to a play and see its JSON"),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="voicehook",
        description="voicehook: NUGU backend proxies, a local Dialog Manager simulator, tests.",
    )
    from voicehook import __version__

    parser.add_argument("--version", action="version", version=f"voicehook {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if only is not None and name != only:
            sub.add_parser(name, help=help_text, add_help=False)
            continue
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        module.add_parser(sub, name, help_text)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``voicehook`` command."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in args_list if not a.startswith("-")), None)
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(args_list)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    module = importlib.import_module(COMMANDS[args.command][0])
    code: int = module.run(args)
    return code


def entry() -> None:
    sys.exit(main())
