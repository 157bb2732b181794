"""``voicehook serve PLAY``: run a play as a NUGU Backend proxy with uvicorn."""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from voicehook.cli.loading import TargetError, load_clova, load_play
from voicehook.clova import ClovaApp, ClovaChannel, Extension, SignatureVerifier, SpeechLimits
from voicehook.clova.playmode import PlayMode
from voicehook.http import ASGIApp
from voicehook.play import Play
from voicehook.server import Settings, VoicehookApp, configure_logging, create_app
from voicehook.server.app import runtime_settings
from voicehook.server.logs import DebugBodies, default_format
from voicehook.server.routing import Route

_TARGET_ENV = "VOICEHOOK_TARGET"
_LOG_FORMAT_ENV = "VOICEHOOK_LOG_FORMAT"
_DEBUG_BODIES_ENV = "VOICEHOOK_DEBUG_BODIES"


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(
            "Serve PLAY as a NUGU Backend proxy. Flags override VOICEHOOK_* environment "
            "variables, which override --config."
        ),
    )
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")
    p.add_argument("--host", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default 8080)")
    p.add_argument("--workers", type=int, help="worker processes (default 1)")
    p.add_argument("--prefix", help="URL prefix of the Web URL, e.g. /nugu")
    p.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        help="accepted API key (Authorization: token KEY); repeat to rotate keys",
    )
    p.add_argument(
        "--play-builder",
        choices=["deny", "allow"],
        help="calls without a key that say isPlayBuilderRequest (default deny)",
    )
    p.add_argument("--max-body", type=int, help="request body cap in bytes (default 1 MiB)")
    p.add_argument("--deadline", type=float, help="handler deadline in seconds (default 3)")
    p.add_argument(
        "--store",
        help="state store URL: memory://, sqlite:///path.db, redis://h:p/db "
        "(default: SQLite at ./voicehook-state.db, opened at start-up)",
    )
    p.add_argument("--threads", type=int, help="threads for plain def handlers (default 16)")
    p.add_argument("--access-log", action="store_true", default=None, help="log every call")
    limits = p.add_argument_group(
        "connection limits", "see docs/deployment.md#limits; match them in your reverse proxy"
    )
    limits.add_argument(
        "--max-connections", type=int, help="open connections per worker (default 1000)"
    )
    limits.add_argument(
        "--max-concurrency", type=int, help="requests handled at once per worker; more: 503"
    )
    limits.add_argument(
        "--header-timeout", type=float, help="seconds to send the request head (default 10)"
    )
    limits.add_argument(
        "--body-timeout", type=float, help="seconds to send the body after it (default 10)"
    )
    limits.add_argument(
        "--max-header-bytes", type=int, help="request head size cap (default 16384); more: 431"
    )
    limits.add_argument(
        "--keepalive-timeout", type=float, help="idle keep-alive seconds (default 5)"
    )
    limits.add_argument(
        "--shutdown-timeout",
        type=float,
        help="seconds calls may finish after SIGTERM (default 10)",
    )
    p.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    p.add_argument("--config", help="a TOML file with settings ([voicehook] table)")
    p.add_argument(
        "--reload",
        action="store_true",
        help="restart when a .py or .yaml file of the play's folder changes (development)",
    )
    p.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="log lines as text or JSON (default: text on a terminal, JSON otherwise)",
    )
    p.add_argument(
        "--proxy-headers",
        action="store_true",
        help="trust X-Forwarded-For/-Proto from --forwarded-allow-ips (behind a proxy)",
    )
    p.add_argument(
        "--forwarded-allow-ips",
        default="127.0.0.1",
        help="proxies trusted with --proxy-headers (default 127.0.0.1; '*' trusts all)",
    )
    p.add_argument("--ssl-keyfile", help="serve HTTPS with this private key (PEM)")
    p.add_argument("--ssl-certfile", help="serve HTTPS with this certificate (PEM)")
    p.add_argument(
        "--debug-bodies",
        action="store_true",
        help="log every request and response body (development only: bodies hold what users said)",
    )
    c = p.add_argument_group("CLOVA", "CLOVA custom extension (see docs/clova.md)")
    c.add_argument("--clova-path", help="path of the CLOVA endpoint (default /clova)")
    c.add_argument("--no-clova", action="store_false", dest="clova", default=None)
    c.add_argument("--clova-public-key", help="PEM public key for SignatureCEK (default: CLOVA's)")
    c.add_argument(
        "--clova-app-id",
        action="append",
        dest="clova_app_ids",
        help="accepted applicationId (Extension ID); repeat for several",
    )
    c.add_argument(
        "--clova-insecure-skip-verify",
        action="store_true",
        default=None,
        help="development only: do not check SignatureCEK",
    )
    c.add_argument("--clova-deadline", type=float, help="CLOVA answer budget (default 5 s)")
    c.add_argument("--clova-limits", choices=["fix", "error"], help="speech limits (default fix)")
    bf = p.add_argument_group(
        "Bot Framework skill",
        "serve the play as a Bot Framework skill too (docs/botframework.md); the app "
        "password comes from VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD only",
    )
    bf.add_argument("--botframework", action="store_true", default=None, help="turn it on")
    bf.add_argument("--botframework-app-id", help="the skill's Microsoft app id (none: anonymous)")
    bf.add_argument("--botframework-path", help="the messaging endpoint (default /api/messages)")
    bf.add_argument(
        "--botframework-allowed-caller",
        action="append",
        dest="botframework_allowed_callers",
        help="app id of a root bot allowed to call; repeat, or * for any",
    )
    bf.add_argument(
        "--botframework-manifest",
        action="store_true",
        default=None,
        help="serve the skill manifest at /manifest.json",
    )


