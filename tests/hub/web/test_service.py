"""The hub's uvicorn server: asleep when idle, yet stopping at once, dating every
response with the second it was sent, keeping idle connections open for longer than
clients' pools keep them, and serving no WebSocket."""

from __future__ import annotations

import contextlib
import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx
import uvicorn

from hub.service import IDLE_TICK_S, _DatedState, _Server
from tests.support import Mosquitto, free_port, wait_until
from tests.support.hub import answers, serving_hub
from tests.support.push import Receiver
from tests.support.rooms import Monitor


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


def test_the_hub_keeps_an_idle_connection_longer_than_client_pools_do(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    """A client's pool reuses a connection idle for up to its expiry (httpx 5 s, aiohttp
    15 s); the hub must not be closing it then, or a POST on it fails."""
    hub, port = serving_hub(tmp_path, broker, base_topic)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/healthz")
        assert connection.getresponse().read()
        assert connection.sock is not None
        # Idle past uvicorn's default of 5 s: a close would make the socket readable (EOF).
        closed, _, _ = select.select([connection.sock], [], [], 7.0)
        assert not closed, "the hub closed a connection idle for under 7 s"
        connection.request("GET", "/healthz")  # the same socket: http.client never redials
        assert connection.getresponse().status == 200
        connection.close()
    finally:
        assert hub.stop() == 0, hub.output()


def test_the_hub_answers_a_websocket_upgrade_as_plain_http(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    """The hub serves no WebSocket, whatever library is installed (the test extras bring
    one): an upgrade request gets the route's ordinary answer, never a handshake, and
    leaves no line in the log."""
    hub, port = serving_hub(tmp_path, broker, base_topic)
    try:
        response = httpx.get(
            f"http://127.0.0.1:{port}/healthz",
            headers={
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
            timeout=10,
        )
        assert response.status_code == 200
        assert response.json()["parts"]["mqtt"] == "ok"
    finally:
        assert hub.stop() == 0, hub.output()
    # Nor does it log anything for it: anyone on the network can send these.
    assert "upgrade" not in hub.output().lower(), hub.output()


def test_requests_that_are_not_http_cannot_flood_the_log(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    """Anyone on the network can send bytes that are not HTTP (a port scan, TLS to a plain
    port): the hub says so once a minute, not once a connection."""
    hub, port = serving_hub(tmp_path, broker, base_topic)
    try:
        for _ in range(30):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n")
                with contextlib.suppress(OSError):
                    while sock.recv(4096):
                        pass
        # The hub still answers, and the first of them is in the log.
        assert answers(port)
        wait_until(lambda: "Invalid HTTP request" in hub.output(), timeout=10, what="the line")
    finally:
        assert hub.stop() == 0, hub.output()
    assert hub.output().count("Invalid HTTP request received") == 1, hub.output()


def test_the_hub_never_loads_pydantic_v1(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    """FastAPI imports pydantic.v1 only to refuse v1 models, and the hub has none: 1.6 MiB
    of a Pi Zero 2 W's memory. Python's import trace of a serving hub, its API schema built,
    names every module the hub loaded."""
    hub, port = serving_hub(tmp_path, broker, base_topic, {"PYTHONPROFILEIMPORTTIME": "1"})
    try:
        schema = httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=10)
        assert schema.status_code == 200
        assert "/api/rooms" in schema.json()["paths"]
    finally:
        assert hub.stop() == 0, hub.output()
    loaded = {
        line.rpartition("|")[2].strip()
        for line in hub.output().splitlines()
        if line.startswith("import time:")
    }
    assert {"hub.api.rooms", "fastapi.routing"} <= loaded  # the trace saw the routes load
    # FastAPI's attempt itself is traced (its name alone); loading v1 would bring its
    # twenty-odd modules.
    assert not {m for m in loaded if m.startswith("pydantic.v1.")}


def test_a_push_from_the_hub_loads_no_character_detector(
    tmp_path: Path, broker: Mosquitto, base_topic: str, monitor: Callable[[str], Monitor]
) -> None:
    """requests, under Apprise, imports a character detector (2.5 MiB of a Pi Zero 2 W's
    memory) only to guess the encoding of answers that name none; the hub reads push
    answers by their status. A cold room's push still goes out, with no warning about the
    missing detector in the log, and the import trace shows no detector loaded."""
    receiver = Receiver()
    env = {
        "PYTHONPROFILEIMPORTTIME": "1",
        "NURSERY_NOTIFY__URLS": json.dumps([receiver.url("cold")]),
        "NURSERY_RULES__COLD_FOR_S": "0",
    }
    hub, _ = serving_hub(tmp_path, broker, base_topic, env)
    try:
        room, sent = monitor("nursery"), [0.0]

        def pushed() -> bool:
            if time.monotonic() - sent[0] >= 0.5:  # a cold reading every half second
                room.reading(12.0, 50.0)
                sent[0] = time.monotonic()
            return bool(receiver.answered)

        wait_until(pushed, timeout=30, what="the cold room's push")
    finally:
        receiver.stop()
        assert hub.stop() == 0, hub.output()
    loaded = {
        line.rpartition("|")[2].strip()
        for line in hub.output().splitlines()
        if line.startswith("import time:")
    }
    assert {"apprise", "requests"} <= loaded  # the trace saw the push's libraries load
    # requests's attempts are traced (their names alone); a detector brings its modules.
    assert not {m for m in loaded if m.startswith(("charset_normalizer.", "chardet."))}
    assert "character detection" not in hub.output()
