"""The library internals our code overrides are where the pinned versions have them: a
failure names the line of constraints.txt to revisit (docs/install.md, "Constraints")."""

from __future__ import annotations

import ast
import asyncio
import inspect
import signal
import socket
import textwrap
import threading
from collections.abc import Callable, Iterator
from importlib import metadata
from types import FrameType
from typing import Any

import h11
import paho.mqtt.client as mqtt
import pytest
import uvicorn
from fastapi import FastAPI
from paho.mqtt.enums import CallbackAPIVersion
from uvicorn.protocols.http.h11_impl import H11Protocol
from uvicorn.server import ServerState

from hub.service import _DatedState, _Server, server_config
from hub.web.http_guard import GuardedH11Protocol
from mqttlink.client import QuietClient
from tests.support import ROOT, Mosquitto, free_port, wait_until


def pinned(name: str) -> str:
    """The line of constraints.txt that pins `name`."""
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line.split("==")[0].strip() == name:
            return line.strip()
    raise AssertionError(f"constraints.txt pins no {name}: our code relies on its internals")


def revisit(name: str, what: str) -> str:
    return (
        f"{what}: revisit `{pinned(name)}` in constraints.txt "
        f"(installed: {name} {metadata.version(name)}) and the code that relies on it"
    )


def parameters(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


# --- paho-mqtt: mqttlink/client.py -----------------------------------------------------


def _body(function: Callable[..., Any]) -> list[ast.stmt]:
    """The function's statements, without its docstring."""
    node = ast.parse(textwrap.dedent(inspect.getsource(function))).body[0]
    assert isinstance(node, ast.FunctionDef)
    return [
        stmt for stmt in node.body if ast.get_docstring(node) is None or stmt is not node.body[0]
    ]


def test_quiet_client_copies_pahos_thread_main_but_for_the_timeout() -> None:
    """QuietClient._thread_main is paho's, with a `timeout=` added to loop_forever()."""
    ours = _body(QuietClient._thread_main)
    for stmt in ours:
        for call in ast.walk(stmt):
            if isinstance(call, ast.Call):
                call.keywords = [k for k in call.keywords if k.arg != "timeout"]
    theirs = _body(mqtt.Client._thread_main)
    assert list(map(ast.dump, ours)) == list(map(ast.dump, theirs)), revisit(
        "paho-mqtt", "Client._thread_main, the copy in mqttlink/client.py, changed"
    )
    assert {"timeout", "retry_first_connection"} <= set(parameters(mqtt.Client.loop_forever)), (
        revisit("paho-mqtt", "Client.loop_forever() lost timeout= or retry_first_connection=")
    )
    assert isinstance(inspect.getattr_static(mqtt.Client, "keepalive"), property), revisit(
        "paho-mqtt", "Client.keepalive is no longer a property"
    )


def test_loop_start_runs_quiet_clients_thread_and_loop_stop_ends_it(broker: Mosquitto) -> None:
    entered = threading.Event()

    class Probe(QuietClient):
        def _thread_main(self) -> None:
            entered.set()
            super()._thread_main()

    client = Probe(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port, keepalive=30)
    client.loop_start()
    try:
        assert entered.wait(5), revisit(
            "paho-mqtt", "loop_start() no longer runs Client._thread_main in its thread"
        )
        wait_until(client.is_connected, timeout=10, what="the probe client to connect")
    finally:
        client.disconnect()
        client.loop_stop()
    assert client._thread is None, revisit(
        "paho-mqtt", "Client._thread, which QuietClient clears as paho does, is gone"
    )


# --- uvicorn: hub/service.py ---------------------------------------------------------------


@pytest.fixture
def config() -> uvicorn.Config:
    config = server_config(FastAPI(), "127.0.0.1", free_port())
    config.load()
    return config


def test_server_state_still_holds_the_default_headers() -> None:
    fields = set(vars(ServerState()))
    assert {"default_headers", "connections", "tasks", "total_requests"} <= fields, revisit(
        "uvicorn", f"ServerState's fields are now {sorted(fields)}"
    )
    handle_events = inspect.getsource(H11Protocol.handle_events)
    assert "self.server_state.default_headers" in handle_events, revisit(
        "uvicorn", "H11Protocol no longer reads ServerState.default_headers for each response"
    )


def test_on_tick_refreshes_the_headers_our_date_replaces(config: uvicorn.Config) -> None:
    server = _Server(config)
    assert isinstance(server.server_state, _DatedState), revisit(
        "uvicorn", "Server.__init__ no longer keeps its state in Server.server_state"
    )
    assert parameters(uvicorn.Server.on_tick) == ["self", "counter"], revisit(
        "uvicorn", "Server.on_tick(counter), which _Server.main_loop calls, changed"
    )
    should_exit = asyncio.run(server.on_tick(10))
    headers = dict(server.server_state.default_headers)
    assert should_exit is False and b"date" in headers and b"server" in headers, revisit(
        "uvicorn", "Server.on_tick no longer sets the default headers on each tenth tick"
    )
    server.should_exit = True
    assert asyncio.run(server.on_tick(10)) is True, revisit(
        "uvicorn", "Server.on_tick no longer answers whether should_exit was set"
    )
    assert inspect.iscoroutinefunction(uvicorn.Server.main_loop), revisit(
        "uvicorn", "Server.main_loop, which _Server replaces, is gone"
    )
    assert "self.main_loop()" in inspect.getsource(uvicorn.Server._serve), revisit(
        "uvicorn", "Server._serve no longer runs Server.main_loop"
    )


@pytest.fixture
def caught_sigterm() -> Iterator[list[int]]:
    """SIGTERMs raised in this test, kept from ending pytest."""
    caught: list[int] = []

    def catch(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    before = signal.signal(signal.SIGTERM, catch)
    yield caught
    signal.signal(signal.SIGTERM, before)


def test_a_stop_by_signal_is_not_raised_again(
    config: uvicorn.Config, caught_sigterm: list[int]
) -> None:
    server = _Server(config)
    assert parameters(uvicorn.Server.handle_exit) == ["self", "sig", "frame"], revisit(
        "uvicorn", "Server.handle_exit(sig, frame) changed"
    )
    assert isinstance(getattr(server, "_captured_signals", None), list), revisit(
        "uvicorn", "Server._captured_signals, which _Server.handle_exit clears, is gone"
    )
    with server.capture_signals():
        server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit, revisit("uvicorn", "Server.handle_exit no longer sets should_exit")
    assert caught_sigterm == [], revisit(
        "uvicorn", "Server.capture_signals re-raises a signal other than from _captured_signals"
    )


# --- uvicorn: hub/web/http_guard.py --------------------------------------------------------------


async def _connected(config: uvicorn.Config) -> H11Protocol:
    """uvicorn's protocol on one end of a real socket pair, as its server makes it."""
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    _, protocol = await loop.connect_accepted_socket(
        lambda: H11Protocol(config=config, server_state=ServerState(), app_state={}),
        sock=ours,
    )
    theirs.close()
    return protocol


def test_h11_protocol_keeps_what_the_guard_uses(config: uvicorn.Config) -> None:
    async def attributes() -> dict[str, Any]:
        protocol = await _connected(config)
        found = dict(vars(protocol))
        protocol.transport.close()
        return found

    found = asyncio.run(attributes())
    used = {
        "app": Callable,
        "loop": asyncio.AbstractEventLoop,
        "conn": h11.Connection,
        "transport": asyncio.Transport,
        "scheme": str,
        "connections": set,
        "tasks": set,
        "timeout_keep_alive": int,
        "timeout_keep_alive_task": type(None),  # armed after a response; ours arms it sooner
        "limit_concurrency": int,  # ours takes it over and does the counting
    }
    for name, kind in used.items():
        assert name in found, revisit("uvicorn", f"H11Protocol.{name} is gone")
        assert isinstance(found[name], kind), revisit(  # type: ignore[arg-type]
            "uvicorn", f"H11Protocol.{name} is no longer a {kind}"
        )
    methods = {
        "connection_made": ["self", "transport"],
        "data_received": ["self", "data"],
        "connection_lost": ["self", "exc"],
        "on_response_complete": ["self"],
        "send_400_response": ["self", "msg"],
        "timeout_keep_alive_handler": ["self"],
    }
    for name, expected in methods.items():
        assert parameters(getattr(H11Protocol, name)) == expected, revisit(
            "uvicorn", f"H11Protocol.{name}'s parameters changed"
        )
    source = inspect.getsource(H11Protocol)
    for used_name in (
        "self.send_400_response(",
        "self.limit_concurrency",
        "self.on_response_complete",
        "self.timeout_keep_alive_task.cancel()",
    ):
        assert used_name in source, revisit("uvicorn", f"H11Protocol no longer uses {used_name}")
    assert issubclass(GuardedH11Protocol, H11Protocol)