def resolve_settings(args: argparse.Namespace) -> Settings:
    # The server command keeps state in SQLite under the working directory unless told
    # otherwise (--store, VOICEHOOK_STORE, or VOICEHOOK_DEFAULT_STORE=false).
    base = Settings(default_store=True)
    if args.config:
        base = Settings.from_file(args.config, base=base)
    settings = Settings.from_env(base=base)
    flags = {
        "host": args.host,
        "port": args.port,
        "workers": args.workers,
        "prefix": args.prefix,
        "api_keys": tuple(args.api_keys) if args.api_keys else None,
        "play_builder": args.play_builder,
        "max_body": args.max_body,
        "deadline": args.deadline,
        "store": args.store,
        "access_log": args.access_log,
        "log_level": args.log_level,
        "threads": getattr(args, "threads", None),
        "max_connections": getattr(args, "max_connections", None),
        "max_concurrency": getattr(args, "max_concurrency", None),
        "header_timeout": getattr(args, "header_timeout", None),
        "body_timeout": getattr(args, "body_timeout", None),
        "max_header_bytes": getattr(args, "max_header_bytes", None),
        "keepalive_timeout": getattr(args, "keepalive_timeout", None),
        "shutdown_timeout": getattr(args, "shutdown_timeout", None),
        "clova": getattr(args, "clova", None),
        "clova_path": getattr(args, "clova_path", None),
        "clova_public_key": getattr(args, "clova_public_key", None),
        "clova_app_ids": tuple(args.clova_app_ids)
        if getattr(args, "clova_app_ids", None)
        else None,
        "clova_insecure_skip_verify": getattr(args, "clova_insecure_skip_verify", None),
        "clova_deadline": getattr(args, "clova_deadline", None),
        "clova_limits": getattr(args, "clova_limits", None),
        # getattr: a Namespace built by hand (tests, embedding code) may lack them.
        "botframework": getattr(args, "botframework", None),
        "botframework_app_id": getattr(args, "botframework_app_id", None),
        "botframework_path": getattr(args, "botframework_path", None),
        "botframework_allowed_callers": (
            tuple(callers)
            if (callers := getattr(args, "botframework_allowed_callers", None))
            else None
        ),
        "botframework_manifest": getattr(args, "botframework_manifest", None),
    }
    return settings.merged(flags)


