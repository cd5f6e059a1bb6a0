"""A hostile or broken client floods the hub's topics with 100,000 malformed messages: the
hub (`nursery hub`, a real process) stays up, keeps storing the valid readings that
arrive in between, counts every rejection on /healthz, and keeps its log short."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import ReadingMessage, new_boot_id
from tests.support import Mosquitto, api_token, free_port, wait_until, without_settings

MALFORMED = 100_000
VALID_EVERY = 500  # one valid reading after this many malformed messages
ROOM = "nursery"


def malformed(base: str) -> list[tuple[str, bytes]]:
    """Topic and payload of each kind of broken message, cycled through by the flood."""
    room = f"{base}/{ROOM}"
    reading = (
        b'{"v":1,"room":"nursery","boot_id":"8c31134e-1b3e-4405-a0d5-affb9c3000b8",'
        b'"seq":1,"ts":"2026-11-23T18:00:00Z","temperature_c":%s,"humidity_pct":50}'
    )
    return [
        (f"{room}/reading", b""),
        (f"{room}/reading", b"{"),
        (f"{room}/reading", b"\xff\xfe\x00not utf-8"),
        (f"{room}/reading", b"[" * 3000),  # nested past the JSON parser's recursion limit
        (f"{room}/reading", b"x" * 5000),  # over the payload limit
        (f"{room}/reading", b'{"v":2}'),
        (f"{room}/reading", reading % b"NaN"),
        (f"{room}/reading", reading % b"1e309"),
        (f"{room}/reading", reading.replace(b'"nursery"', b'"bedroom"') % b"19"),
        (f"{room}/reading", (reading % b"19").replace(b"18:00:00Z", b"18:00:00+25:00")),
        (f"{room}/status", b"maybe"),
        (f"{room}/health", b"{}"),
        (f"{room}/fault", b'{"v":1,"room":"nursery"}'),
        (f"{room}/command", b"reboot"),
        (f"{room}/episode", b'{"v":1,"room":"nursery","action":"explode"}'),
        (f"{base}/Not A Room!/reading", reading % b"19"),
        (f"{base}/hub/reading", reading % b"19"),  # the hub's own reserved level
    ]


class Hub:
    """`nursery hub` as a process on the given broker, its log kept in a file."""

    def __init__(self, tmp_path: Path, broker: Mosquitto, base: str) -> None:
        self.db = tmp_path / "hub.db"
        self.token = api_token(self.db)
        self.url = f"http://127.0.0.1:{free_port()}"
        env = without_settings()
        env.update(
            NURSERY_MQTT__HOST="127.0.0.1",
            NURSERY_MQTT__PORT=str(broker.port),
            NURSERY_MQTT__BASE_TOPIC=base,
            NURSERY_HUB__DB=str(self.db),
            NURSERY_HUB__HTTP_PORT=self.url.rsplit(":", 1)[1],
            NURSERY_HUB__CLIENT_ID=f"flood-{base}"[:23],
        )
        self.log = tmp_path / "hub.log"
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "nursery", "hub"],
                env=env,
                cwd=tmp_path,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def health(self) -> dict[str, object] | None:
        assert self.proc.poll() is None, self.log.read_text()[-3000:]
        try:
            response = httpx.get(
                self.url + "/healthz",
                headers={"Authorization": f"Bearer {self.token}"},  # the counters need it
                timeout=5,
            )
        except httpx.TransportError:
            return None
        return response.json()  # type: ignore[no-any-return]

    def counts(self) -> dict[str, int]:
        health = self.health()
        assert health is not None
        return health["messages"]  # type: ignore[return-value]

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(20)


@pytest.fixture
def hub(tmp_path: Path, own_broker: Mosquitto, base_topic: str) -> Iterator[Hub]:
    running = Hub(tmp_path, own_broker, base_topic)
    try:
        wait_until(
            lambda: (h := running.health()) is not None and h["mqtt"]["connected"],  # type: ignore[index]
            timeout=30,
            what="the hub to serve and connect",
        )
        yield running
    finally:
        assert running.stop() == 0, running.log.read_text()[-3000:]


@pytest.mark.slow
def test_the_hub_survives_100000_malformed_messages_and_keeps_storing(
    hub: Hub, own_broker: Mosquitto, base_topic: str
) -> None:
    kinds = malformed(base_topic)
    boot = new_boot_id()
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.connect("127.0.0.1", own_broker.port)
    client.loop_start()
    valid = 0
    started = time.monotonic()
    try:
        for number in range(MALFORMED):
            topic, payload = kinds[number % len(kinds)]
            client.publish(topic, payload, qos=0)
            if number % VALID_EVERY == VALID_EVERY - 1:
                reading = ReadingMessage(ROOM, boot, valid, datetime.now(UTC), 19.0, 50.0)
                client.publish(f"{base_topic}/{ROOM}/reading", reading.encode(), qos=1)
                valid += 1
        published_s = time.monotonic() - started
        counts = wait_until(
            lambda: (c := hub.counts())["rejected"] >= MALFORMED and c["stored"] >= valid and c,
            timeout=50,
            what=f"{MALFORMED} rejections and {valid} stored readings",
        )
    finally:
        client.disconnect()
        client.loop_stop()
    took_s = time.monotonic() - started
    print(f"flood: published in {published_s:.1f} s, all handled in {took_s:.1f} s")
    assert counts["rejected"] == MALFORMED
    assert counts["stored"] == valid == MALFORMED // VALID_EVERY
    assert counts["store_errors"] == 0
    health = hub.health()
    assert health is not None and health["status"] == "ok"
    # Every valid reading is there, in order, over the authenticated API.
    rooms = httpx.get(
        hub.url + "/api/rooms", headers={"Authorization": f"Bearer {hub.token}"}, timeout=5
    ).json()
    assert [room["room"] for room in rooms] == [ROOM]  # no room made from garbage
    assert rooms[0]["latest"]["temperature_c"] == 19.0
    # The log says what happened without a line per message (a Pi's SD card).
    log = hub.log.read_text()
    assert "Traceback" not in log
    assert log.count("rejected message on") <= 20
    assert "more this minute are only counted" in log
