"""The peer of the CLOVA benchmark: the official Python SDK (clova-cek-sdk 1.1.2) with
Flask, run by gunicorn (gthread). It runs in its own venv (the harness makes one), so this
file imports neither voicehook nor bench.

The SDK verifies signatures with CLOVA's key, built in; the bench signs with its own key, so
the handler's key is replaced by the bench key (VOICEHOOK_BENCH_CLOVA_KEY), as the Elixir
SDK's ``public_key:`` option does. Verification and the application-id check stay on.
"""

from __future__ import annotations

import os

import cek
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from flask import Flask, jsonify, request

WEATHER = {
    "서울": ("맑음", "23"),
    "명동": ("구름 조금", "22"),
    "부산": ("비", "19"),
    "제주": ("흐림", "21"),
}

clova = cek.Clova(application_id="com.example.bench", default_language="ko", debug_mode=False)
with open(os.environ["VOICEHOOK_BENCH_CLOVA_KEY"], "rb") as fh:
    clova.handle._public_key = load_pem_public_key(fh.read())

app = Flask(__name__)


@clova.handle.intent("ask.weather")
def weather(clova_request):
    location = clova_request.slot_value("location")
    w, t = WEATHER.get(location, ("알 수 없음", ""))
    return clova.response(f"{location} 오늘 날씨는 {w}, 기온은 {t}도예요.", end_session=True)


@clova.handle.default
def default(clova_request):
    return clova.response("죄송해요.", end_session=True)


@app.route("/health")
def health():
    return "OK"


@app.route("/clova", methods=["POST"])
def endpoint():
    resp = jsonify(clova.route(request.data, request.headers))
    resp.headers["Content-Type"] = "application/json;charset-UTF-8"
    return resp
