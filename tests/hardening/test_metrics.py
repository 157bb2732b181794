"""Issue 9, item 8: metrics over every worker, process metrics, counters, plays' own."""

from __future__ import annotations

import http.client
import re
import time
from pathlib import Path

from tests.hardening.conftest import NUGU_BODY, Server
from voicehook import ActionRequest, Play
from voicehook.testing import NuguTestClient


def scrape(server: Server) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/metrics")
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def total(text: str, pattern: str) -> float:
    return sum(float(m) for m in re.findall(pattern + r"\S*\s+(\S+)$", text, re.M))


def test_one_scrape_sees_every_worker(tmp_path: Path) -> None:
    # Was: with --workers 2 one scrape saw one worker's counters.
    server = Server(tmp_path, "--workers", "2", "--store", f"sqlite:///{tmp_path / 's.db'}")
    try:
        pids = set()
        for _ in range(200):  # a new connection each: the kernel spreads them
            status, _ = server.post("/quiz.start", NUGU_BODY, {"Connection": "close"})
            assert status == 200
        time.sleep(1.6)  # each worker writes its snapshot every second
        for _ in range(6):  # whichever worker answers the scrape
            text = scrape(server)
            assert total(text, r'^voicehook_requests_total\{action="quiz\.start"') == 200
            assert "voicehook_workers 2" in text
            pids |= set(re.findall(r'^process_resident_memory_bytes\{pid="(\d+)"', text, re.M))
        assert len(pids) == 2
    finally:
        server.stop()


async def test_process_metrics_counters_and_the_plays_own() -> None:
    play = Play("m")
    answers = play.counter("quiz_answers_total", "퀴즈 답변 수", labels=("result",))

    @play.action("answer", backend=["x"])
    async def answer(req: ActionRequest) -> dict[str, str]:
        answers.inc(result="right")
        return {}

    async with NuguTestClient(play) as client:
        for _ in range(3):
            assert (await client.call("answer")).result_code == "OK"
        text = (await client.request("GET", "/metrics")).body.decode()
    assert 'quiz_answers_total{result="right"} 3.0' in text
    for name in (
        "process_resident_memory_bytes",
        "process_cpu_seconds_total",
        "process_open_fds",
        "python_gc_collections_total",
        "voicehook_state_conflicts_total",
        "voicehook_state_save_errors_total",
        "voicehook_upstream_requests_total",
        "voicehook_upstream_errors_total",
        "voicehook_thread_pool_saturated_total",
        "voicehook_loop_blocked_total",
    ):
        assert f"\n{name}" in text, name
