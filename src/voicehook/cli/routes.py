"""``voicehook routes PLAY``: the actions a play serves, their parameters and codes."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from voicehook.cli.loading import TargetError, load_clova, load_play
from voicehook.clova import Extension
from voicehook.play import DefinitionError, Play
from voicehook.server import Settings


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")
    p.add_argument("--prefix", default="", help="URL prefix to show in the paths")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--clova-path", help="path of the CLOVA endpoint (default /clova)")
    p.add_argument("--no-clova", action="store_false", dest="clova", default=None)
    p.add_argument(
        "--channels", action="store_true", help="print only the channel paths (with --json: JSON)"
    )


def channel_paths(target: str, play: Play, settings: Settings) -> list[dict[str, str]]:
    """Every channel path ``voicehook serve`` would answer, from its real route table."""
    from voicehook.cli.serve import build_app

    app = build_app(play, settings, load_clova(target))
    out = []
    for route in app.routes.routes:
        mode = ""
        if route.channel.name == "clova":
            mode = (
                "direct" if isinstance(getattr(route.channel, "app", None), Extension) else "play"
            )
        methods = ", ".join(sorted(route.channel.methods))
        out.append(
            {"channel": route.channel.name, "path": f"{methods} {route.pattern}", "mode": mode}
        )
    return out


def describe(play: Play, prefix: str = "") -> list[dict[str, Any]]:
    """One dict per action: path, parameters, exception codes, handlers."""
    prefix = "" if prefix in ("", "/") else "/" + prefix.strip("/")
    out = []
    defn = play.definition
    for name, spec in play.specs.items():
        params = []
        for p in spec.parameters.values():
            params.append(
                {
                    "name": p.name,
                    "kind": p.kind,
                    "type": p.type,
                    "required": p.required,
                }
            )
        handlers = sorted((e or "*") for e in spec.handlers)
        out.append(
            {
                "action": name,
                "path": f"POST {prefix}/{name}",
                "backend": spec.action.backend,
                "handlers": handlers,
                "parameters": params,
                "exceptions": sorted(spec.exception_codes - set(defn.exceptions)),
                "global_exceptions": sorted(defn.exceptions),
            }
        )
    return out


def run(args: argparse.Namespace) -> int:
    try:
        play = load_play(args.play)
    except (TargetError, DefinitionError) as exc:
        print(f"voicehook routes: {exc}", file=sys.stderr)
        return 2
    settings = Settings.from_env().merged(
        {"prefix": args.prefix or None, "clova": args.clova, "clova_path": args.clova_path}
    )
    try:
        channels = channel_paths(args.play, play, settings)
    except (ValueError, OSError) as exc:
        print(f"voicehook routes: {exc}", file=sys.stderr)
        return 2
    if args.channels:
        if args.json:
            print(json.dumps(channels, ensure_ascii=False, indent=2))
        else:
            for c in channels:
                print(
                    f"{c['channel']:<8} {c['path']}"
                    + (f"  ({c['mode']} mode)" if c["mode"] else "")
                )
        return 0
    routes = describe(play, args.prefix)
    if args.json:
        print(json.dumps(routes, ensure_ascii=False, indent=2))
        return 0
    print(f"play {play.name}: {len(routes)} action(s)")
    print("\nchannels:")
    for c in channels:
        print(f"  {c['channel']:<8} {c['path']}" + (f"  ({c['mode']} mode)" if c["mode"] else ""))
    for r in routes:
        mark = "" if r["handlers"] or not r["backend"] else "  (no handler!)"
        print(f"\n{r['path']}{mark}")
        if r["handlers"] and r["handlers"] != ["*"]:
            print(f"  handlers: {', '.join(r['handlers'])}")
        for p in r["parameters"]:
            what = p["kind"] if p["kind"] != "utterance" else f"utterance {p['type']}"
            req = ", required" if p["required"] else ""
            print(f"  {p['name']:<16} {what}{req}")
        if r["exceptions"]:
            print(f"  exceptions: {', '.join(r['exceptions'])}")
    if routes and routes[0]["global_exceptions"]:
        print(f"\nglobal exceptions: {', '.join(routes[0]['global_exceptions'])}")
    return 0