def clova_channel(app: ClovaApp, settings: Settings) -> ClovaChannel:
    """The CLOVA channel for ``app`` as ``settings`` configure it."""
    if settings.clova_insecure_skip_verify:
        verifier = None
    elif settings.clova_public_key:
        verifier = SignatureVerifier.from_file(settings.clova_public_key)
    else:
        verifier = SignatureVerifier.bundled()
    return ClovaChannel(
        app,
        verifier=verifier,
        app_ids=settings.clova_app_ids,
        deadline=settings.clova_deadline,
        limits=SpeechLimits(mode="error" if settings.clova_limits == "error" else "fix"),
    )


def channel_routes(play: Play, settings: Settings) -> list[Route]:
    """The Bot Framework routes when ``settings`` turn the skill on. Raises ``ValueError``
    for a setting that cannot work (an app id without its password)."""
    if not settings.botframework:
        return []
    from voicehook.botframework.auth import BotAuthConfig, password_from_env
    from voicehook.botframework.manifest import MANIFEST_PATH, ManifestChannel
    from voicehook.botframework.skill import BotFrameworkChannel

    optional: dict[str, Any] = {}
    if settings.botframework_openid_metadata_url:
        optional["openid_metadata_url"] = settings.botframework_openid_metadata_url
    auth = BotAuthConfig(
        app_id=settings.botframework_app_id,
        app_password=password_from_env(),
        tenant_id=settings.botframework_tenant_id,
        allowed_callers=settings.botframework_allowed_callers,
        token_endpoint=settings.botframework_token_endpoint,
        **optional,
    )
    if not auth.anonymous and not auth.app_password:
        raise ValueError(
            "--botframework-app-id needs the app password in VOICEHOOK_BOTFRAMEWORK_APP_PASSWORD"
        )
    path = settings.botframework_path
    channel = BotFrameworkChannel(play, auth, settings=runtime_settings(play, settings))
    routes = [Route(path, channel, exact=True)]
    if settings.botframework_manifest:
        manifest = ManifestChannel(
            play.definition,
            path=path,
            app_id=auth.app_id,
            endpoint_url=settings.botframework_endpoint_url,
        )
        routes.append(Route(MANIFEST_PATH, manifest, exact=True))
    return routes


def build_app(play: Play, settings: Settings, extension: Extension | None = None) -> VoicehookApp:
    """The server app: NUGU, plus CLOVA at ``settings.clova_path`` unless turned off, plus
    the Bot Framework skill when turned on. Raises ``ValueError`` for settings that cannot
    work (a route conflict, an app id without its password) and ``OSError`` for a key file
    that cannot be read."""
    routes = []
    if settings.clova:
        app: ClovaApp = (
            extension
            if extension is not None
            else PlayMode(play, runtime=runtime_settings(play, settings))
        )
        routes.append(Route(settings.clova_path, clova_channel(app, settings), exact=True))
    routes.extend(channel_routes(play, settings))
    return create_app(play, settings, routes=routes)


