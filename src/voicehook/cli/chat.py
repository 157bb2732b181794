"""``voicehook chat URL``: talk to any Bot Framework bot from the terminal.

Each line you type is posted to the bot's messaging endpoint as a ``message`` activity. The
bot's replies come back to a ``serviceUrl`` this command serves on 127.0.0.1 and are printed
as they arrive. With ``--expect-replies`` the replies come in the response body instead.
Piped input works one turn per line::

    printf '날씨 알려줘\\n서울\\n' | voicehook chat http://127.0.0.1:3978/api/messages
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

import aiohttp

from voicehook.botframework.activity import encode_activity
from voicehook.gateway.channel import LoopbackChannel, Received


def add_parser(sub: Any, name: str, help_text: str) -> None:
    p: argparse.ArgumentParser = sub.add_parser(
        name,
        help=help_text,
        description=(
            "Post your lines to a Bot Framework bot's messaging endpoint and print its "
            "replies (anonymous mode, loopback). An empty line or end of input ends the chat."
        ),
    )
    p.add_argument(
        "url", help="the bot's messaging endpoint, e.g. http://127.0.0.1:3978/api/messages"
    )
    p.add_argument(
        "--expect-replies",
        action="store_true",
        help="send deliveryMode expectReplies (replies come in the response body)",
    )
    p.add_argument("--channel-id", default="emulator", help="channelId (default emulator)")
    p.add_argument("--conversation-id", help="conversation id (default: a random one)")
    p.add_argument("--user-id", default="user-1", help="the user's id (default user-1)")
    p.add_argument(
        "--linger",
        type=float,
        default=0.3,
        help="seconds to wait for late replies after each turn (default 0.3)",
    )
    p.add_argument("--timeout", type=float, default=30.0, help="limit of one turn's POST")
    p.add_argument("--json", action="store_true", help="print every received activity as JSON")
    p.add_argument(
        "--no-join",
        action="store_true",
        help="do not start with a conversationUpdate (the user joined), as the Emulator does",
    )


def _show(item: Received, *, as_json: bool) -> None:
    act = item.activity
    if as_json:
        payload: dict[str, Any] = {"how": item.how, "conversation": item.conversation_id}
        if item.activity_id:
            payload["activityId"] = item.activity_id
        if act is not None:
            payload["activity"] = json.loads(encode_activity(act))
        print(json.dumps(payload, ensure_ascii=False), flush=True)
        return
    if act is None:
        print(f"(봇이 메시지 {item.activity_id}를 지웠어요)", flush=True)
        return
    if act.type == "message":
        prefix = "봇(수정)> " if item.how == "update" else "봇> "
        print(prefix + (act.text or act.speak or "(텍스트 없는 메시지)"), flush=True)
    elif act.type == "endOfConversation":
        print(f"(대화 끝: {act.code or 'unknown'})", flush=True)
    elif act.type == "typing":
        return
    else:
        name = f" {act.name}" if act.name else ""
        print(f"({act.type}{name})", flush=True)


async def _chat(args: argparse.Namespace) -> int:
    interactive = sys.stdin.isatty()
    channel = LoopbackChannel(
        args.url,
        on_activity=lambda item: _show(item, as_json=args.json),
        expect_replies=args.expect_replies,
        channel_id=args.channel_id,
        conversation_id=args.conversation_id,
        user_id=args.user_id,
        linger=args.linger,
        timeout=args.timeout,
    )
    loop = asyncio.get_running_loop()
    failures = 0
    async with channel:
        if interactive:
            print(f"{args.url} 와 대화해요. 빈 줄이나 Ctrl-D로 끝내요.", flush=True)
        if not args.no_join:
            try:
                await channel.join()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                print(
                    f"error: the bot did not answer: {type(exc).__name__}: {exc}", file=sys.stderr
                )
                return 1
        while True:
            if interactive:
                print("나> ", end="", flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            text = line.rstrip("\n")
            if not text.strip():
                if interactive:
                    break
                continue
            try:
                outcome = await channel.say(text)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                print(
                    f"error: the bot did not answer: {type(exc).__name__}: {exc}", file=sys.stderr
                )
                failures += 1
                continue
            if not 200 <= outcome.status <= 299:
                detail = outcome.body[:200].decode(errors="replace")
                print(f"error: the bot answered HTTP {outcome.status} {detail}", file=sys.stderr)
                failures += 1
    return 1 if failures else 0


def run(args: argparse.Namespace) -> int:
    try:
        return asyncio.run(_chat(args))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
