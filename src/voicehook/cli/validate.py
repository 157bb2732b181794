"""``voicehook validate PLAY``: check a play definition and its handlers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from voicehook.cli.loading import TargetError, load_play
from voicehook.play import DefinitionError


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")


def run(args: argparse.Namespace) -> int:
    try:
        play = load_play(args.play)
    except DefinitionError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s)", file=sys.stderr)
        return 1
    except TargetError as exc:
        print(f"voicehook validate: {exc}", file=sys.stderr)
        return 2
    # A bare play.yaml has no handlers yet: only a Python target is checked for them.
    problems = [] if args.play.endswith((".yaml", ".yml")) else play.problems()
    from voicehook.dialog.validate import check_prompts

    problems += check_prompts(play.definition)
    from voicehook.clova.playmode import check_clova_section

    problems += check_clova_section(play.definition)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s)", file=sys.stderr)
        return 1
    d = play.definition
    print(
        f"{d.source}: ok — play {d.name!r}, {len(d.actions)} action(s), {len(d.intents)} "
        f"intent(s), {len(d.entities)} entity type(s)"
    )
    return 0
