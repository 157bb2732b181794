"""Microsoft Bot Framework: activities, the Connector client, auth, and a play as a skill.

- :mod:`voicehook.botframework.activity`: the Activity schema (msgspec Structs).
- :mod:`voicehook.botframework.auth`: inbound JWT validation and outbound tokens.
- :mod:`voicehook.botframework.connector`: the Connector v3 client (send, reply, update,
  delete).

Nothing is imported here, so ``import voicehook.botframework.activity`` does not load PyJWT.
"""
