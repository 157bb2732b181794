"""``voicehook manifest PLAY``: print the Bot Framework skill manifest (schema v2.2)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from voicehook.cli.loading import TargetError, load_play


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(
            "Print the skill manifest (schema v2.2) of PLAY served as a Bot Framework skill "
            "(voicehook serve PLAY --botframework). Give it to the skill consumer."
        ),
    )
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")
    p.add_argument(
        "--endpoint-url",
        default="http://127.0.0.1:8080/api/messages",
        help="the skill's public messaging URL (default http://127.0.0.1:8080/api/messages)",
    )
    p.add_argument("--app-id", default="", help="the skill's Microsoft app id (none: anonymous)")
    p.add_argument("--version", dest="skill_version", default="1.0", help="skill version")
    p.add_argument("--publisher", default="voicehook", help="publisherName")
    p.add_argument("-o", "--output", help="write to this file instead of standard output")


def run(args: argparse.Namespace) -> int:
    from voicehook.botframework.manifest import build_manifest

    try:
        play = load_play(args.play)
    except TargetError as exc:
        print(f"voicehook manifest: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a definition error, an import error in the app
        print(f"voicehook manifest: cannot load {args.play}: {exc}", file=sys.stderr)
        return 2
    try:
        manifest = build_manifest(
            play.definition,
            endpoint_url=args.endpoint_url,
            app_id=args.app_id,
            version=args.skill_version,
            publisher=args.publisher,
        )
    except ValueError as exc:
        print(f"voicehook manifest: {exc}", file=sys.stderr)
        return 2
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0
