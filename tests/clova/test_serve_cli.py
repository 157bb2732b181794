"""``voicehook serve`` with CLOVA: real processes on 127.0.0.1, settings from flags, TOML and
the environment, and ``voicehook routes``."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.conftest import ROOT, serve
from voicehook.cli import main
from voicehook.server import Settings
from voicehook.testing import ClovaSigner, cek_request

DIRECT = ROOT / "examples" / "clova_direct"
APP_ID = "com.example.weather"


def post(port: int, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("POST", path, body, {"Content-Type": "application/json", **headers})
        r = conn.getresponse()
        return r.status, json.loads(r.read())
    finally:
        conn.close()


def test_serve_direct_mode(tmp_path: Path, signer: ClovaSigner) -> None:
    key = signer.write_public_key(tmp_path / "test-key.pem")
    served = serve(
        tmp_path,
        "memory://",
        "--clova-public-key",
        str(key),
        "--clova-app-id",
        APP_ID,
        "--clova-app-id",
        "com.example.other",
        "--clova-path",
        "/cek/weather",
        play=DIRECT,
    )
    try:
        body = cek_request(
            "IntentRequest",
            intent="Weather",
            slots={"city": "부산", "when": {"value": "2026-03-01", "valueType": "DATE"}},
            application_id=APP_ID,
        )
        status, data = post(served.port, "/cek/weather", body, {"SignatureCEK": signer.sign(body)})
        assert status == 200, data
        speech = data["response"]["outputSpeech"]
        assert speech["type"] == "SpeechSet"
        assert speech["verbose"]["values"][0]["value"] == "3월 1일 부산 날씨예요."
        status, data = post(served.port, "/cek/weather", body, {})
        assert (status, data["error"]["code"]) == (403, "missing_signature")
        other = cek_request("LaunchRequest", application_id="com.example.evil")
        status, data = post(
            served.port, "/cek/weather", other, {"SignatureCEK": signer.sign(other)}
        )
        assert (status, data["error"]["code"]) == (403, "application_not_allowed")
        status, data = post(served.port, "/clova", body, {"SignatureCEK": signer.sign(body)})
        # moved: /clova is now a NUGU action URL, and this is no NUGU request
        assert (status, data["error"]["code"]) == (400, "missing_field")
    finally:
        served.stop()
    log = served.log.read_text()
    assert "verification is OFF" not in log
    assert "부산" not in log  # never the body


def test_serve_insecure_and_without_app_ids_warns(tmp_path: Path) -> None:
    served = serve(
        tmp_path,
        "memory://",
        "--clova-insecure-skip-verify",
        "--log-level",
        "info",
        play=DIRECT,
    )
    try:
        body = cek_request("LaunchRequest")
        status, data = post(served.port, "/clova", body, {})
        assert status == 200
        assert data["response"]["shouldEndSession"] is False
    finally:
        served.stop()
    log = served.log.read_text()
    assert "verification is OFF" in log
    assert "no CLOVA application id configured" in log


def test_serve_no_clova(tmp_path: Path) -> None:
    served = serve(tmp_path, "memory://", "--no-clova", play=DIRECT)
    try:
        body = cek_request("LaunchRequest")
        status, data = post(served.port, "/clova", body, {})
        assert (status, data["error"]["code"]) == (400, "missing_field")  # NUGU's answer
    finally:
        served.stop()


def test_settings_from_toml_and_env(tmp_path: Path) -> None:
    toml = tmp_path / "voicehook.toml"
    toml.write_text(
        '[voicehook]\nclova-path = "cek"\nclova-app-ids = ["a.b", "c.d"]\nclova-deadline = 4\n'
    )
    s = Settings.from_file(toml)
    assert (s.clova_path, s.clova_app_ids, s.clova_deadline) == ("/cek", ("a.b", "c.d"), 4.0)
    s = Settings.from_env(
        {"VOICEHOOK_CLOVA": "false", "VOICEHOOK_CLOVA_INSECURE_SKIP_VERIFY": "true"}, base=s
    )
    assert s.clova is False and s.clova_insecure_skip_verify is True
    for bad in ({"clova_deadline": 9}, {"clova_limits": "maybe"}, {"clova_path": "/"}):
        with pytest.raises(ValueError):
            Settings().merged(bad)


def test_routes_lists_channel_paths(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["routes", str(DIRECT), "--channels", "--json"]) == 0
    channels = json.loads(capsys.readouterr().out)
    assert {"channel": "clova", "path": "POST /clova", "mode": "direct"} in channels
    assert main(["routes", str(DIRECT), "--clova-path", "/cek"]) == 0
    out = capsys.readouterr().out
    assert "clova    POST /cek  (direct mode)" in out


def test_bad_key_file_is_a_start_up_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.pem"
    bad.write_text("not a key")
    code = main(["serve", str(DIRECT), "--clova-public-key", str(bad), "--port", "1"])
    assert code == 2
    assert "not a PEM public key" in capsys.readouterr().err
