"""The accuracy a push states comes from the sensor model the firmware names in its health
message: a DHT11 room is told ±2 °C, an SHT4x room ±0.2 °C, not the DHT22's ±0.5 °C.
Through Mosquitto and a real hub, with the firmware's own Publisher."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from contract.messages import HealthMessage, new_boot_id
from nursery.config import Settings
from tests.support import Mosquitto, StartHub, wait_until
from tests.support.alerting import settings_for
from tests.support.push import Receiver
from tests.support.rooms import TracePlayer


def health(room: str, sensor: str | None) -> HealthMessage:
    return HealthMessage(
        room=room,
        boot_id=new_boot_id(),
        ts=datetime.now(UTC).replace(microsecond=0),
        outbox_pending=0,
        outbox_dropped=0,
        outbox_error=None,
        reads=10,
        read_errors=0,
        floor={},
        sensor=sensor,
    )


def test_the_sensor_model_round_trips_and_older_firmware_still_decodes() -> None:
    with_model = health("nursery", "dht11")
    assert HealthMessage.decode(with_model.encode()) == with_model
    assert b'"sensor":"dht11"' in with_model.encode()
    older = with_model.encode().replace(b',"sensor":"dht11"', b"")
    assert b'sensor"' not in older
    assert HealthMessage.decode(older).sensor is None


@pytest.mark.parametrize(
    ("model", "accuracy", "shown"),
    [("dht11", "±2 °C", "Raspberry Pi: DHT11"), ("sht4x", "±0.2 °C", "Raspberry Pi: SHT4x")],
)
def test_a_room_is_paged_with_its_own_sensors_accuracy(
    model: str,
    accuracy: str,
    shown: str,
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: StartHub,
    players: Callable[[Settings], TracePlayer],
) -> None:
    receiver = receivers()
    settings = settings_for(tmp_path, broker, base_topic, receiver)
    hub = start_hub(settings)
    room = players(settings)
    assert room.publisher.publish_health(health(settings.firmware.room, model))
    wait_until(
        lambda: hub.get("/healthz").json()["messages"]["healths"] >= 1,
        what="the hub to take the health message",
    )
    room.level = 15.5
    wait_until(lambda: [t for t in receiver.titles() if "cold" in t], what="the cold page")
    body = str(receiver.answered[0].json()["message"])
    assert "below 16 °C" in body
    assert f"Sensor accuracy {accuracy}." in body
    assert "±0.5 °C" not in body
    # The dashboard's alert row says what the push said.
    alert = next(a for a in hub.get("/api/alerts").json() if a["condition"] == "cold")
    assert alert["accuracy"] == f"Sensor accuracy {accuracy}."
    # The room card names the Pi's sensor and its own accuracy.
    card = next(r for r in hub.get("/api/rooms").json() if r["room"] == settings.firmware.room)
    assert card["source"] == shown
    assert f"Accuracy about {accuracy} and" in card["accuracy"]
