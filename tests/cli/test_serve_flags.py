"""`voicehook serve` development and deployment flags, on a real server process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from tests._support.server import free_port

ROOT = Path(__file__).resolve().parents[2]

PLAY = """\
name: echo
actions:
  answer.hello:
    backend: true
    parameters:
      name: {type: NAME}
      greeting: backend
entities:
  NAME: {values: {민수: []}}
"""

APP = """\
import logging

from voicehook import ActionRequest, Play

play = Play.from_file("play.yaml")
log = logging.getLogger("echo.handlers")


@play.action("answer.hello")
async def hello(req: ActionRequest) -> dict[str, str]:
    log.info("handling %s", req.params.get("name"))
    return {"greeting": "안녕하세요"}
"""

REQUEST = {
    "version": "2.0",
    "action": {
        "actionName": "answer.hello",
        "parameters": {"name": {"type": "NAME", "value": "민수"}},
    },
    "context": {"session": {"id": "s1", "isNew": True}, "device": {"type": "speaker"}},
}


@pytest.fixture
def play_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "echo"
    folder.mkdir()
    (folder / "play.yaml").write_text(PLAY, encoding="utf-8")
    (folder / "app.py").write_text(APP, encoding="utf-8")
    return folder


class Served:
    def __init__(self, base: str, log: Path) -> None:
        self.base = base
        self.log = log

    def lines(self) -> list[str]:
        return self.log.read_text(encoding="utf-8", errors="replace").splitlines()

    def json_lines(self) -> list[dict[str, Any]]:
        out = []
        for line in self.lines():
            if line.startswith("{"):
                out.append(json.loads(line))
        return out


def _get(url: str, context: Any = None) -> int:
    with urllib.request.urlopen(url, timeout=3, context=context) as resp:
        status: int = resp.status
        return status


def post(base: str, headers: dict[str, str] | None = None, context: Any = None) -> Any:
    req = urllib.request.Request(
        base + "/answer.hello",
        data=json.dumps(REQUEST, ensure_ascii=False).encode(),
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    with urllib.request.urlopen(req, timeout=5, context=context) as resp:
        return json.loads(resp.read())


@contextmanager
def serve(folder: Path, *flags: str, scheme: str = "http", context: Any = None) -> Iterator[Served]:
    port = free_port()
    log = folder.parent / f"serve-{port}.log"
    env = dict(os.environ, VOICEHOOK_DEFAULT_STORE="false", VOICEHOOK_API_KEYS="")
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "voicehook", "serve", str(folder), "--port", str(port), *flags],
            stdout=err,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=folder.parent,
        )
    base = f"{scheme}://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise AssertionError(log.read_text(encoding="utf-8"))
            try:
                if _get(base + "/health", context) == 200:
                    break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise AssertionError("serve did not start: " + log.read_text(encoding="utf-8"))
            time.sleep(0.1)
        yield Served(base, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def wait_for(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)


def test_json_logs_carry_the_request_id_on_the_handlers_records(play_dir: Path) -> None:
    with serve(play_dir, "--log-format", "json") as s:
        assert post(s.base, {"X-Request-Id": "req-42"})["resultCode"] == "OK"
        wait_for(lambda: any(r.get("logger") == "echo.handlers" for r in s.json_lines()))
        time.sleep(0.2)
        records = s.json_lines()
    mine = [r for r in records if r["logger"] == "echo.handlers"]
    assert mine[0]["request_id"] == "req-42" and mine[0]["msg"] == "handling 민수"
    assert any(r["logger"].startswith("uvicorn") for r in records)  # uvicorn's lines too
    assert all(line.startswith("{") for line in s.lines() if line.strip())


def test_text_logs_for_a_terminal(play_dir: Path) -> None:
    with serve(play_dir, "--log-format", "text") as s:
        post(s.base, {"X-Request-Id": "req-7"})
        wait_for(lambda: any("echo.handlers [req-7] handling 민수" in x for x in s.lines()))
        assert not any(x.startswith("{") for x in s.lines())


def test_debug_bodies_logs_bodies_and_warns(play_dir: Path) -> None:
    with serve(play_dir, "--debug-bodies", "--log-format", "json") as s:
        post(s.base)
        wait_for(
            lambda: any(
                "response body" in r.get("msg", "") and r.get("path") == "/answer.hello"
                for r in s.json_lines()
            )
        )
        records = s.json_lines()
        text = "\n".join(s.lines())
    assert "--debug-bodies logs every request and response body" in text
    calls = [r for r in records if r.get("path") == "/answer.hello"]
    req = next(r for r in calls if r["msg"].startswith("request body"))
    resp = next(r for r in calls if r["msg"].startswith("response body"))
    assert "민수" in req["msg"] and "안녕하세요" in resp["msg"]
    assert req["request_id"] == resp["request_id"] and req["request_id"].startswith("dbg-")


def test_proxy_headers(play_dir: Path) -> None:
    forwarded = {"X-Forwarded-For": "203.0.113.7"}
    with serve(play_dir, "--access-log", "--log-format", "json") as s:
        post(s.base, forwarded)
        wait_for(lambda: any("client" in r for r in s.json_lines()))
        assert next(r for r in s.json_lines() if "client" in r)["client"] == "127.0.0.1"
    with serve(play_dir, "--access-log", "--log-format", "json", "--proxy-headers") as s:
        post(s.base, forwarded)
        wait_for(lambda: any("client" in r for r in s.json_lines()))
        assert next(r for r in s.json_lines() if "client" in r)["client"] == "203.0.113.7"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_with_ssl_keyfile_and_certfile(play_dir: Path, tmp_path: Path) -> None:
    import ssl

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
        timeout=60,
    )  # fmt: skip
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False
    flags = ("--ssl-keyfile", str(key), "--ssl-certfile", str(cert))
    with serve(play_dir, *flags, scheme="https", context=context) as s:
        assert post(s.base, context=context)["resultCode"] == "OK"


def test_ssl_needs_both_files(play_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "voicehook", "serve", str(play_dir), "--ssl-keyfile", "k.pem"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2 and "both --ssl-keyfile and --ssl-certfile" in done.stderr


def test_reload_picks_up_play_yaml_and_handler_edits(play_dir: Path) -> None:
    with serve(play_dir, "--reload") as s:
        assert post(s.base)["output"]["greeting"] == "안녕하세요"
        app = play_dir / "app.py"
        app.write_text(app.read_text(encoding="utf-8").replace("안녕하세요", "반가워요"), "utf-8")

        def answers(word: str) -> bool:
            try:
                return bool(post(s.base)["output"]["greeting"] == word)
            except (urllib.error.URLError, OSError):
                return False

        wait_for(lambda: answers("반가워요"), timeout=30)
        play = play_dir / "play.yaml"
        text = play.read_text(encoding="utf-8")
        play.write_text(
            text.replace("greeting: backend\n", "greeting: backend\n      mood: backend\n"), "utf-8"
        )

        def has_mood() -> bool:
            try:
                return "mood" in post(s.base)["output"]
            except (urllib.error.URLError, OSError):
                return False

        wait_for(has_mood, timeout=30)
