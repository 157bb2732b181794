"""``voicehook check PLAY --backend URL``: check any backend proxy against a play's contract.

Exit codes: 0 no violations (warnings allowed), 1 violations, 2 usage or connection errors.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any

from voicehook.check import BackendUnreachable, check_backend, plan_requests
from voicehook.cli.loading import TargetError, load_play
from voicehook.play import DefinitionError

API_KEY_ENV = "VOICEHOOK_CHECK_API_KEY"


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(
            "Send the requests NUGU would send to every action of PLAY that has the backend "
            "on, and report answers that break the Backend proxy contract. Works with a "
            "backend in any language. Exit 0: no violations; 1: violations; 2: usage or "
            "connection error."
        ),
    )
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")
    p.add_argument(
        "--backend",
        metavar="URL",
        help="the backend's Web URL, e.g. http://127.0.0.1:8080 (default: the play's backend_url)",
    )
    p.add_argument(
        "--api-key",
        metavar="KEY",
        default=os.environ.get(API_KEY_ENV) or None,
        help=f"sent as 'Authorization: token KEY' in device-shaped requests (env {API_KEY_ENV})",
    )
    p.add_argument("--prefix", default="", help="path added to the Web URL, e.g. /nugu")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument(
        "--bodies", action="store_true", help="with --json: include every request body sent"
    )
    p.add_argument("--timeout", type=float, default=3.0, help="seconds per request (default 3)")
    p.add_argument(
        "--slow-ms",
        type=float,
        default=1000.0,
        help="warn about answers slower than this (default 1000)",
    )
    p.add_argument(
        "--max-requests",
        type=int,
        default=24,
        metavar="N",
        help="at most N requests per action (default 24)",
    )
    p.add_argument(
        "--action",
        action="append",
        dest="actions",
        metavar="NAME",
        help="check only this action (repeatable)",
    )
    p.add_argument(
        "--concurrency", type=int, default=4, help="requests in flight at once (default 4)"
    )
    p.add_argument(
        "--insecure",
        action="store_true",
        help="do not verify the backend's TLS certificate (self-signed test servers)",
    )
    p.add_argument(
        "--dry-run",
        action="store_true",
        help="print the planned requests as JSON and send nothing",
    )
    p.add_argument(
        "--channel",
        choices=["nugu", "clova"],
        default="nugu",
        help="clova: check a CEK custom extension at --backend (docs/clova.md)",
    )
    p.add_argument("--clova-private-key", metavar="PEM", help="with --channel clova: signing key")
    p.add_argument("--clova-path", default="/clova", help="path of the CLOVA endpoint")
    p.add_argument("--clova-app-id", help="the applicationId to send (your Extension ID)")


def _fail(message: str) -> int:
    print(f"voicehook check: {message}", file=sys.stderr)
    return 2


def _run_clova(args: argparse.Namespace) -> int:
    from voicehook.check.clova import run_clova_checks
    from voicehook.testing.clova import ClovaSigner

    if not args.backend or not args.clova_private_key:
        return _fail(
            "--channel clova needs --backend URL and --clova-private-key PEM (the extension "
            "must verify with the matching public key)"
        )
    try:
        definition = load_play(args.play).definition
        signer = ClovaSigner.from_private_key(args.clova_private_key)
        checks = asyncio.run(
            run_clova_checks(
                args.backend,
                signer,
                path=args.clova_path,
                definition=definition,
                application_id=args.clova_app_id,
            )
        )
    except (TargetError, DefinitionError, ValueError, OSError) as exc:
        return _fail(str(exc))
    if args.json:
        out = [{"check": c.name, "status": c.status, "problems": c.problems} for c in checks]
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        for c in checks:
            print(f"{'PASS' if c.passed else 'FAIL'} {c.name} (HTTP {c.status})")
            for problem in c.problems:
                print(f"     {problem}")
        failed = sum(not c.passed for c in checks)
        print(f"{len(checks) - failed}/{len(checks)} CLOVA checks passed")
    return 1 if any(not c.passed for c in checks) else 0


def run(args: argparse.Namespace) -> int:
    if getattr(args, "channel", "nugu") == "clova":
        return _run_clova(args)
    try:
        play = load_play(args.play)
    except (TargetError, DefinitionError) as exc:
        return _fail(str(exc))
    defn = play.definition
    if args.max_requests < 1:
        return _fail("--max-requests must be at least 1")
    if args.timeout <= 0:
        return _fail("--timeout must be positive")
    names = args.actions or [n for n, a in defn.actions.items() if a.backend]
    unknown = [n for n in names if n not in defn.actions]
    if unknown:
        return _fail(f"the play has no action(s): {', '.join(unknown)}")
    if not any(defn.actions[n].backend for n in names):
        return _fail(f"play {defn.name!r}: no action with 'backend: true'; nothing to check")
    if args.dry_run:
        plan = {
            n: [
                {
                    "number": c.number,
                    "shape": c.shape,
                    "description": c.description,
                    "headers": {
                        k: ("token ***" if k == "Authorization" else v)
                        for k, v in c.headers.items()
                    },
                    "body": c.body,
                }
                for c in plan_requests(
                    defn, n, api_key=args.api_key, max_requests=args.max_requests
                )
            ]
            for n in names
            if defn.actions[n].backend
        }
        print(json.dumps(plan, ensure_ascii=False, indent=2))
        return 0
    backend = args.backend or defn.backend_url
    if not backend:
        return _fail("give --backend URL (the play has no backend_url)")
    try:
        report = asyncio.run(
            check_backend(
                defn,
                backend,
                api_key=args.api_key,
                timeout=args.timeout,
                slow_ms=args.slow_ms,
                max_requests=args.max_requests,
                prefix=args.prefix,
                actions=args.actions,
                concurrency=args.concurrency,
                insecure=args.insecure,
            )
        )
    except BackendUnreachable as exc:
        return _fail(f"{exc}\nIs the backend running? Check --backend and --prefix.")
    except ValueError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps(report.to_dict(bodies=args.bodies), ensure_ascii=False, indent=2))
    else:
        print(report.render())
    return report.exit_code()
