"""``voicehook console PLAY``: a local web page to talk to a play in Korean.

It serves its own page on ``http://127.0.0.1:8787`` (``--port``, ``--open``). The page has no
login, so binding to another address needs ``--allow-remote``. See docs/console.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import ipaddress
import logging
import os
import random
import sys
import threading
import time
import webbrowser
from pathlib import Path
from typing import Any

from voicehook.cli.loading import TargetError, load_play

DEFAULT_PORT = 8787
logger = logging.getLogger("voicehook.console")


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(
            "Open a local web page to talk to PLAY in Korean on NUGU, CLOVA or Bot Framework: "
            "what was recognised, which action ran, the JSON exchanged, the state. Edits of "
            "the play reload it."
        ),
    )
    p.add_argument("play", help="a play directory, app.py, play.yaml or module:attribute")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8787)")
    p.add_argument("--open", action="store_true", help="open the page in a web browser")
    p.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow --host to be an address other than loopback (the console has no login)",
    )
    p.add_argument(
        "--backend",
        metavar="URL",
        help="also offer NUGU through this Backend proxy URL (any language)",
    )
    p.add_argument("--api-key", help="send Authorization: token KEY to the backend")
    p.add_argument("--seed", type=int, help="seed for the prompt choice (default: random)")
    p.add_argument("--no-reload", action="store_true", help="do not reload on file changes")


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def play_folder(target: str) -> Path:
    """The folder to watch for a play target."""
    path = Path(target)
    if path.is_dir():
        return path.resolve()
    if path.suffix in (".py", ".yaml", ".yml"):
        return path.resolve().parent
    module_name = target.partition(":")[0]
    spec = importlib.util.find_spec(module_name)
    origin = spec.origin if spec is not None else None
    if origin is None:
        raise TargetError(f"{target}: cannot find module {module_name!r}")
    return Path(origin).resolve().parent


def forget_modules(folder: Path) -> None:
    """Drop the modules loaded from ``folder``, so the next load reads the files again."""
    base = str(folder)
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None)
        if file and os.path.abspath(file).startswith(base + os.sep):
            del sys.modules[name]


def run(args: argparse.Namespace) -> int:
    try:
        import uvicorn

        from voicehook.console import ConsoleSession, LoadedPlay, nugu_choices
        from voicehook.console.web import create_console_app
    except ImportError as exc:
        print(
            f"voicehook console: {exc.name or exc} is missing; install the console extra: "
            "pip install 'voicehook[console]' (from a checkout: pip install -e '.[console]')",
            file=sys.stderr,
        )
        return 2
    from voicehook.dialog.nlu import default_tokenizer

    if not is_loopback(args.host) and not args.allow_remote:
        print(
            f"voicehook console: --host {args.host} is not a loopback address. The console "
            "has no login: anyone who reaches it can run your handlers. Add --allow-remote "
            "if you mean it.",
            file=sys.stderr,
        )
        return 2
    try:
        folder = play_folder(args.play)
    except (TargetError, ImportError, ValueError) as exc:
        print(f"voicehook console: {exc}", file=sys.stderr)
        return 2
    target = Path(args.play) if ":" not in args.play else folder

    def loader() -> LoadedPlay:
        forget_modules(folder)
        return LoadedPlay(load_play(args.play), folder, target)

    seed = args.seed if args.seed is not None else random.randrange(1, 100_000)
    tokenizer = default_tokenizer()
    choices = nugu_choices(
        seed=seed, backend_url=args.backend, api_key=args.api_key, tokenizer=tokenizer
    )
    choices += other_channels(seed, tokenizer)
    session = ConsoleSession(loader, choices, seed=seed, watch=None if args.no_reload else folder)
    shown = f"[{args.host}]" if ":" in args.host else args.host
    url = f"http://{shown}:{args.port}"
    hosts: list[str] | None = None  # off loopback (--allow-remote): any Host
    if is_loopback(args.host):
        hosts = [f"{h}:{args.port}" for h in (shown, "127.0.0.1", "localhost", "[::1]")]
    app = create_console_app(session, hosts=hosts)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not is_loopback(args.host):
        logger.warning(
            "the console listens on %s, not only on this machine; it has no login, so anyone "
            "who reaches it can run the play's handlers",
            args.host,
        )
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        lifespan="on",
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    print(f"voicehook console: {url}  (play folder {folder}; Ctrl-C to stop)", flush=True)
    print(f"prompt choice seed {seed} (saved transcripts use it)", flush=True)
    if args.open:
        threading.Thread(target=_open_when_started, args=(server, url), daemon=True).start()
    server.run()
    return 0 if server.started else 1


def other_channels(seed: int, tokenizer: Any) -> list[Any]:
    """The CLOVA and Bot Framework entries of the channel menu (in process). A channel whose
    optional packages are missing is left out, with a line saying which."""
    from voicehook.console.clova import clova_choice

    out = [clova_choice(seed=seed, tokenizer=tokenizer)]
    try:
        from voicehook.console.botframework import botframework_choice
    except ImportError as exc:
        print(
            f"voicehook console: no Bot Framework channel ({exc.name or exc} is missing; "
            "pip install -e '.[botframework]')",
            file=sys.stderr,
        )
    else:
        out.append(botframework_choice(seed=seed, tokenizer=tokenizer))
    return out


def _open_when_started(server: Any, url: str) -> None:
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    if server.started:
        webbrowser.open(url)
