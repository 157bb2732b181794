"""Issue 9, item 6: honest health, the default store opened at start-up, the image's command."""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests._support.redis_server import free_port
from tests.hardening.conftest import NUGU_BODY, QUIZ, ROOT, Server
from voicehook import ActionRequest, Play, Settings
from voicehook.testing import NuguTestClient


def no_writes(path: Path) -> None:
    """Make every write to the store's table fail while reads work (a full disk, a
    read-only file; as root, file modes do not stop writes)."""
    with sqlite3.connect(path) as db:
        for when in ("INSERT", "UPDATE"):
            db.execute(
                f"CREATE TRIGGER no_{when.lower()} BEFORE {when} ON voicehook_kv "
                "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END"
            )


@pytest.mark.parametrize("probe", [True, False])
async def test_health_fails_when_the_store_cannot_write(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, probe: bool
) -> None:
    # Was: /health 200 through 32,164 failed turns on a full disk (the check was a read).
    db = tmp_path / "state.db"
    settings = Settings(store=f"sqlite:///{db}", health_write_probe=probe)
    async with NuguTestClient(Play("p"), settings) as client:
        assert (await client.request("GET", "/health")).status == 200
        no_writes(db)
        with caplog.at_level(logging.ERROR, logger="voicehook.server"):
            answer = await client.request("GET", "/health")
        if not probe:  # a read-only check cannot see it: the old behaviour
            assert answer.status == 200
            return
        assert answer.status == 503
        text = answer.body.decode()
        assert str(tmp_path) not in text and "disk" not in text  # generic: no details
        assert json.loads(text)["error"]["code"] == "unhealthy"
        assert "database or disk is full" in caplog.text  # the details are in the log
        metrics = (await client.request("GET", "/metrics")).body.decode()
        assert "voicehook_store_probe_failures_total 1" in metrics


async def test_the_unhealthy_body_names_no_host() -> None:
    # Was: the unauthenticated 503 body named the store's host:port.
    play = Play("p")

    @play.health_check("upstream")
    async def upstream(app: object) -> bool:
        raise ConnectionError("cannot reach 10.1.2.3:6379")

    async with NuguTestClient(play) as client:
        answer = await client.request("GET", "/health")
        assert answer.status == 503
        assert "10.1.2.3" not in answer.body.decode()
        assert "upstream" in answer.body.decode()


@pytest.fixture
def shared_tmp() -> Iterator[Path]:
    """A directory other users can enter (pytest's tmp_path is private to root)."""
    d = Path(tempfile.mkdtemp(prefix="voicehook-image-"))
    d.chmod(0o755)
    try:
        yield d
    finally:
        shutil.rmtree(d, ignore_errors=True)


def root_owned_dir(parent: Path) -> Path:
    d = parent / "app"
    d.mkdir()
    os.chown(d, 0, 0)
    d.chmod(0o755)
    return d


needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="switching users needs root")


#: Run a command as the unprivileged user ``nobody`` (what ``USER`` does in the image).
AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@needs_root
def test_an_uncreatable_default_store_stops_the_start_with_a_clear_message(
    shared_tmp: Path,
) -> None:
    # Was: the server started, /health said 200, and every stateful turn failed.
    cwd = root_owned_dir(shared_tmp)
    log = shared_tmp / "out.log"
    cmd = [
        *AS_NOBODY,
        sys.executable,
        "-m",
        "voicehook",
        "serve",
        str(QUIZ),
        "--port",
        str(free_port()),
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("VOICEHOOK_")}
    env["PYTHONPATH"] = f"{ROOT}:{ROOT / 'src'}"
    with log.open("wb") as out:
        proc = subprocess.run(
            cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=60
        )
    text = log.read_text()
    assert proc.returncode != 0
    assert "cannot create the state store" in text and "--store" in text
    assert "Traceback" not in text


def image_command() -> tuple[list[str], dict[str, str], str]:
    """The CMD, the ENV and the last WORKDIR of deploy/Dockerfile."""
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = json.loads(re.findall(r"^CMD (\[.*\])$", text, re.M)[-1])
    env = dict(re.findall(r"^ENV (VOICEHOOK_\w+)=(\S+)$", text, re.M))
    workdir = re.findall(r"^WORKDIR (\S+)$", text, re.M)[-1]
    return cmd, env, workdir


