"""The whole path as a user runs it: `nursery firmware` and `nursery hub` as processes,
a real Mosquitto between them, readings read back over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from firmware.contract import ReadingMessage
from tests.conftest import Mosquitto, api_token, free_port, wait_until


class Process:
    """A `nursery` subcommand run the way a user runs it, with its output kept."""

    def __init__(self, tmp_path: Path, name: str, env: dict[str, str]) -> None:
        self.log = tmp_path / f"{name}.log"
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
        full_env.update(env)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "nursery", name],
            env=full_env,
            cwd=tmp_path,
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@pytest.fixture
def wire(broker: Mosquitto, base_topic: str) -> Iterator[list[ReadingMessage]]:
    """Every reading that crosses the broker, as a third-party subscriber sees it."""
    seen: list[ReadingMessage] = []
    lock = threading.Lock()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        with lock:
            seen.append(ReadingMessage.decode(message.payload))

    client.on_message = on_message
    client.connect("127.0.0.1", broker.port)
    client.subscribe(f"{base_topic}/+/reading", qos=1)
    client.loop_start()
    yield seen
    client.disconnect()
    client.loop_stop()


def test_simulated_firmware_to_hub_to_http(
    tmp_path: Path, broker: Mosquitto, base_topic: str, wire: list[ReadingMessage]
) -> None:
    http_port = free_port()
    common = {
        "NURSERY_MQTT__HOST": "127.0.0.1",
        "NURSERY_MQTT__PORT": str(broker.port),
        "NURSERY_MQTT__BASE_TOPIC": base_topic,
    }
    hub = Process(
        tmp_path,
        "hub",
        {
            **common,
            "NURSERY_HUB__DB": str(tmp_path / "hub.db"),
            "NURSERY_HUB__HTTP_PORT": str(http_port),
            "NURSERY_HUB__CLIENT_ID": f"e2e-{base_topic}"[:23],
        },
    )
    url = f"http://127.0.0.1:{http_port}"

    auth = {"Authorization": f"Bearer {api_token(tmp_path / 'hub.db')}"}

    def get(path: str) -> httpx.Response | None:
        try:
            return httpx.get(url + path, headers=auth, timeout=5)
        except httpx.TransportError:
            assert hub.proc.poll() is None, hub.output()
            return None

    try:
        wait_until(
            lambda: (r := get("/healthz")) is not None and r.json()["mqtt"]["connected"],
            timeout=30,
            what="the hub to serve and connect",
        )
        firmware = Process(
            tmp_path,
            "firmware",
            {
                **common,
                "NURSERY_FIRMWARE__ROOM": "kids-room",
                "NURSERY_FIRMWARE__SENSOR": "simulated",
                "NURSERY_FIRMWARE__SCENARIO": "steady",
                "NURSERY_FIRMWARE__INTERVAL_S": "0.05",
            },
        )
        try:
            wait_until(lambda: len(wire) >= 40, timeout=30, what="40 readings on the wire")
            rooms = wait_until(lambda: (r := get("/api/rooms")) and r.json(), what="a room")
            assert rooms[0]["room"] == "kids-room"
            wait_until(
                lambda: get("/api/rooms").json()[0]["status"] == "online",  # type: ignore[union-attr]
                what="the firmware's retained online status",
            )
        finally:
            assert firmware.stop() == 0, firmware.output()
        assert "Traceback" not in firmware.output()

        sent = sorted((m.boot_id, m.seq) for m in wire)
        assert len({boot for boot, _ in sent}) == 1
        assert [seq for _, seq in sent] == list(range(len(sent))), "seq must grow by one"

        def stored() -> list[dict[str, object]]:
            response = get("/api/rooms/kids-room/readings?max_points=10000")
            return response.json()["points"] if response else []  # type: ignore[no-any-return]

        wait_until(lambda: len(stored()) == len(sent), what="every reading stored")
        points = stored()
        # Compared as times, not strings: a reading on a whole second is "...:28Z",
        # which sorts after "...:28.950000Z" as text.
        times = [datetime.fromisoformat(str(p["ts"])) for p in points]
        assert times == sorted(times), "points must come oldest first"
        by_ts = sorted((m.temperature_c, m.humidity_pct) for m in wire)
        assert sorted((p["temperature_c"], p["humidity_pct"]) for p in points) == by_ts
        health = get("/healthz").json()  # type: ignore[union-attr]
        assert health["messages"]["stored"] == len(sent)
        assert health["messages"]["rejected"] == 0
        wait_until(
            lambda: get("/api/rooms").json()[0]["status"] == "offline",  # type: ignore[union-attr]
            what="offline after the firmware stopped",
        )
    finally:
        assert hub.stop() == 0, hub.output()
    assert "Traceback" not in hub.output()
