"""``voicehook validate PLAY``: check a play definition and its handlers.

Every problem is reported at once: the definition's structure, the handlers, the prompts.
Each names its file, line and column. Warnings (things that work but are probably not
meant) do not change the exit code.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from voicehook.cli.loading import TargetError, load_play
from voicehook.cli.words import count
from voicehook.play import DefinitionError, PlayDefinition
from voicehook.play.definition import ScalarPlace, load_definition, scalar_places


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")


def _yaml_file(target: str) -> Path | None:
    path = Path(target)
    if path.is_dir():
        return path / "play.yaml" if (path / "play.yaml").is_file() else None
    if path.suffix in (".yaml", ".yml"):
        return path
    return None


def _has_handlers(target: str) -> bool:
    path = Path(target)
    if path.is_dir():
        return (path / "app.py").is_file()
    return path.suffix == ".py" or (":" in target and path.suffix not in (".yaml", ".yml"))


def _code_place(exc: BaseException) -> str:
    """``file:line`` of the handler code that raised (the last frame outside voicehook)."""
    here = str(Path(__file__).resolve().parents[1])
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(here)]
    if isinstance(exc, SyntaxError):
        return f"{exc.filename}:{exc.lineno}:{exc.offset or 1}"
    if not frames:
        return "<handlers>"
    frame = frames[-1]
    shown = os.path.relpath(frame.filename)
    return f"{frame.filename if shown.startswith('..') else shown}:{frame.lineno}"


def run(args: argparse.Namespace) -> int:
    problems: list[str] = []
    notes: list[str] = []
    definition: PlayDefinition | None = None
    places: dict[str, ScalarPlace] = {}
    yaml_file = _yaml_file(args.play)
    if yaml_file is not None:
        try:
            places = scalar_places(yaml_file.read_text(encoding="utf-8"))
        except OSError:
            places = {}
        try:
            definition = load_definition(yaml_file)
        except DefinitionError as exc:
            problems += exc.problems
            if isinstance(exc.definition, PlayDefinition):
                definition = exc.definition
    if _has_handlers(args.play):
        try:
            play = load_play(args.play)
        except TargetError as exc:
            print(f"voicehook validate: {exc}", file=sys.stderr)
            return 2
        except DefinitionError as exc:
            problems += exc.problems
            if definition is None and isinstance(exc.definition, PlayDefinition):
                definition = exc.definition
            notes.append(f"{args.play}: handlers not checked: the definition does not load")
        except Exception as exc:  # the handler module itself failed (a typo, an import)
            problems.append(f"{_code_place(exc)}: {type(exc).__name__}: {exc}")
        else:
            definition = play.definition  # with the actions declared in code
            problems += play.problems()
    elif yaml_file is None:
        print(f"voicehook validate: {args.play}: no play.yaml or app.py found", file=sys.stderr)
        return 2
    warnings: list[str] = []
    if definition is not None:
        from voicehook.dialog.validate import check_prompts, check_warnings

        problems += check_prompts(definition, places)
        warnings = check_warnings(definition, places)
        from voicehook.clova.playmode import check_clova_section

        problems += check_clova_section(definition)
    problems = list(dict.fromkeys(problems))
    for problem in problems:
        print(problem, file=sys.stderr)
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    if problems:
        print(count(len(problems), "problem"), file=sys.stderr)
        return 1
    assert definition is not None
    d = definition
    print(
        f"{d.source}: ok — play {d.name!r}, {count(len(d.actions), 'action')}, "
        f"{count(len(d.intents), 'intent')}, {count(len(d.entities), 'entity type')}"
        + (f"; {count(len(warnings), 'warning')}" if warnings else "")
    )
    return 0
