"""A small play served as a skill in the tests: slot filling, a failing and a slow order."""

from __future__ import annotations

import asyncio
from typing import Any

from voicehook import ActionRequest, Play
from voicehook.play.definition import parse_definition

PLAY_YAML = """
name: pizza
invocation: 피자 가게
failure_prompt: 죄송해요, 주문을 받을 수 없어요.
entities:
  MENU:
    values:
      불고기: [불고기 피자]
      고구마: [고구마 피자]
      폭탄: []
      거북이: []
  SIZE:
    values:
      라지: [큰 거]
      미디엄: [중간]
intents:
  order.pizza:
    examples:
      - "[불고기](MENU) 피자 주문해 줘"
      - "피자 주문할래"
      - "[고구마](MENU) [라지](SIZE)로 주문"
      - "피자 시켜 줘"
  choose.size:
    examples:
      - "[라지](SIZE)"
      - "[미디엄](SIZE)로 할게"
actions:
  pizza.order:
    trigger: {intent: order.pizza}
    backend: true
    parameters:
      menu:
        type: MENU
        required: true
        prompts:
          - 메뉴를 몰라서 주문을 마칠게요.
          - 어떤 피자를 드릴까요?
      size:
        type: SIZE
        required: true
        prompts:
          - 크기를 몰라서 주문을 마칠게요.
          - 크기는 라지와 미디엄 중에 골라 주세요.
      order_no: backend
    response:
      type: end
      prompts:
        - "{{menu}} 피자 {{size}}, 주문 번호 {{order_no}}번으로 주문했어요."
"""


def make_play(seen: list[dict[str, Any]] | None = None) -> Play:
    """The play; each call's channel, user key, session id and params go to ``seen``."""
    play = Play(parse_definition(PLAY_YAML, "pizza.yaml"))
    counter = {"n": 0}

    @play.action("pizza.order")
    async def order(req: ActionRequest) -> dict[str, str]:
        if seen is not None:
            seen.append(
                {
                    "channel": req.channel,
                    "user_key": req.user_key,
                    "session": req.session.id,
                    "params": dict(req.params),
                }
            )
        if req.params["menu"] == "폭탄":
            raise RuntimeError("the oven exploded")
        if req.params["menu"] == "거북이":
            await asyncio.sleep(10)
        counter["n"] += 1
        return {"order_no": str(100 + counter["n"])}

    return play
