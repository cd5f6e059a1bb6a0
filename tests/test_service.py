"""The hub's uvicorn server: asleep when idle, yet stopping at once and dating every
response with the second it was sent."""

from __future__ import annotations

import threading
import time
from email.utils import parsedate_to_datetime

import httpx
import uvicorn

from hub.service import IDLE_TICK_S, _DatedState, _Server
from tests.conftest import free_port, wait_until


async def _app(scope: dict[str, object], receive: object, send: object) -> None:
    """The smallest ASGI app: every request gets 200 "ok"."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()  # type: ignore[operator]
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})  # type: ignore[operator]
            else:
                await send({"type": "lifespan.shutdown.complete"})  # type: ignore[operator]
                return
    await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
    await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]


def test_an_idle_server_stops_at_once_and_dates_each_response() -> None:
    port = free_port()
    server = _Server(uvicorn.Config(_app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="the server up")
    date = httpx.get(f"http://127.0.0.1:{port}/").headers.get_list("date")
    assert len(date) == 1
    sent = parsedate_to_datetime(date[0]).timestamp()
    assert abs(sent - time.time()) < 2
    began = time.monotonic()
    server.should_exit = True  # what the SIGTERM handler does
    thread.join(timeout=IDLE_TICK_S / 4)
    assert not thread.is_alive(), "the main loop slept through the stop request"
    assert time.monotonic() - began < 5


def test_the_date_header_is_made_when_read_and_replaces_uvicorns() -> None:
    state = _DatedState(date_header=True)
    state.default_headers = [(b"date", b"Thu, 01 Jan 1970 00:00:00 GMT"), (b"server", b"x")]
    headers = state.default_headers
    assert [name for name, _ in headers] == [b"date", b"server"]
    assert abs(parsedate_to_datetime(headers[0][1].decode()).timestamp() - time.time()) < 2
    assert _DatedState(date_header=False).default_headers == []
