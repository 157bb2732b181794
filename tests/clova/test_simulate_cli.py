"""``voicehook simulate --channel clova``: the REPL over the CLOVA channel."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.deploy.conftest import ROOT, child_env, serve
from voicehook.testing import ClovaSigner


def simulate(*args: str, lines: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "voicehook", "simulate", *args],
        input=lines.encode(),
        capture_output=True,
        timeout=120,
        env=child_env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def test_play_mode_in_process() -> None:
    out = simulate(
        str(ROOT / "examples" / "weather"),
        "--channel",
        "clova",
        lines="날씨 알리미 열어줘\n2월 31일 서울 날씨 알려줘\n2월 28일\nintent=Clova.StopIntent\n",
    )
    assert "clova> 안녕하세요, 날씨 알리미예요." in out
    assert "clova> 없는 날짜예요. 날짜를 다시 말씀해 주세요.\n" in out
    assert "[session stays open (the mic listens)]" in out
    assert "clova> 서울 2월 28일 날씨는 " in out
    assert out.count("[session ends]") == 2  # the answer, then the stop
    assert "clova> 날씨 알리미를 종료할게요." in out


def test_direct_mode_against_a_server(tmp_path: Path) -> None:
    signer = ClovaSigner()
    public = signer.write_public_key(tmp_path / "public.pem")
    private = signer.write_private_key(tmp_path / "private.pem")
    served = serve(
        tmp_path,
        "memory://",
        "--clova-public-key",
        str(public),
        play=ROOT / "examples" / "clova_direct",
    )
    try:
        out = simulate(
            str(ROOT / "examples" / "clova_direct"),
            "--channel",
            "clova",
            "--backend",
            served.url,
            "--clova-private-key",
            str(private),
            "-v",
            lines="/launch\nintent=Weather city=부산\n",
        )
    finally:
        served.stop()
    assert "clova> 안녕하세요, 날씨 알리미예요." in out
    assert "clova> 오늘 부산 날씨예요. 흐리고 20도예요." in out
    assert '"SignatureCEK"' not in out  # the request body, not the headers
    assert '"type":"IntentRequest"' in out


def test_backend_needs_a_private_key() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "voicehook",
            "simulate",
            str(ROOT / "examples" / "weather"),
            "--channel",
            "clova",
            "--backend",
            "http://127.0.0.1:9",
        ],
        input=b"",
        capture_output=True,
        timeout=60,
        env=child_env(),
        check=False,
    )
    assert proc.returncode == 2
    assert b"--clova-private-key" in proc.stderr
