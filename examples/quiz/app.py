"""The quiz example: five questions per round, progress kept in the state store.

Run it: ``voicehook serve examples/quiz --store sqlite:///quiz.db``. Try it in Korean:
``voicehook simulate examples/quiz``.

NUGU sends no session attributes, so the backend keeps the round itself:

- session state (``req.session_state()``): the question order, how many were answered, the
  score. The next turn may reach another process; the store makes that work.
- user state (``req.user_state()``): the best score, where NUGU gives a stable user key
  (Private Play ``userKey``). Without one, the best score of this session is used.

The quiz needs a store. ``voicehook serve`` without ``--store`` uses SQLite at
``./voicehook-state.db``. An app made in code without a store (``create_app(play)``) keeps the
state in memory and logs a warning: fine for a demo with one process, wrong with several
workers or machines.
"""

from __future__ import annotations

import logging
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from voicehook import ActionRequest, AppContext, Play, PlayError
from voicehook.store import MemoryStore

HERE = Path(__file__).parent
ROUND = 5  # questions per round

logger = logging.getLogger("voicehook.examples.quiz")

play = Play.from_file(HERE / "play.yaml")


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    answer: str
    answer_type: str  # ANSWER or BID_QT
    synonyms: tuple[str, ...] = ()

    def accepts(self, value: str | None) -> bool:
        """True when ``value`` (the entity value NUGU sent) is this question's answer."""
        if value is None:
            return False
        given = _normal(value)
        if self.answer_type == "BID_QT":
            digits = "".join(ch for ch in given if ch.isdigit())
            return digits == self.answer
        return given in {_normal(self.answer), *(_normal(s) for s in self.synonyms)}


def _normal(text: str) -> str:
    return unicodedata.normalize("NFC", text).replace(" ", "").strip()


def load_questions(path: Path = HERE / "questions.yaml") -> tuple[Question, ...]:
    with path.open(encoding="utf-8") as fh:
        data = yaml.safe_load(fh)
    return tuple(
        Question(
            text=q["question"],
            answer=str(q["answer"]),
            answer_type=q.get("answer_type", "ANSWER"),
            synonyms=tuple(q.get("synonyms") or ()),
        )
        for q in data["questions"]
    )


QUESTIONS = load_questions()


def round_order(session_id: str, round_no: int) -> list[int]:
    """The questions of one round: the same for the same session and round, in any process."""
    rng = random.Random(f"{session_id}:{round_no}")
    return rng.sample(range(len(QUESTIONS)), ROUND)


@play.on_startup
async def need_a_store(app: AppContext) -> None:
    if app.store is None:
        app.store = MemoryStore()
        logger.warning(
            "quiz: no store configured; quiz progress is kept in the memory of this process "
            "(fine for voicehook simulate and voicehook test). A server loses it on restart and "
            "does NOT share it between workers or machines: run voicehook serve with "
            "--store sqlite:///quiz.db (one machine) or --store redis://... (or VOICEHOOK_STORE)"
        )


@play.action("quiz.start")
async def start(req: ActionRequest) -> dict[str, Any]:
    state = await req.session_state()
    round_no = int(state.get("round", 0)) + 1
    order = round_order(req.session.id, round_no)
    best = int(state.get("best", 0))
    state.clear()
    state.update({"round": round_no, "order": order, "answered": 0, "score": 0, "best": best})
    return {"question": QUESTIONS[order[0]].text, "number": "1", "score": "0"}


def _yes(flag: bool) -> str:
    return "true" if flag else "false"


@play.action("quiz.answer")
async def answer(req: ActionRequest) -> dict[str, str | None]:
    state = await req.session_state()
    if "order" not in state:
        raise PlayError("NO_QUIZ")
    order: list[int] = state["order"]
    answered = int(state["answered"])
    if answered >= len(order):
        raise PlayError("QUIZ_FINISHED")
    asked = QUESTIONS[order[answered]]
    correct = asked.accepts(req.params["answer"])
    answered += 1
    score = int(state["score"]) + (1 if correct else 0)
    state["answered"] = answered
    state["score"] = score
    out: dict[str, str | None] = {
        "correct": _yes(correct),
        "expected": asked.answer,
        "score": str(score),
        "finished": _yes(answered >= len(order)),
    }
    if answered < len(order):
        out["question"] = QUESTIONS[order[answered]].text
        out["number"] = str(answered + 1)
        out["best"] = None
        return out
    out["question"] = None
    out["number"] = str(answered)
    best = max(int(state.get("best", 0)), score)
    state["best"] = best  # the best round of this session
    user = await req.user_state()
    if user is not None:
        best = max(int(user.get("best", 0)), best)
        if user.get("best") != best:
            user["best"] = best
    out["best"] = str(best)
    return out
