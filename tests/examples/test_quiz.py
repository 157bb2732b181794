"""The quiz example over the real ASGI path: rounds, scores, codes, best scores, prompts.

Progress lives in the store (MemoryStore and SQLite here; Redis and several processes in
tests/deploy/), never in the request.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from voicehook.cli import main
from voicehook.cli.loading import load_play
from voicehook.dialog import DialogEngine
from voicehook.nugu.caller import NuguCaller
from voicehook.play import Play
from voicehook.server import InProcessBackend, Settings
from voicehook.store import MemoryStore
from voicehook.testing import NuguAnswer, NuguTestClient

QUIZ = Path(__file__).resolve().parents[2] / "examples" / "quiz"
BANK: dict[str, dict[str, Any]] = {
    q["question"]: q
    for q in yaml.safe_load((QUIZ / "questions.yaml").read_text(encoding="utf-8"))["questions"]
}
START_KEYS = {"question", "number", "score"}
ANSWER_KEYS = {"answer", "correct", "expected", "question", "number", "score", "finished", "best"}


@pytest.fixture(scope="module")
def quiz() -> Play:
    return load_play(str(QUIZ))


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    yield "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 'quiz.db'}"


@pytest.fixture
async def client(quiz: Play, store_url: str) -> AsyncIterator[NuguTestClient]:
    async with NuguTestClient(quiz, Settings(store=store_url)) as c:
        yield c


def right_answer(question: str | None) -> str:
    assert question in BANK, question
    return str(BANK[question]["answer"])


def wrong_answer(question: str | None) -> str:
    return "부산" if right_answer(question) != "부산" else "서울"


def answer_type(value: str) -> str:
    return "BID_QT" if value.isdigit() else "ANSWER"


async def say(
    client: NuguTestClient, value: str, sid: str, profile: dict[str, Any] | None = None
) -> NuguAnswer:
    types = {"answer": answer_type(value)}
    answer = await client.post(
        "/quiz.answer",
        {
            "version": "2.0",
            "action": {
                "actionName": "quiz.answer",
                "parameters": {"answer": {"type": types["answer"], "value": value}},
            },
            "context": {"session": {"id": sid, "isNew": False}, "device": {"type": "speaker"}},
            **({"profile": profile} if profile else {}),
        },
    )
    assert answer.status == 200
    return answer


def test_validate_succeeds() -> None:
    assert main(["validate", str(QUIZ)]) == 0


async def test_start_asks_the_first_question(client: NuguTestClient) -> None:
    answer = await client.call("quiz.start", session_id="세션-1")
    assert answer.result_code == "OK"
    assert set(answer.output) == START_KEYS
    assert answer.output["number"] == "1"
    assert answer.output["score"] == "0"
    assert answer.output["question"] in BANK


async def test_a_full_round_counts_every_right_answer(client: NuguTestClient) -> None:
    sid = "round-all-right"
    first = await client.call("quiz.start", session_id=sid)
    question = first.output["question"]
    seen = [question]
    for n in range(1, 6):
        answer = await say(client, right_answer(question), sid)
        out = answer.output
        assert answer.result_code == "OK"
        assert set(out) == ANSWER_KEYS
        assert (out["correct"], out["score"]) == ("true", str(n))
        if n < 5:
            assert (out["finished"], out["number"], out["best"]) == ("false", str(n + 1), None)
            question = out["question"]
            seen.append(question)
        else:
            assert (out["finished"], out["number"], out["question"]) == ("true", "5", None)
            assert out["best"] == "5"
    assert len(set(seen)) == 5  # five different questions


async def test_wrong_answers_keep_the_score_and_name_the_right_one(
    client: NuguTestClient,
) -> None:
    sid = "round-mixed"
    question = (await client.call("quiz.start", session_id=sid)).output["question"]
    pattern = [True, False, True, False, False]
    for n, good in enumerate(pattern, start=1):
        value = right_answer(question) if good else wrong_answer(question)
        out = (await say(client, value, sid)).output
        assert out["correct"] == ("true" if good else "false")
        assert out["expected"] == right_answer(question)
        assert out["score"] == str(sum(pattern[:n]))
        question = out["question"]
    assert out["finished"] == "true" and out["score"] == "2" and out["best"] == "2"


async def test_synonyms_and_numbers_are_accepted(quiz: Play) -> None:
    async with NuguTestClient(quiz, store=MemoryStore()) as client:
        # Find sessions whose first question is the capital and the spider question.
        for wanted, value in (("대한민국의 수도는 어디일까요?", "서울특별시"), ("거미의", "8")):
            for i in range(200):
                sid = f"find-{i}"
                question = (await client.call("quiz.start", session_id=sid)).output["question"]
                assert question is not None
                if question.startswith(wanted):
                    break
            else:
                pytest.fail(f"no session starts with {wanted}")
            out = (await say(client, value, sid)).output
            assert out["correct"] == "true", (question, value)


async def test_order_is_the_same_for_a_session_in_any_process(quiz: Play) -> None:
    async with (
        NuguTestClient(quiz, store=MemoryStore()) as a,
        NuguTestClient(quiz, store=MemoryStore()) as b,
    ):
        same = [(await c.call("quiz.start", session_id="s-같음")).output for c in (a, b)]
        assert same[0] == same[1]
        firsts = {
            (await a.call("quiz.start", session_id=f"s-{i}")).output["question"] for i in range(20)
        }
    assert len(firsts) > 3  # different sessions get different rounds


async def test_progress_is_in_the_store_not_in_the_request(client: NuguTestClient) -> None:
    sid = "no-cheating"
    question = (await client.call("quiz.start", session_id=sid)).output["question"]
    # The Dialog Manager sends back earlier backend values; the backend must not trust them.
    body = {
        "version": "2.0",
        "action": {
            "actionName": "quiz.answer",
            "parameters": {
                "answer": {"type": "ANSWER", "value": wrong_answer(question)},
                "score": {"type": None, "value": "4"},
                "number": {"type": None, "value": "5"},
            },
        },
        "context": {"session": {"id": sid, "isNew": False}},
    }
    out = (await client.post("/quiz.answer", body)).output
    assert (out["score"], out["number"], out["finished"]) == ("0", "2", "false")


async def test_answer_without_a_round_is_no_quiz(client: NuguTestClient) -> None:
    answer = await say(client, "서울", "never-started")
    assert answer.result_code == "NO_QUIZ"


async def test_answer_after_the_round_is_quiz_finished(client: NuguTestClient) -> None:
    sid = "done"
    question = (await client.call("quiz.start", session_id=sid)).output["question"]
    for _ in range(5):
        question = (await say(client, right_answer(question) if question else "서울", sid)).output[
            "question"
        ]
    again = await say(client, "서울", sid)
    assert again.result_code == "QUIZ_FINISHED"
    # A new round starts from zero with (most likely) other questions.
    restart = await client.call("quiz.start", session_id=sid)
    assert (restart.output["number"], restart.output["score"]) == ("1", "0")
    assert (await say(client, "서울", sid)).result_code == "OK"


async def test_start_again_mid_round_resets_the_score(client: NuguTestClient) -> None:
    sid = "restart"
    question = (await client.call("quiz.start", session_id=sid)).output["question"]
    assert (await say(client, right_answer(question), sid)).output["score"] == "1"
    question = (await client.call("quiz.start", session_id=sid)).output["question"]
    out = (await say(client, wrong_answer(question), sid)).output
    assert (out["score"], out["number"]) == ("0", "2")


async def play_round(
    client: NuguTestClient, sid: str, right: int, profile: dict[str, Any] | None = None
) -> dict[str, str | None]:
    question = (await client.call("quiz.start", session_id=sid, profile=profile)).output["question"]
    out: dict[str, str | None] = {}
    for n in range(5):
        value = right_answer(question) if n < right else wrong_answer(question)
        out = (await say(client, value, sid, profile)).output
        question = out["question"]
    return out


async def test_best_score_per_user_across_sessions(client: NuguTestClient) -> None:
    kim = {"privatePlay": {"userKey": "user.0.김철수"}}
    lee = {"privatePlay": {"userKey": "user.0.이영희"}}
    assert (await play_round(client, "s-1", 3, kim))["best"] == "3"
    assert (await play_round(client, "s-2", 1, kim))["best"] == "3"  # a new session
    assert (await play_round(client, "s-3", 2, lee))["best"] == "2"  # another user
    assert (await play_round(client, "s-4", 4, kim))["best"] == "4"
    store = client.app.context.store
    assert store is not None
    entry = await store.get("user:quiz:user.0.김철수")
    assert entry is not None and entry.value == {"best": 4}


async def test_without_user_key_the_best_is_of_this_session(client: NuguTestClient) -> None:
    assert (await play_round(client, "anon", 3))["best"] == "3"
    assert (await play_round(client, "anon", 1))["best"] == "3"
    assert (await play_round(client, "anon-2", 1))["best"] == "1"  # another session: new


async def test_sqlite_keeps_the_round_across_a_restart(quiz: Play, tmp_path: Path) -> None:
    settings = Settings(store=f"sqlite:///{tmp_path / 'quiz.db'}")
    async with NuguTestClient(quiz, settings) as first:
        question = (await first.call("quiz.start", session_id="재시작")).output["question"]
        question = (await say(first, right_answer(question), "재시작")).output["question"]
    async with NuguTestClient(quiz, settings) as second:  # a new process would do the same
        out = (await say(second, right_answer(question), "재시작")).output
    assert (out["score"], out["number"]) == ("2", "3")


async def test_without_a_store_it_warns_and_uses_memory(
    quiz: Play, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="voicehook.examples.quiz"):
        async with NuguTestClient(quiz) as client:
            assert isinstance(client.app.context.store, MemoryStore)
            assert (await client.call("quiz.start", session_id="m")).result_code == "OK"
    assert any("no store configured" in r.getMessage() for r in caplog.records)


async def test_spoken_prompts_with_the_dialog_engine(quiz: Play) -> None:
    """The whole play: NLU, branches and Korean particles in the prompts."""
    backend = InProcessBackend(quiz, settings=Settings(store="memory://"))
    engine = DialogEngine(quiz.definition, NuguCaller(backend))
    try:
        state = engine.new_state()
        result = await engine.turn(state, "상식 퀴즈에서 퀴즈 시작")
        assert result.prompt is not None and "1번 문제" in result.prompt
        assert result.prompt_type == "wait"
        question = result.prompt.split("1번 문제. ", 1)[1]
        value = wrong_answer(question)
        result = await engine.turn(result.state, f"정답은 {value}")
        assert result.actions == ["quiz.answer", "quiz.wrong"]
        assert result.prompt is not None
        expected = right_answer(question)
        assert f"{value}은 정답이 아니에요" in result.prompt  # 부산은 / 서울은
        # Every answer ends in a consonant (서울, 여름, 8 = 팔): 이에요, not 예요.
        assert f"정답은 {expected}이에요" in result.prompt
        assert "2번 문제" in result.prompt
    finally:
        await engine.aclose()