@needs_root
def test_the_image_start_command_works_as_a_non_root_user(shared_tmp: Path) -> None:
    # Was: in the image the default SQLite file could not be created (non-root user,
    # root-owned /app, a CMD that did not use /data).
    cmd, env, workdir = image_command()
    assert cmd[:3] == ["voicehook", "serve", "/app/play"]
    assert workdir == "/data" and "/data/" in env["VOICEHOOK_STORE"]
    # The image's paths, moved under tmp_path: /app is root-owned, /data is the user's.
    app = root_owned_dir(shared_tmp)
    data = shared_tmp / "data"
    data.mkdir()
    os.chown(data, 65534, 65534)
    store = env["VOICEHOOK_STORE"].replace("/data/", f"{data}/")
    args = [a.replace("/app/play", str(QUIZ)) for a in cmd[1:]]
    args = [("127.0.0.1" if a == "0.0.0.0" else a) for a in args]  # tests stay on loopback
    port_at = args.index("--port")
    del args[port_at : port_at + 2]
    server = Server(
        shared_tmp,
        *args[2:],
        play=Path(args[1]),
        cmd=[*AS_NOBODY, sys.executable, "-m", "voicehook", "serve", args[1]],
        env_extra={"VOICEHOOK_STORE": store},
        cwd=data,
    )
    try:
        status, body = server.post("/quiz.start", NUGU_BODY)
        assert status == 200 and json.loads(body)["resultCode"] == "OK"
        assert (data / "voicehook-state.db").exists()
        assert not list(app.iterdir())
    finally:
        server.stop()


def counting_play() -> Play:
    play = Play("p")

    @play.action("count", backend=["n"], code_only=True)
    async def count(req: ActionRequest) -> dict[str, str]:
        state = await req.session_state()
        state["n"] = state.get("n", 0) + 1
        return {"n": str(state["n"])}

    return play


@pytest.mark.parametrize("rate", [0.5, 0.0])
async def test_health_fails_when_most_state_saves_fail(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, rate: float
) -> None:
    # Without the write probe (it is off here), /health used to see nothing while every
    # turn's save failed; the failure-rate threshold sees the turns themselves.
    db = tmp_path / "state.db"
    settings = Settings(store=f"sqlite:///{db}", health_write_probe=False, health_failure_rate=rate)
    async with NuguTestClient(counting_play(), settings) as client:
        for i in range(5):  # saves that work
            assert (await client.call("count", session_id=f"ok-{i}")).result_code == "OK"
        assert (await client.request("GET", "/health")).status == 200
        no_writes(db)
        for i in range(4):
            answer = await client.call("count", session_id=f"bad-{i}")
            assert answer.result_code == "BACKEND_ERROR"
        # 4 failed of 9 saves since start-up: too few saves to judge
        assert (await client.request("GET", "/health")).status == 200
        for i in range(4, 10):
            answer = await client.call("count", session_id=f"bad-{i}")
            assert answer.result_code == "BACKEND_ERROR"
        # 10 failed of 15 saves in the window: over the share
        with caplog.at_level(logging.ERROR, logger="voicehook.server"):
            health = await client.request("GET", "/health")
    if rate == 0.0:  # off: the old behaviour
        assert health.status == 200
        return
    assert health.status == 503
    assert "store_writes" in health.body.decode()
    assert "database" not in health.body.decode()  # generic: details in the log only
    assert "state saves failed" in caplog.text


async def test_a_few_failed_saves_among_many_keep_health_up(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    settings = Settings(store=f"sqlite:///{db}", health_write_probe=False)
    async with NuguTestClient(counting_play(), settings) as client:
        for i in range(12):
            assert (await client.call("count", session_id=f"ok-{i}")).result_code == "OK"
        no_writes(db)
        for i in range(3):  # 3 of 15: under the 0.5 default
            await client.call("count", session_id=f"bad-{i}")
        assert (await client.request("GET", "/health")).status == 200


def test_the_failure_rate_is_a_share() -> None:
    with pytest.raises(ValueError, match="health_failure_rate"):
        Settings(health_failure_rate=1.5)
