"""``voicehook new DIR``: start a play from a small, working template.

The template is a greeting play (``answer.greeting``) with a play definition, a handler, a
transcript and a pytest test, so ``voicehook serve``, ``voicehook simulate`` and
``voicehook test`` work on it at once.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from voicehook.cli.words import plain

PLAY_YAML = """\
name: {name}
invocation: {invocation}
failure_prompt: 죄송합니다. 현재 서버에 연결할 수 없습니다. 잠시 후 다시 이용해주세요.

welcome:
  - 안녕하세요, {invocation}예요. 이름을 말해 주세요.
exit:
  - {invocation}를 종료할게요.
fallback:
  - 죄송해요, 잘 모르겠어요. 종료할게요.
  - 다시 말씀해 주세요. 예를 들어 "내 이름은 민수야"라고 말해 보세요.

entities:
  NAME:
    values:
      민수: []
      지은: []
      철수: []

intents:
  say.name:
    examples:
      - "내 이름은 [민수](NAME)야"
      - "나는 [지은](NAME)이야"
      - "[철수](NAME)라고 불러 줘"

actions:
  answer.greeting:
    trigger: {{intent: say.name}}
    backend: true
    parameters:
      name:
        type: NAME
        required: true
        prompts:
          - 이름을 알 수 없어서 종료할게요.
          - 이름이 뭐예요?
      greeting: backend
    exceptions:
      UNKNOWN_NAME:
        prompts:
          - "{{{{name}}은}} 처음 듣는 이름이에요."
    response:
      type: end
      prompts:
        - "{{{{greeting}}}}"
"""

APP_PY = '''\
"""The {name} play: one action, ``answer.greeting``.

Run it: ``voicehook serve {dir}``. Talk to it: ``voicehook simulate {dir}``.
"""

from __future__ import annotations

from voicehook import ActionRequest, Play, PlayError

play = Play.from_file("play.yaml")  # next to this file, whatever the working directory

KNOWN = {{"민수", "지은", "철수"}}


@play.action("answer.greeting")
async def greeting(req: ActionRequest) -> dict[str, str]:
    name = req.params["name"]
    if name not in KNOWN:
        raise PlayError("UNKNOWN_NAME")
    return {{"greeting": f"반가워요, {{name}}님!"}}
'''

TRANSCRIPTS_YAML = """\
play: .
conversations:
  - name: 이름을 말하면 인사한다
    turns:
      - user: 내 이름은 민수야
        expect: {prompt: "반가워요, 민수님!", session_ended: true}
  - name: 이름을 빠뜨리면 묻는다
    turns:
      - user: intent=say.name
        expect: {prompt: "이름이 뭐예요?", type: wait}
      - user: 지은
        expect: {prompt: "반가워요, 지은님!"}
"""

TEST_PY = '''\
"""Tests of the {name} play: the backend contract and the conversations.

Run them with ``pytest`` in the play's folder (pyproject.toml puts the folder on the path).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from app import play

from voicehook.testing import NuguTestClient, assert_conversation, conversation_names

TRANSCRIPTS = Path(__file__).resolve().parents[1] / "transcripts.yaml"


def test_greeting_answers_every_key() -> None:
    async def run() -> None:
        async with NuguTestClient(play) as client:
            answer = await client.call("answer.greeting", {{"name": "민수"}})
            assert answer.result_code == "OK"
            assert answer.output == {{"name": "민수", "greeting": "반가워요, 민수님!"}}
            unknown = await client.call("answer.greeting", {{"name": "영희"}})
            assert unknown.result_code == "UNKNOWN_NAME"

    asyncio.run(run())


@pytest.mark.parametrize("name", conversation_names(TRANSCRIPTS))
def test_conversation(name: str) -> None:
    assert_conversation(TRANSCRIPTS, name)
'''

PYPROJECT_TOML = """\
[project]
name = "{name}"
version = "0.1.0"
requires-python = ">=3.11"
# voicehook itself: install it from its checkout or a built wheel first (see its README).
dependencies = ["voicehook"]

[project.optional-dependencies]
dev = ["pytest>=8"]

[tool.setuptools]
py-modules = ["app"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["."]
"""

GITIGNORE = """\
__pycache__/
*.py[cod]
.venv/
.pytest_cache/
*.egg-info/
# voicehook serve's default state store
voicehook-state.db*
# saved from voicehook console (keep the ones you want as tests)
console-*.yaml
"""


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=plain(__doc__))
    p.add_argument("directory", help="where to create the play (must not exist or be empty)")
    p.add_argument("--name", help="play name (letters, digits, _ and -; default: the folder)")
    p.add_argument("--invocation", default="인사 도우미", help="invocation name (호출 이름)")


def create(directory: Path, name: str, invocation: str) -> list[Path]:
    """Write the template into ``directory``; returns the files written."""
    files = {
        directory / "play.yaml": PLAY_YAML.format(name=name, invocation=invocation),
        directory / "app.py": APP_PY.format(name=name, dir=directory),
        directory / "transcripts.yaml": TRANSCRIPTS_YAML,
        directory / "tests" / "test_play.py": TEST_PY.format(name=name.replace("-", "_")),
        directory / "pyproject.toml": PYPROJECT_TOML.format(name=name),
        directory / ".gitignore": GITIGNORE,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return list(files)


def run(args: argparse.Namespace) -> int:
    directory = Path(args.directory)
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        print(f"voicehook new: {directory} exists and is not an empty folder", file=sys.stderr)
        return 2
    folder_name = directory.resolve().name
    name = args.name or folder_name
    note = ""
    if not args.name and not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        # A Korean folder (날씨-알리미) is fine; the play name must be ASCII.
        name = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-_") or "my-play"
        if not re.match(r"[A-Za-z]", name):
            name = "my-play"
        note = (
            f"note: the play name must use letters, digits, _ and -, so the folder "
            f"{folder_name!r} gives the play name {name!r}; choose another with --name\n"
        )
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        print(
            f"voicehook new: play name {name!r}: use letters, digits, _ and - (--name)",
            file=sys.stderr,
        )
        return 2
    if note:
        print(note, end="")
    for path in create(directory, name, args.invocation):
        print(f"created {path}")
    print(
        f"\nnext:\n  voicehook simulate {directory}\n  voicehook test {directory}\n"
        f"  voicehook console {directory}\n  voicehook serve {directory}\n"
        f"  cd {directory} && pytest"
    )
    return 0
