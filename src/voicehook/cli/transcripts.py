"""``voicehook test TRANSCRIPTS.yaml``: run scripted conversations and check expectations.

A play folder stands for its ``transcripts.yaml`` (``voicehook test examples/weather``).
``--channel`` picks who runs the turns: NUGU's simulated Dialog Manager (the default),
signed CEK requests to the CLOVA channel (``clova``), or activities to the play's Bot
Framework skill in process (``botframework``).

Exits 0 when every conversation passed, 1 when one failed (with a diff of expected and got),
and 2 when a file or the play cannot be loaded.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

from voicehook.cli.loading import TargetError
from voicehook.cli.simulate import Style, format_turn
from voicehook.cli.words import count
from voicehook.play import DefinitionError
from voicehook.testing import shared_tokenizer
from voicehook.testing.transcripts import Report, TranscriptError, arun_transcripts


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument(
        "transcripts",
        nargs="+",
        help="transcript YAML files, or play folders (their transcripts.yaml)",
    )
    p.add_argument(
        "--backend",
        metavar="URL",
        help="run against this Backend proxy URL instead of the play's handlers",
    )
    p.add_argument("--api-key", help="send Authorization: token KEY")
    p.add_argument("-v", "--verbose", action="store_true", help="print every turn")
    p.add_argument("--seed", type=int, help="seed for random prompt choice")
    p.add_argument(
        "--channel",
        choices=["nugu", "clova", "botframework"],
        default="nugu",
        help="clova: every turn as a signed CEK request to the CLOVA channel (docs/clova.md); "
        "botframework: every turn as an Activity to the play's Bot Framework skill, in process "
        "(docs/botframework.md)",
    )
    p.add_argument(
        "--clova-private-key",
        metavar="PEM",
        help="with --channel clova --backend: sign with this private key (the server has its "
        "public key as --clova-public-key)",
    )
    p.add_argument("--clova-path", default="/clova", help="path of the CLOVA endpoint")


def transcript_file(given: str) -> Path:
    """The transcript file for an argument: the file, or a play folder's transcripts.yaml."""
    path = Path(given)
    if not path.is_dir():
        return path
    for name in ("transcripts.yaml", "transcripts.yml"):
        if (path / name).is_file():
            return path / name
    raise TranscriptError(
        f"{given}: a folder without transcripts.yaml; name a transcript file instead"
    )


def run(args: argparse.Namespace) -> int:
    style = Style(sys.stdout.isatty() and not os.environ.get("NO_COLOR"))
    overrides: dict[str, Any] = {}
    if args.seed is not None:
        overrides["seed"] = args.seed
    worst = 0
    for given in args.transcripts:
        try:
            path = transcript_file(given)
        except TranscriptError as exc:
            print(f"voicehook test: {exc}", file=sys.stderr)
            worst = 2
            continue
        try:
            if args.channel == "clova":
                report = asyncio.run(_clova(path, args, overrides))
            elif args.channel == "botframework":
                report = asyncio.run(_botframework(path, args, overrides))
            else:
                report = asyncio.run(
                    arun_transcripts(
                        path,
                        args.backend,
                        settings=overrides,
                        api_key=args.api_key,
                        tokenizer=shared_tokenizer(),
                    )
                )
        except (TranscriptError, TargetError, DefinitionError, ValueError, OSError) as exc:
            print(f"voicehook test: {exc}", file=sys.stderr)
            worst = 2
            continue
        for conv in report.conversations:
            mark = style.green("PASS") if conv.passed else style.red("FAIL")
            turns = len(conv.turns) if args.channel == "nugu" else conv.turn_count
            print(f"{mark} {conv.name} ({count(turns, 'turn')})")
            if args.verbose and args.channel == "nugu":
                for i, turn in enumerate(conv.turns, 1):
                    said = turn.text if turn.kind == "user" else turn.kind
                    print(f"  turn {i}: {said}")
                    print(format_turn(turn, style=style))
        if not report.passed:
            print(style.red(report.describe_failures()))
            worst = max(worst, 1)
        print(report.summary())
    return worst


async def _clova(path: str | Path, args: argparse.Namespace, overrides: dict[str, Any]) -> Report:
    from voicehook.testing.clova import ClovaSigner
    from voicehook.testing.clova_transcripts import arun_clova_transcripts

    signer = (
        ClovaSigner.from_private_key(args.clova_private_key) if args.clova_private_key else None
    )
    if args.backend and signer is None:
        raise ValueError(
            "--channel clova --backend needs --clova-private-key (the server must verify "
            "signatures with the matching --clova-public-key)"
        )
    return await arun_clova_transcripts(
        path,
        args.backend,
        settings=overrides,
        tokenizer=shared_tokenizer(),
        signer=signer,
        clova_path=args.clova_path,
    )


async def _botframework(
    path: str | Path, args: argparse.Namespace, overrides: dict[str, Any]
) -> Report:
    from voicehook.testing.botframework import arun_botframework_transcripts

    if args.backend:
        raise ValueError("--channel botframework runs the play in process; drop --backend")
    return await arun_botframework_transcripts(
        path, settings=overrides, tokenizer=shared_tokenizer()
    )
