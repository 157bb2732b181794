"""A tiny play for dialog-runtime tests: slot filling and an exception wait.

Used in process by the unit tests and by the two-process test (``python -m
tests.state._pizza`` is not needed: the deploy test imports :func:`make_play`).
"""

from __future__ import annotations

from voicehook import ActionRequest, Play, PlayError
from voicehook.play.definition import parse_definition

PLAY_YAML = """
name: pizza
invocation: 피자 가게
entities:
  MENU:
    values:
      불고기: [불고기 피자]
      고구마: [고구마 피자]
      하와이안: []
  SIZE:
    values:
      라지: [큰 거, 큰 것]
      미디엄: [중간, 중간 거]
intents:
  order.pizza:
    examples:
      - "[불고기](MENU) 피자 주문해 줘"
      - "피자 주문할래"
      - "[고구마](MENU) [라지](SIZE)로 주문"
      - "피자 시켜 줘"
      - "[하와이안](MENU) 피자 [미디엄](SIZE) 하나"
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
    exceptions:
      SOLD_OUT:
        prompts:
          - 주문을 마칠게요.
          - "{{menu}} {{size}}는 다 팔렸어요. 다른 크기를 말씀해 주세요."
    response:
      type: end
      prompts:
        - "{{menu}} 피자 {{size}}, 주문 번호 {{order_no}}번으로 주문했어요."
"""


def make_play() -> Play:
    play = Play(parse_definition(PLAY_YAML, "pizza.yaml"))
    counter = {"n": 0}

    @play.action("pizza.order")
    async def order(req: ActionRequest) -> dict[str, str]:
        if req.params["menu"] == "하와이안" and req.params["size"] == "라지":
            raise PlayError("SOLD_OUT")
        counter["n"] += 1
        return {"order_no": str(100 + counter["n"])}

    return play
