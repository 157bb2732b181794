"""Running a gateway on 127.0.0.1 for tests: config text in, messaging URL out."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from tests._support.server import free_port, running_server
from voicehook.cli.gateway import build_app
from voicehook.dialog.nlu import Tokenizer, default_tokenizer
from voicehook.gateway.config import GatewayConfig, parse_config

ROOT = Path(__file__).resolve().parent.parent.parent
EXAMPLE_ROOT_PLAY = ROOT / "examples" / "gateway" / "root"


def make_config(
    skills: dict[str, str], routes: str, *, extra: str = "", port: int = 0
) -> GatewayConfig:
    """A config for the example's root play with ``skills`` (id → endpoint) and the
    ``routes`` YAML block."""
    lines = [
        "name: test-root",
        f"play: {EXAMPLE_ROOT_PLAY}",
        f"port: {port or free_port()}",
        "timeout: 3",
        "skills:",
    ]
    for sid, endpoint in skills.items():
        lines.append(f"  {sid}:")
        lines.extend("    " + line for line in endpoint.splitlines())
    lines.append("routes:")
    lines.extend("  " + line for line in routes.strip().splitlines())
    text = "\n".join(lines) + "\n" + extra
    return parse_config(text, "test-gateway.yaml")


@cache
def shared_tokenizer() -> Tokenizer:
    """One tokenizer (a Kiwi model takes seconds to load) for every test gateway."""
    return default_tokenizer()


@contextmanager
def running_gateway(config: GatewayConfig, *, store: str = "memory://") -> Iterator[str]:
    """Serve the gateway; yields its messaging endpoint URL."""
    app = build_app(config, store=store, tokenizer=shared_tokenizer())
    with running_server(app, port=config.port) as base:
        yield base + config.messaging_path
