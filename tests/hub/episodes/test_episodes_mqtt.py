"""The hub's side of the Pi's episode button, over a real Mosquitto with a plain paho
publisher standing in for the firmware: each event applied once, and a receipt for it
(after the commit, for a redelivery too) so the firmware can forget it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.episode_events import EpisodeEventMessage, EpisodeStoredMessage
from contract.topics import episode_stored_topic, episode_topic
from tests.support import Mosquitto, RunningHub, StartHub, hub_settings, wait_until

ROOM = "nursery"


class FakePi:
    """What the firmware does on the wire: publish events, collect the hub's receipts."""

    def __init__(self, port: int, base: str) -> None:
        self.base = base
        self.receipts: list[tuple[EpisodeStoredMessage, bool]] = []  # (receipt, retained)
        self._lock = threading.Lock()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.subscribe(episode_stored_topic(base, ROOM), qos=1)
        self.client.loop_start()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self.receipts.append(
                (EpisodeStoredMessage.decode(bytes(message.payload)), message.retain)
            )

    def press(
        self, action: str, ts: datetime, event_id: str | None = None, room: str = ROOM
    ) -> str:
        event = EpisodeEventMessage(room, event_id or str(uuid.uuid4()), action, ts)  # type: ignore[arg-type]
        topic = episode_topic(self.base, ROOM)
        self.client.publish(topic, event.encode(), qos=1).wait_for_publish(5)
        return event.event_id

    def receipts_for(self, event_id: str) -> int:
        with self._lock:
            return sum(1 for receipt, _ in self.receipts if receipt.event_id == event_id)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def pi_and_hub(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub
) -> Iterator[tuple[FakePi, RunningHub]]:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    pi = FakePi(broker.port, base_topic)
    # The hub's subscription may not be in place the moment it says "connected": press an
    # event until its receipt comes back.
    probe = str(uuid.uuid4())

    def answered() -> bool:
        pi.press("now", datetime.now(UTC) - timedelta(days=30), probe)
        return pi.receipts_for(probe) > 0

    wait_until(answered, what="the hub answering the episode button")
    yield pi, hub
    pi.close()


def button_episodes(hub: RunningHub) -> list[dict[str, Any]]:
    since = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    response = hub.get("/api/episodes", since=since)
    assert response.status_code == 200
    return [e for e in response.json() if e["source"] == "button"]


def test_start_and_stop_from_the_button_with_receipts(
    pi_and_hub: tuple[FakePi, RunningHub],
) -> None:
    pi, hub = pi_and_hub
    pressed = datetime.now(UTC) - timedelta(seconds=40)
    start = pi.press("start", pressed)
    wait_until(lambda: pi.receipts_for(start) == 1, what="the receipt for start")
    running = button_episodes(hub)
    assert len(running) == 1 and running[0]["running"] is True
    assert datetime.fromisoformat(running[0]["started_at"]) == pressed.replace(
        microsecond=pressed.microsecond // 1000 * 1000
    )
    assert running[0]["details_missing"] is True

    # The firmware did not hear the receipt and sends the event again: answered, not applied.
    pi.press("start", pressed, start)
    wait_until(lambda: pi.receipts_for(start) == 2, what="a receipt for the redelivery")
    assert len(button_episodes(hub)) == 1

    stop = pi.press("stop", pressed + timedelta(seconds=25))
    wait_until(lambda: pi.receipts_for(stop) == 1, what="the receipt for stop")
    (stopped,) = button_episodes(hub)
    assert stopped["running"] is False and stopped["duration_s"] == 25
    assert all(not retained for _, retained in pi.receipts)

    # The parent fills in the details later, on the phone.
    edited = hub.request("PATCH", f"/api/episodes/{stopped['id']}", json={"limbs": ["right_leg"]})
    assert edited.status_code == 200 and edited.json()["details_missing"] is False


def test_now_stop_without_start_and_a_wrong_room(pi_and_hub: tuple[FakePi, RunningHub]) -> None:
    pi, hub = pi_and_hub
    stray = pi.press("stop", datetime.now(UTC))
    wait_until(
        lambda: pi.receipts_for(stray) == 1, what="a receipt for a stop with nothing running"
    )
    assert button_episodes(hub) == []

    now = pi.press("now", datetime.now(UTC) - timedelta(seconds=5))
    wait_until(lambda: pi.receipts_for(now) == 1, what="the receipt for now")
    (untimed,) = button_episodes(hub)
    assert untimed["timed"] is False and untimed["ended_at"] is None and not untimed["running"]

    rejected = hub.get("/healthz").json()["messages"]["rejected"]
    wrong = pi.press("now", datetime.now(UTC), room="bedroom")  # on the nursery's topic
    wait_until(
        lambda: hub.get("/healthz").json()["messages"]["rejected"] == rejected + 1,
        what="the mismatched event rejected",
    )
    assert pi.receipts_for(wrong) == 0
    assert len(button_episodes(hub)) == 1