def _export(settings: Settings, target: str) -> None:
    """Hand the settings to worker processes through the environment."""
    os.environ[_TARGET_ENV] = target
    for key in (
        "prefix",
        "play_builder",
        "max_body",
        "deadline",
        "store",
        "access_log",
        "log_level",
        "default_store",
        "failure_code",
        "timeout_code",
        "unknown_action_code",
        "output_policy",
        "health_timeout",
        "upstream_timeout",
        "max_json_depth",
        "threads",
        "loop_lag_warning",
        "health_write_probe",
        "user_ttl",
        "max_key_length",
        "metrics_under_prefix",
        "metrics_dir",
        "clova",
        "clova_path",
        "clova_public_key",
        "clova_insecure_skip_verify",
        "clova_deadline",
        "clova_limits",
        "botframework",
        "botframework_app_id",
        "botframework_path",
        "botframework_tenant_id",
        "botframework_manifest",
        "botframework_endpoint_url",
        "botframework_openid_metadata_url",
        "botframework_token_endpoint",
    ):
        value = getattr(settings, key)
        if value is not None:
            os.environ[f"VOICEHOOK_{key.upper()}"] = (
                str(value).lower() if isinstance(value, bool) else str(value)
            )
    os.environ["VOICEHOOK_API_KEYS"] = ",".join(settings.api_keys)
    os.environ["VOICEHOOK_CLOVA_APP_IDS"] = ",".join(settings.clova_app_ids)
    os.environ["VOICEHOOK_BOTFRAMEWORK_ALLOWED_CALLERS"] = ",".join(
        settings.botframework_allowed_callers
    )


def app_factory() -> ASGIApp:
    """Build the app in a uvicorn worker from the environment set by ``serve``."""
    target = os.environ.get(_TARGET_ENV)
    if not target:
        raise RuntimeError(f"{_TARGET_ENV} is not set; start the server with 'voicehook serve'")
    settings = Settings.from_env()
    fmt = os.environ.get(_LOG_FORMAT_ENV)
    configure_logging(settings.log_level, fmt="text" if fmt == "text" else "json")
    app: ASGIApp = build_app(load_play(target), settings, load_clova(target))
    if os.environ.get(_DEBUG_BODIES_ENV) == "1":
        app = DebugBodies(app)
    return app


