"""Two ``voicehook serve`` processes share one store; conversations alternate between them.

Nothing in voicehook may assume that two turns of one conversation reach the same process
(docs/architecture.md, "Scale-out"). These tests send turn 1 to process A, turn 2 to B,
turn 3 to A, and so on, on Redis and on one SQLite file, and check that no progress is lost
or counted twice.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.deploy.conftest import QUIZ, ROOT, Served, child_env, serve, two_servers
from voicehook.store import open_store

BANK: dict[str, str] = {
    q["question"]: str(q["answer"])
    for q in yaml.safe_load((QUIZ / "questions.yaml").read_text(encoding="utf-8"))["questions"]
}


def answer_body(sid: str, value: str) -> dict[str, Any]:
    kind = "BID_QT" if value.isdigit() else "ANSWER"
    return {
        "version": "2.0",
        "action": {
            "actionName": "quiz.answer",
            "parameters": {"answer": {"type": kind, "value": value}},
        },
        "context": {"session": {"id": sid, "isNew": False}, "device": {"type": "speaker"}},
    }


def start_body(sid: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "action": {"actionName": "quiz.start", "parameters": {}},
        "context": {"session": {"id": sid, "isNew": True}, "device": {"type": "speaker"}},
    }


async def post(http: aiohttp.ClientSession, server: Served, body: dict[str, Any]) -> Any:
    action = body["action"]["actionName"]
    async with http.post(f"{server.url}/{action}", json=body) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def conversation(
    http: aiohttp.ClientSession, servers: tuple[Served, Served], sid: str, pattern: list[bool]
) -> dict[str, Any]:
    """Start, then answer five questions; turn k goes to servers[k % 2]."""
    first = await post(http, servers[0], start_body(sid))
    assert first["resultCode"] == "OK"
    question = first["output"]["question"]
    out: dict[str, Any] = {}
    for k, right in enumerate(pattern, start=1):
        value = BANK[question] if right else ("부산" if BANK[question] != "부산" else "서울")
        answer = await post(http, servers[k % 2], answer_body(sid, value))
        assert answer["resultCode"] == "OK", (sid, k, answer)
        out = answer["output"]
        assert out["correct"] == ("true" if right else "false"), (sid, k, out)
        assert out["score"] == str(sum(pattern[:k])), (sid, k, out)
        assert out["number"] == str(min(k + 1, 5)), (sid, k, out)
        question = out["question"]
    assert out["finished"] == "true"
    again = await post(http, servers[len(pattern) % 2 ^ 1], answer_body(sid, "서울"))
    assert again["resultCode"] == "QUIZ_FINISHED"
    return out


def pattern_for(i: int) -> list[bool]:
    return [(i + k) % 3 != 0 for k in range(5)]


async def check_store(url: str, sids: list[str], expected: dict[str, int]) -> None:
    """Every session key: exactly six writes (start + five answers), the exact score."""
    store = open_store(url)
    try:
        for sid in sids:
            entry = await store.get(f"session:quiz:{sid}")
            assert entry is not None, sid
            assert entry.version == 6, (sid, entry)
            assert entry.value["answered"] == 5
            assert entry.value["score"] == expected[sid]
    finally:
        await store.aclose()


@pytest.mark.slow
async def test_turns_alternate_between_two_processes(shared_store: str, tmp_path: Path) -> None:
    with two_servers(tmp_path, shared_store) as servers:
        async with aiohttp.ClientSession() as http:
            # Several conversations, one after another.
            sids = [f"순차-{i}" for i in range(4)]
            for i, sid in enumerate(sids):
                out = await conversation(http, servers, sid, pattern_for(i))
                assert out["score"] == str(sum(pattern_for(i)))

            # Many conversations at the same time; every turn alternates A / B.
            many = [f"동시-{i}" for i in range(30)]
            async with asyncio.timeout(90):
                results = await asyncio.gather(
                    *(
                        conversation(http, servers, sid, pattern_for(i))
                        for i, sid in enumerate(many)
                    )
                )
            assert [r["score"] for r in results] == [str(sum(pattern_for(i))) for i in range(30)]
    expected = {sid: sum(pattern_for(i)) for group in (sids, many) for i, sid in enumerate(group)}
    await check_store(shared_store, sids + many, expected)


@pytest.mark.slow
async def test_same_turn_sent_to_both_processes_is_counted_once(
    shared_store: str, tmp_path: Path
) -> None:
    """A duplicated turn racing on A and B: a conflict answers the failure code, and the
    store counts exactly the turns that answered OK."""
    with two_servers(tmp_path, shared_store) as servers:
        async with aiohttp.ClientSession() as http:
            oks = 0
            sids = [f"경쟁-{i}" for i in range(10)]
            for sid in sids:
                question = (await post(http, servers[0], start_body(sid)))["output"]["question"]
                body = answer_body(sid, BANK[question])
                both = await asyncio.gather(*(post(http, s, body) for s in servers))
                codes = sorted(b["resultCode"] for b in both)
                assert codes in (["OK", "OK"], ["BACKEND_ERROR", "OK"]), codes
                oks += codes.count("OK")
                store = open_store(shared_store)
                try:
                    entry = await store.get(f"session:quiz:{sid}")
                finally:
                    await store.aclose()
                assert entry is not None
                assert entry.value["answered"] == codes.count("OK")
                assert entry.version == 1 + codes.count("OK")
    assert oks >= len(sids)
    print(
        f"duplicated turns: {len(sids)}, counted twice in a row: {oks - len(sids)}, "
        f"refused by a version conflict: {2 * len(sids) - oks}"
    )


class Worker:
    def __init__(self, url: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.deploy._dialog_worker", url],
            cwd=ROOT,
            env=child_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.pid = json.loads(self.read())["ready"]

    def read(self) -> str:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        assert line, "the worker died"
        return line

    def turn(self, session: str, text: str) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{session}\t{text}\n")
        self.proc.stdin.flush()
        out: dict[str, Any] = json.loads(self.read())
        return out

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.mark.slow
def test_dialog_state_carries_across_two_processes(shared_store: str) -> None:
    a, b = Worker(shared_store), Worker(shared_store)
    try:
        assert a.pid != b.pid
        # Slot filling: A asks for the size, B gets the answer.
        t1 = a.turn("주문-1", "피자 가게에서 불고기 피자 주문해 줘")
        assert t1["waiting"] == {"type": "slot", "action": "pizza.order", "param": "size"} | {
            "spoken": 1
        }
        t2 = b.turn("주문-1", "라지")
        assert t2["codes"] == ["OK"]
        assert t2["prompt"].startswith("불고기 피자 라지, 주문 번호")
        assert t2["ended"] is True
        # Exception wait: B hears SOLD_OUT, A gets the new size and finishes the order.
        t3 = b.turn("주문-2", "피자 가게에서 하와이안 피자 라지 하나")
        assert t3["codes"] == ["SOLD_OUT"]
        assert t3["waiting"]["type"] == "exception"
        t4 = a.turn("주문-2", "미디엄")
        assert t4["codes"] == ["OK"]
        assert t4["prompt"].startswith("하와이안 피자 미디엄")
        # Sessions do not leak into each other.
        t5 = b.turn("주문-3", "라지")
        assert t5["codes"] == []
    finally:
        a.close()
        b.close()


@pytest.mark.slow
async def test_serve_with_two_workers_on_sqlite(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'workers.db'}"
    server = serve(tmp_path, store, "--workers", "2", name="workers")
    try:
        children = Path(f"/proc/{server.proc.pid}/task/{server.proc.pid}/children")
        if children.exists():
            # uvicorn's supervisor and its two workers.
            assert len(children.read_text().split()) >= 2
        pair = (server, server)
        # A new connection per request: the kernel spreads them over both workers.
        connector = aiohttp.TCPConnector(force_close=True)
        async with aiohttp.ClientSession(connector=connector) as http:
            async with asyncio.timeout(60):
                results = await asyncio.gather(
                    *(conversation(http, pair, f"워커-{i}", pattern_for(i)) for i in range(12))
                )
        assert [r["score"] for r in results] == [str(sum(pattern_for(i))) for i in range(12)]
        await check_store(
            store,
            [f"워커-{i}" for i in range(12)],
            {f"워커-{i}": sum(pattern_for(i)) for i in range(12)},
        )
    finally:
        server.stop()
