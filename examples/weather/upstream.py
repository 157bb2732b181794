"""A small fake weather service, so the weather example exercises real HTTP.

``GET /weather?city=서울&date=2026-11-22`` answers ``{"city", "date", "sky", "temperature"}``
(the same answer for the same city and date), ``404`` for a city it does not know.
Run it alone with ``python examples/weather/upstream.py --port 9090``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import math

from aiohttp import web

#: Cities the service knows, with a base temperature.
CITIES = {
    "서울": 14,
    "부산": 17,
    "제주": 19,
    "명동": 14,
    "대구": 15,
    "인천": 13,
    "광주": 16,
    "대전": 14,
    "강릉": 13,
}
SKIES = ("맑음", "구름 조금", "흐림", "비", "눈")


def forecast(city: str, date: dt.date) -> dict[str, object]:
    """The fake forecast: a stable function of city and date."""
    seed = hashlib.sha256(f"{city}:{date.isoformat()}".encode()).digest()
    base = CITIES[city]
    # Colder in winter, warmer in summer, a little noise from the seed.
    season = round(-10 * math.cos((date.month - 1) / 12 * 2 * math.pi))
    temperature = base + season + seed[0] % 5 - 2
    sky = SKIES[seed[1] % (len(SKIES) if temperature <= 2 else len(SKIES) - 1)]
    return {"city": city, "date": date.isoformat(), "sky": sky, "temperature": temperature}


async def _weather(request: web.Request) -> web.Response:
    city = request.query.get("city", "")
    try:
        date = dt.date.fromisoformat(request.query.get("date", ""))
    except ValueError:
        return web.json_response({"error": "date must be YYYY-MM-DD"}, status=400)
    if city not in CITIES:
        return web.json_response({"error": f"unknown city {city}"}, status=404)
    return web.json_response(forecast(city, date))


def make_app() -> web.Application:
    app = web.Application()
    app.router.add_get("/weather", _weather)
    return app


async def start(host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, str]:
    """Start the fake service in the running loop; returns the runner and its base URL."""
    runner = web.AppRunner(make_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server
    assert server is not None
    sock = server.sockets[0]  # type: ignore[union-attr]
    bound_port = sock.getsockname()[1]
    return runner, f"http://{host}:{bound_port}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9090)
    args = parser.parse_args()

    async def serve() -> None:
        runner, url = await start(args.host, args.port)
        print(f"fake weather upstream at {url}/weather", flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
