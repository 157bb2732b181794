"""A dialog-engine worker process for the cross-process test.

Reads one turn per line on stdin (``SESSION<TAB>TEXT``), runs it with a
:class:`~voicehook.dialog.runtime.DialogRuntime` over the store URL given as argv[1], and
writes one JSON line per turn on stdout. Run: ``python -m tests.deploy._dialog_worker URL``.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys

import msgspec

from tests.state._pizza import make_play
from voicehook.dialog import DialogEngine
from voicehook.dialog.nlu import SimpleTokenizer
from voicehook.dialog.runtime import DialogRuntime
from voicehook.nugu.caller import NuguCaller
from voicehook.server import InProcessBackend
from voicehook.store import open_store


async def main(url: str) -> None:
    store = open_store(url)
    await store.open()
    play = make_play()
    engine = DialogEngine(
        play.definition, NuguCaller(InProcessBackend(play)), tokenizer=SimpleTokenizer()
    )
    runtime = DialogRuntime(engine, store, ttl=600)
    loop = asyncio.get_running_loop()
    print(json.dumps({"ready": os.getpid()}), flush=True)
    try:
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            session, _, text = line.rstrip("\n").partition("\t")
            result = await runtime.turn(session, text)
            waiting = msgspec.to_builtins(result.state.waiting)
            out = {
                "pid": os.getpid(),
                "prompt": result.prompt,
                "codes": result.result_codes,
                "waiting": waiting,
                "ended": result.session_ended,
            }
            print(json.dumps(out, ensure_ascii=False), flush=True)
    finally:
        await engine.aclose()
        await store.aclose()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
