"""Every shell command and Python snippet in the README and docs/ runs as written.

Each ```bash / ```sh / ```python block is run in a scratch copy of the repository (its
examples and docs, with this checkout's .venv), from that copy's root. A block that cannot
run there (it needs a live server, it runs until Ctrl-C, it is a fragment of a bigger file)
carries a marker on the line before its fence, with the reason::

    <!-- docs-test: skip (needs Docker) -->

A block that talks to an example server on ``127.0.0.1:8080`` says which play to serve; the
test starts ``voicehook serve PLAY`` on a free port and points the block at it::

    <!-- docs-test: serve examples/weather -->

Blocks of other languages (yaml, json, console transcripts) are not run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests._support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
RUN = {"bash": "bash", "sh": "bash", "shell": "bash", "python": "python", "py": "python"}
MARKER = re.compile(r"^\s*<!--\s*docs-test:\s*skip\s*\((?P<why>.+)\)\s*-->\s*$")
SERVE = re.compile(r"^\s*<!--\s*docs-test:\s*serve\s+(?P<play>\S+)\s*-->\s*$")
# scripts/test and scripts/demo install into .venv (pip install -e): from a scratch copy
# that would point this checkout's editable install at the copy.
INSTALLS = re.compile(
    r"\bpip3? (install|uninstall|wheel)\b|\bapt(-get)? install\b|\bscripts/(test|demo)\b"
)
FENCE = re.compile(r"^(?P<indent>\s*)```(?P<lang>[\w-]*)\s*$")


@dataclass(frozen=True)
class Block:
    file: str
    line: int
    lang: str
    code: str
    skip: str | None
    serve: str | None = None

    @property
    def id(self) -> str:
        return f"{self.file}:{self.line}"


def blocks_of(path: Path) -> list[Block]:
    out: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    rel = path.relative_to(ROOT).as_posix()
    i = 0
    previous = ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            if lines[i].strip():
                previous = lines[i]
            i += 1
            continue
        indent, lang, start = m["indent"], m["lang"], i
        body: list[str] = []
        i += 1
        while i < len(lines) and not re.match(rf"^{indent}```\s*$", lines[i]):
            body.append(lines[i][len(indent) :] if lines[i].startswith(indent) else lines[i])
            i += 1
        i += 1
        marker = MARKER.match(previous)
        serve = SERVE.match(previous)
        if lang in RUN:
            code = "\n".join(body) + "\n"
            out.append(
                Block(
                    rel,
                    start + 1,
                    RUN[lang],
                    code,
                    marker["why"] if marker else None,
                    serve["play"] if serve else None,
                )
            )
        previous = ""
    return out


DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
BLOCKS = [b for path in DOCS for b in blocks_of(path)]


def test_the_marker_is_understood() -> None:
    text = "intro\n<!-- docs-test: skip (needs a server) -->\n```bash\ncurl x\n```\n"
    sample = ROOT / "docs" / "_marker_sample.md"
    try:
        sample.write_text(text, encoding="utf-8")
        (block,) = blocks_of(sample)
    finally:
        sample.unlink()
    assert block.skip == "needs a server" and block.code == "curl x\n"
    assert len(BLOCKS) > 30  # the parser finds the docs' blocks


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("docs-sandbox")
    for name in ("examples", "docs", "scripts"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "README.md", root / "README.md")
    shutil.copy(ROOT / "pyproject.toml", root / "pyproject.toml")
    venv = Path(sys.prefix)
    (root / ".venv").symlink_to(venv if (venv / "bin" / "python").exists() else ROOT / ".venv")
    return root


@pytest.mark.slow
@pytest.mark.parametrize("block", [b for b in BLOCKS if b.skip is None], ids=lambda b: b.id)
def test_block_runs_as_written(block: Block, sandbox: Path, tmp_path: Path) -> None:
    env = dict(os.environ)
    env["PATH"] = f"{sandbox / '.venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.update(WEATHER_TODAY="2026-11-22", VOICEHOOK_DEFAULT_STORE="false", NO_COLOR="1")
    code = block.code
    # Never install packages from a docs block: it would change this checkout's .venv.
    assert not INSTALLS.search(code), "a block that installs packages needs a skip marker"
    with contextlib.ExitStack() as stack:
        if block.serve is not None:
            port = stack.enter_context(example_server(sandbox, block.serve, env))
            code = code.replace("127.0.0.1:8080", f"127.0.0.1:{port}")
        else:
            assert "127.0.0.1:8080" not in code, "mark it: <!-- docs-test: serve PLAY -->"
        run_block(block, code, sandbox, env, tmp_path)


@contextlib.contextmanager
def example_server(sandbox: Path, play: str, env: dict[str, str]) -> Iterator[int]:
    """``voicehook serve PLAY`` on a free port of 127.0.0.1 until the block ran."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "voicehook", "serve", play, "--port", str(port)],
        cwd=sandbox,
        env={**env, "VOICEHOOK_API_KEYS": ""},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"voicehook serve {play} exited"
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, f"voicehook serve {play} did not start"
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def run_block(block: Block, code: str, sandbox: Path, env: dict[str, str], tmp: Path) -> None:
    if block.lang == "bash":
        cmd = ["bash", "-euo", "pipefail", "-c", code]
    else:
        script = tmp / "snippet.py"
        script.write_text(code, encoding="utf-8")
        cmd = [sys.executable, str(script)]
    done = subprocess.run(
        cmd, cwd=sandbox, env=env, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, (
        f"{block.id} ({block.lang}) failed with {done.returncode}:\n{code}\n"
        f"--- stdout\n{done.stdout[-3000:]}\n--- stderr\n{done.stderr[-3000:]}"
    )


def test_every_skipped_block_says_why() -> None:
    skipped = [b for b in BLOCKS if b.skip is not None]
    assert all(b.skip and b.skip.strip() for b in skipped)
