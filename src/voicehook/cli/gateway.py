"""``voicehook gateway CONFIG``: run a Bot Framework root bot that hands turns to skills.

See ``docs/botframework.md`` ("Composing skills behind a root") and
:mod:`voicehook.gateway.config` for the config file.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from voicehook.cli.loading import TargetError, load_play
from voicehook.gateway.config import GatewayConfig, load_config
from voicehook.play.errors import DefinitionError
from voicehook.server import Settings, VoicehookApp, configure_logging, create_app

if TYPE_CHECKING:
    from voicehook.dialog.nlu import Tokenizer


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(
            "Run a Bot Framework root bot (skill consumer) from a YAML config: the user's "
            "channel posts to the messaging endpoint, skills call back the skill host endpoint."
        ),
    )
    p.add_argument("config", help="the gateway YAML file")
    p.add_argument("--host", help="address to bind (default: the config's, else 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: the config's, else 3978)")
    p.add_argument("--store", help="state store URL (default: the config's, else SQLite)")
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"], default="info")
    p.add_argument(
        "--check", action="store_true", help="validate the config and the play, then exit"
    )


def build_app(
    config: GatewayConfig, *, store: str | None = None, tokenizer: Tokenizer | None = None
) -> VoicehookApp:
    """The gateway's ASGI app: the root play's server with the gateway's two channels.

    ``tokenizer`` shares a loaded Kiwi model between apps (it takes seconds to load).
    """
    from voicehook.dialog.caller import PlayCaller
    from voicehook.dialog.engine import DialogEngine
    from voicehook.gateway.service import Gateway
    from voicehook.server.app import runtime_settings
    from voicehook.server.routing import Route

    play = load_play(config.play)
    settings = Settings(
        host=config.host,
        port=config.port,
        prefix="/nugu",
        store=store or config.store,
        default_store=True,
    )
    calls = runtime_settings(play, settings)
    gateway = Gateway(
        config,
        lambda ctx: DialogEngine(
            play.definition, PlayCaller(play, ctx, settings=calls), tokenizer=tokenizer
        ),
    )
    routes = [
        Route(config.messaging_path, gateway.messaging, exact=True),
        Route(config.skill_host_path, gateway.skill_host, tree=True),
    ]
    return create_app(play, settings, routes=routes)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except DefinitionError as exc:
        print(f"voicehook gateway: {exc}", file=sys.stderr)
        return 2
    changes: dict[str, Any] = {}
    if args.host:
        changes["host"] = args.host
    if args.port:
        changes["port"] = args.port
    if changes:
        import msgspec

        config = msgspec.structs.replace(config, **changes)
    configure_logging(args.log_level)
    try:
        app = build_app(config, store=args.store)
    except TargetError as exc:
        print(f"voicehook gateway: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a definition error, an import error in the root play
        print(f"voicehook gateway: cannot load {config.play}: {exc}", file=sys.stderr)
        return 2
    if args.check:
        print(f"{args.config}: OK ({len(config.skills)} skills, {len(config.routes)} routes)")
        return 0
    import uvicorn

    print(
        f"voicehook gateway {config.name}: messages at http://{config.host}:{config.port}"
        f"{config.messaging_path}, skills call back {config.host_endpoint()}",
        file=sys.stderr,
        flush=True,
    )
    uvicorn.run(
        app,
        host=config.host,
        port=config.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        server_header=False,
    )
    return 0
