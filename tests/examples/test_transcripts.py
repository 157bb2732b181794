"""The examples' transcripts, in process and over real HTTP, plus the failure cases.

Each ``examples/<name>/transcripts.yaml`` must pass against the play's handlers in process
and against a real voicehook server on 127.0.0.1. The failure cases need a broken setup
(the weather service down, the backend proxy unreachable), so their transcripts are written
here into a temporary file.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests._support.server import free_port, running_server
from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.server.app import create_app
from voicehook.testing import Report, assert_transcripts, run_transcripts, shared_tokenizer

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
WEATHER = EXAMPLES / "weather"
CALC = EXAMPLES / "calc"
QUIZ = EXAMPLES / "quiz"
FAILURE_PROMPT = "죄송합니다. 현재 서버에 연결할 수 없습니다. 잠시 후 다시 이용해주세요."


def _examples() -> list[str]:
    names = ["weather", "music", "calc"]
    quiz = EXAMPLES / "quiz"
    if (quiz / "app.py").is_file() and (quiz / "transcripts.yaml").is_file():
        names.append("quiz")
    return names


@pytest.fixture(autouse=True)
def pinned_weather(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fixed 'today' and the weather example's own fake upstream."""
    monkeypatch.setenv("WEATHER_TODAY", "2026-11-22")
    monkeypatch.delenv("WEATHER_UPSTREAM_URL", raising=False)


def _write(tmp_path: Path, play: Path, body: str) -> Path:
    """A transcript file in ``tmp_path`` for ``play`` (an absolute path)."""
    path = tmp_path / "transcripts.yaml"
    path.write_text(f"play: {play}\n{textwrap.dedent(body)}", encoding="utf-8")
    return path


def _conversations(report: Report) -> int:
    assert report.conversations, f"{report.path}: no conversations ran"
    return len(report.conversations)


@pytest.mark.parametrize("name", _examples())
def test_transcripts_in_process(name: str) -> None:
    report = assert_transcripts(EXAMPLES / name / "transcripts.yaml")
    assert _conversations(report) >= 4


@pytest.mark.parametrize("name", _examples())
def test_transcripts_over_http(name: str) -> None:
    app = create_app(load_play(str(EXAMPLES / name)))
    with running_server(app) as url:
        report = assert_transcripts(EXAMPLES / name / "transcripts.yaml", backend=url)
    assert _conversations(report) >= 4
    calls = [c for conv in report.conversations for t in conv.turns for c in t.calls]
    assert calls and all(c.status == 200 for c in calls)


@pytest.mark.parametrize("today", ["2028-02-29", "2027-03-01", "2026-02-28"])
def test_weather_transcripts_on_other_days(monkeypatch: pytest.MonkeyPatch, today: str) -> None:
    """The weather transcripts do not depend on the date (leap day, just after February)."""
    monkeypatch.setenv("WEATHER_TODAY", today)
    assert_transcripts(WEATHER / "transcripts.yaml")


def test_cli_runs_a_transcript_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["test", str(CALC / "transcripts.yaml")]) == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out
    assert "conversations passed" in out


def test_cli_fails_on_a_wrong_expectation(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        CALC,
        """\
        conversations:
          - name: 틀린 답
            turns:
              - user: 3 더하기 4
                expect: {prompt: 3 더하기 4는 8입니다.}
        """,
    )
    assert main(["test", str(path)]) == 1
    assert "3 더하기 4는 7입니다." in capsys.readouterr().out


def test_weather_upstream_down_speaks_the_global_exception(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Nothing listens on this port: the weather service is down.
    monkeypatch.setenv("WEATHER_UPSTREAM_URL", f"http://127.0.0.1:{free_port()}")
    path = _write(
        tmp_path,
        WEATHER,
        """\
        conversations:
          - name: 날씨 서비스 장애
            turns:
              - user: 서울 날씨 알려줘
                expect:
                  calls: [answer.weather]
                  result_code: WEATHER_UNAVAILABLE
                  prompt: 지금은 날씨 정보를 가져올 수 없어요. 잠시 후 다시 물어봐 주세요.
                  source: exception
                  type: end
                  session_ended: true
          - name: 요일은 날씨 서비스 없이도 답함
            turns:
              - user: 무슨 요일이야
                expect: {result_code: OK, prompt: 오늘은 일요일이에요.}
        """,
    )
    assert_transcripts(path)


def test_unreachable_backend_speaks_the_failure_prompt(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        WEATHER,
        f"""\
        conversations:
          - name: 백엔드 연결 실패
            turns:
              - user: 서울 날씨 알려줘
                expect:
                  calls: [answer.weather]
                  prompt: {FAILURE_PROMPT}
                  source: failure
                  type: end
                  session_ended: true
          # Slot filling and the welcome are the Dialog Manager's: no backend call.
          - name: 지역을 물은 뒤 연결 실패
            turns:
              - user: 날씨 알려줘
                expect: {{calls: [], source: slot, type: wait}}
              - user: 부산
                expect: {{calls: [answer.weather], prompt: {FAILURE_PROMPT}, type: end}}
          - name: 시작 인사는 백엔드 없이
            turns:
              - user: ""
                expect: {{calls: [], source: welcome, type: wait}}
        """,
    )
    # Nothing listens on this port.
    report = run_transcripts(path, backend=f"http://127.0.0.1:{free_port()}")
    assert report.passed, report.describe_failures()
    call = report.conversations[0].turns[0].calls[0]
    assert call.status is None and call.error


def test_calc_slot_filling_of_the_second_number(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        CALC,
        """\
        conversations:
          - name: 두 번째 숫자 물어보기
            turns:
              - user: 3 더하기
                expect: {prompt: "어떤 숫자와 계산할까요?", source: slot}
              - user: "5"
                expect: {calls: [answer.calc], prompt: 3 더하기 5는 8입니다.}
        """,
    )
    assert_transcripts(path, tokenizer=shared_tokenizer())


def test_each_conversation_is_a_new_session_for_the_backend(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        QUIZ,
        """\
        settings: {seed: 1}
        conversations:
          - name: 퀴즈를 시작만 하기
            turns:
              - user: 상식 퀴즈에서 퀴즈 시작
                expect: {calls: [quiz.start]}
          - name: 새 세션에서는 시작한 퀴즈가 없음
            turns:
              - user: 상식 퀴즈에서 정답은 서울
                expect: {result_code: NO_QUIZ}
        """,
    )
    report = run_transcripts(path)
    ids = [conv.turns[0].state.session_id for conv in report.conversations]
    assert len(set(ids)) == len(ids), f"session ids repeat: {ids}"
    assert report.passed, report.describe_failures()


def test_quiz_answer_with_a_counter_word_for_days(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        QUIZ,
        """\
        conversations:
          - name: 7일
            turns:
              - user: 상식 퀴즈에서 7일
                expect: {intent: quiz.answer, entities: {BID_QT: "7"}}
        """,
    )
    assert_transcripts(path)
