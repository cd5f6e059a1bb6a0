"""An hour of readings for the episode tests, published until the hub has stored them."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from contract.messages import ReadingMessage
from contract.topics import reading_topic
from hub.store.database import Received, Store
from tests.support.wait import wait_until

if TYPE_CHECKING:
    import httpx
    import paho.mqtt.client as mqtt

    from tests.support.hub import RunningHub

ROOM = "nursery"


def add_readings(
    store: Store, room: str, start: datetime, temps: list[float], step_s: float = 60
) -> None:
    """Store `temps` from `start`, one every `step_s`, as the hub stores what arrives."""
    boot = str(uuid.uuid4())
    store.add_readings(
        Received(
            ReadingMessage(room, boot, i, start + timedelta(seconds=i * step_s), t, 45.0), start
        )
        for i, t in enumerate(temps)
    )


def hour_of_readings(
    end: datetime, temp: Callable[[int], float], room: str = ROOM
) -> list[ReadingMessage]:
    """A reading a minute for the hour before `end` (index 0 is an hour before)."""
    boot = str(uuid.uuid4())
    return [
        ReadingMessage(room, boot, i, end - timedelta(minutes=60 - i), temp(i), 40.0 + i / 10)
        for i in range(61)
    ]


def publish_until_stored(
    client: mqtt.Client, base: str, hub: RunningHub, readings: list[ReadingMessage]
) -> None:
    """Publish, and again while the hub has not stored them all: a QoS 1 message sent before
    the hub's subscription is in place is dropped by the broker; a repeat is stored once."""

    sent_at = -math.inf

    def stored() -> bool:
        nonlocal sent_at
        if hub.get("/healthz").json()["messages"]["stored"] >= len(readings):
            return True
        if time.monotonic() - sent_at > 1.0:  # give the hub a second before repeating
            for message in readings:
                topic = reading_topic(base, message.room)
                client.publish(topic, message.encode(), qos=1).wait_for_publish(5)
            sent_at = time.monotonic()
        return False

    wait_until(stored, timeout=20, what="the hour of readings stored")


def cooled_hub(hub: RunningHub, client: mqtt.Client, base: str) -> RunningHub:
    """`hub` once it has stored an hour in which the nursery cooled from 18 °C to 15 °C."""
    readings = hour_of_readings(datetime.now(UTC), lambda i: 18.0 - i / 20)
    publish_until_stored(client, base, hub, readings)
    return hub


def iso(ts: datetime) -> str:
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def day_of(logged: httpx.Response) -> str:
    """The UTC day an episode logged through the API began on: log_past's ten minutes ago
    is yesterday just after midnight, and a report of today would not hold it."""
    started = datetime.fromisoformat(str(logged.json()["started_at"]).replace("Z", "+00:00"))
    return started.astimezone(UTC).date().isoformat()


def log_past(hub: RunningHub, **body: Any) -> httpx.Response:
    """Log an episode that started ten minutes ago, through the API."""
    start = datetime.now(UTC) - timedelta(minutes=10)
    payload = {"room": ROOM, "started_at": iso(start), "duration_s": 20, **body}
    return hub.post("/api/episodes", json=payload)
