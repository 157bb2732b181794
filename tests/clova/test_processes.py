"""Real ``voicehook serve`` processes on 127.0.0.1: one server answers NUGU and signed CLOVA
requests with the same dialog, and a CLOVA session continues on another process."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.deploy.conftest import ROOT, serve
from voicehook.cli import main
from voicehook.testing import ClovaClient, ClovaSigner

WEATHER = ROOT / "examples" / "weather"
QUIZ = ROOT / "examples" / "quiz"

pytestmark = pytest.mark.slow


def test_one_server_answers_nugu_and_clova_transcripts(
    tmp_path: Path, signer: ClovaSigner, capsys: pytest.CaptureFixture[str]
) -> None:
    public = signer.write_public_key(tmp_path / "public.pem")
    private = signer.write_private_key(tmp_path / "private.pem")
    served = serve(
        tmp_path,
        f"sqlite:///{tmp_path / 'state.db'}",
        "--clova-public-key",
        str(public),
        play=WEATHER,
    )
    try:
        transcripts = str(WEATHER / "transcripts.yaml")
        assert main(["test", transcripts, "--backend", served.url]) == 0
        out = capsys.readouterr().out
        assert "14/14 conversations passed" in out
        code = main(
            [
                "test",
                transcripts,
                "--channel",
                "clova",
                "--backend",
                served.url,
                "--clova-private-key",
                str(private),
            ]
        )
        out = capsys.readouterr().out
        assert code == 0, out
        assert "14/14 conversations passed" in out
    finally:
        served.stop()


async def test_a_quiz_session_across_two_processes(tmp_path: Path, signer: ClovaSigner) -> None:
    public = signer.write_public_key(tmp_path / "public.pem")
    store = f"sqlite:///{tmp_path / 'state.db'}"
    a = serve(tmp_path, store, "--clova-public-key", str(public), play=QUIZ, name="A")
    try:
        b = serve(tmp_path, store, "--clova-public-key", str(public), play=QUIZ, name="B")
    except BaseException:
        a.stop()
        raise
    try:
        async with ClovaClient(a.url, signer) as ca, ClovaClient(b.url, signer) as cb:
            t = await ca.intent("quiz.start")
            assert t.end is False, t
            assert "1번 문제." in t.speech
            seen = [t.speech]
            # every answer goes to the other process; the session state is in SQLite
            for number in range(2, 6):
                client, other = (cb, ca) if number % 2 == 0 else (ca, cb)
                client.session_id, client.new = other.session_id, False
                t = await client.intent("quiz.answer", {"ANSWER": "달"})
                assert t.status == 200, t.data
                assert f"{number}번 문제." in t.speech, (number, t.speech)
                assert t.end is False
                seen.append(t.speech)
            cb.session_id, cb.new = ca.session_id, False
            t = await cb.intent("quiz.answer", {"ANSWER": "달"})
            assert "다섯 문제 중" in t.speech
            assert t.end is True
            assert len(set(seen)) == 5  # five different questions, none asked twice
    finally:
        a.stop()
        b.stop()
    assert "Traceback" not in a.log_tail() + b.log_tail()