#: What ``serve`` prints when httptools is missing (it is a dependency on CPython, so this
#: is PyPy or a broken install): uvicorn's h11 protocol runs without the connection guard.
H11_WARNING = (
    "voicehook serve: warning: httptools is not installed, so uvicorn's h11 protocol serves "
    "without the connection guard: no --header-timeout or --body-timeout (a slow client "
    "holds a connection for as long as it likes) and --max-connections only as uvicorn's "
    "limit_concurrency. Install httptools (CPython), or put a reverse proxy with read "
    "timeouts in front (docs/deployment.md, 'Connection limits')"
)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """uvicorn's options for ``settings``: address, loop, the guarded HTTP protocol and
    the connection limits (see :mod:`voicehook.server.guard`)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "lifespan": "on",
        "server_header": False,
        "timeout_keep_alive": settings.keepalive_timeout,
        "timeout_graceful_shutdown": settings.shutdown_timeout or None,  # 0: wait for all
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "backlog": 2048,
    }
    try:
        import uvloop  # noqa: F401

        options["loop"] = "uvloop"
    except ImportError:
        options["loop"] = "asyncio"
    try:
        from voicehook.server.guard import ConnectionLimits, GuardedHttpToolsProtocol, fd_budget
    except ImportError:  # no httptools (not CPython): see H11_WARNING
        options["http"] = "h11"
        options["limit_concurrency"] = settings.max_connections
        return options
    options["http"] = functools.partial(
        GuardedHttpToolsProtocol,
        limits=ConnectionLimits(
            header_timeout=settings.header_timeout,
            body_timeout=settings.body_timeout,
            max_header_bytes=settings.max_header_bytes,
            max_connections=fd_budget(settings.max_connections),
            max_concurrency=settings.max_concurrency,
        ),
    )
    return options


def run(args: argparse.Namespace) -> int:
    try:
        settings = resolve_settings(args)
    except (ValueError, OSError) as exc:
        print(f"voicehook serve: {exc}", file=sys.stderr)
        return 2
    if bool(args.ssl_keyfile) != bool(args.ssl_certfile):
        print("voicehook serve: give both --ssl-keyfile and --ssl-certfile", file=sys.stderr)
        return 2
    log_format = args.log_format or os.environ.get(_LOG_FORMAT_ENV) or default_format()
    configure_logging(settings.log_level, fmt="text" if log_format == "text" else "json")
    try:
        play = load_play(args.play)
    except TargetError as exc:
        print(f"voicehook serve: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a definition error, an import error in the app
        print(f"voicehook serve: cannot load {args.play}: {exc}", file=sys.stderr)
        return 2
    for problem in play.problems():
        print(f"voicehook serve: warning: {problem}", file=sys.stderr)
    try:
        app = build_app(play, settings, load_clova(args.play))
    except (ValueError, OSError) as exc:  # a bad key file, a path conflict
        print(f"voicehook serve: {exc}", file=sys.stderr)
        return 2
    shared = settings.store or ("sqlite://" if settings.default_store else "memory:")
    if settings.workers > 1 and shared.lower().startswith("memory:"):
        print(
            f"voicehook serve: warning: {settings.workers} workers without a shared store: "
            "session state in memory is not shared between workers, so a conversation loses "
            "it when its next turn reaches another worker; use --store sqlite:///state.db",
            file=sys.stderr,
        )
    if settings.host not in ("127.0.0.1", "localhost", "::1") and not settings.api_keys:
        print(
            "voicehook serve: warning: no --api-key set; anyone who can reach "
            f"{settings.host}:{settings.port} can call the play",
            file=sys.stderr,
        )
    if args.debug_bodies:
        print(
            "voicehook serve: warning: --debug-bodies logs every request and response body, "
            "with what users said; use it in development only",
            file=sys.stderr,
        )
    if (
        settings.botframework
        and not settings.botframework_app_id
        and settings.host not in ("127.0.0.1", "localhost", "::1")
    ):
        print(
            "voicehook serve: warning: the Bot Framework skill runs in anonymous mode (no "
            f"--botframework-app-id) on {settings.host}: anyone who can reach it can call the "
            "play and make it post replies to any serviceUrl",
            file=sys.stderr,
        )
    import uvicorn

    common = uvicorn_options(settings)
    if common["http"] == "h11":
        print(H11_WARNING, file=sys.stderr)
    common["proxy_headers"] = args.proxy_headers
    common["forwarded_allow_ips"] = args.forwarded_allow_ips
    if args.ssl_keyfile:
        common["ssl_keyfile"] = args.ssl_keyfile
        common["ssl_certfile"] = args.ssl_certfile
    cleanup = ""
    if settings.workers > 1 or args.reload:
        if settings.workers > 1 and not settings.metrics_dir:
            # Each worker leaves its metrics here; /metrics in any worker sums them all.
            settings = settings.merged({"metrics_dir": tempfile.mkdtemp(prefix="voicehook-")})
            cleanup = settings.metrics_dir
        _export(settings, args.play)
        os.environ[_LOG_FORMAT_ENV] = log_format
        os.environ[_DEBUG_BODIES_ENV] = "1" if args.debug_bodies else "0"
        if args.reload:
            _reload_options(common, args.play)
        else:
            common["workers"] = settings.workers
        try:
            uvicorn.run("voicehook.cli.serve:app_factory", factory=True, **common)
        finally:
            if cleanup:
                shutil.rmtree(cleanup, ignore_errors=True)
    else:
        served: ASGIApp = DebugBodies(app) if args.debug_bodies else app
        uvicorn.run(served, **common)
    return 0


def _reload_options(common: dict[str, Any], target: str) -> None:
    """uvicorn's reloader on the play's folder (.py and .yaml files)."""
    path = Path(target)
    folder = path if path.is_dir() else path.parent if path.suffix else Path.cwd()
    common["reload"] = True
    common["reload_dirs"] = [str(folder.resolve())]
    try:
        import watchfiles  # noqa: F401
    except ImportError:
        print(
            "voicehook serve: warning: without the watchfiles package only .py changes "
            "restart the server; pip install watchfiles (voicehook[reload]) to watch play.yaml",
            file=sys.stderr,
        )
        return
    common["reload_includes"] = ["*.py", "*.yaml", "*.yml"]
