"""The hub against a real Mosquitto: garbage is counted, redeliveries stored once, and a
reading is acknowledged only after it is committed."""

from __future__ import annotations

import sqlite3
import uuid
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest

from contract.messages import ReadingMessage
from contract.topics import reading_topic, status_topic
from hub.ingest.receipts import ReceiptSchedule
from tests.support import Mosquitto, RunningHub, StartHub, hub_settings, wait_until


def reading(seq: int, boot: str, temp: float = 19.4, room: str = "nursery") -> ReadingMessage:
    return ReadingMessage(room, boot, seq, datetime.now(UTC), temp, 48.2)


def send(client: mqtt.Client, base: str, message: ReadingMessage) -> None:
    client.publish(reading_topic(base, message.room), message.encode(), qos=1).wait_for_publish(5)


def counts(hub: RunningHub) -> dict[str, int]:
    result: dict[str, int] = hub.get("/healthz").json()["messages"]
    return result


def test_garbage_is_counted_and_ingest_goes_on(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    boot = str(uuid.uuid4())
    garbage = [
        b"",
        b"not json",
        b"\xff\xfe",
        b"[1, 2]",
        b'{"v": 1}',
        b'{"v": 1, "room": "x", "boot_id": "nope", "seq": 1}',
        b"{" * 10000,
        reading(0, boot, room="elsewhere").encode(),  # room differs from the topic
    ]
    for payload in garbage:
        mqtt_client.publish(f"{base_topic}/x/reading", payload, qos=1).wait_for_publish(5)
    mqtt_client.publish(f"{base_topic}/x/status", b"maybe", qos=1).wait_for_publish(5)
    mqtt_client.publish(f"{base_topic}/X Y/reading", b"{}", qos=0).wait_for_publish(5)
    send(mqtt_client, base_topic, reading(0, boot))
    wait_until(lambda: counts(hub)["rejected"] == len(garbage) + 2, what="rejections counted")
    wait_until(lambda: counts(hub)["stored"] == 1, what="the valid reading stored")
    assert hub.get("/healthz").status_code == 200
    rooms = hub.get("/api/rooms").json()
    assert [room["room"] for room in rooms] == ["nursery"]
    assert rooms[0]["latest"]["temperature_c"] == 19.4


def test_a_redelivered_reading_is_stored_once(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    boot = str(uuid.uuid4())
    first = reading(7, boot)
    for _ in range(3):
        send(mqtt_client, base_topic, first)
    send(mqtt_client, base_topic, reading(8, boot))
    wait_until(lambda: counts(hub)["duplicates"] == 2, what="duplicates counted")
    assert counts(hub)["stored"] == 2
    points = hub.get("/api/rooms/nursery/readings").json()["points"]
    assert len(points) == 2


def test_readings_sent_while_the_hub_is_down_arrive_after_restart(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> None:
    settings = hub_settings(tmp_path, broker.port, base_topic)
    hub = start_hub(settings)
    boot = str(uuid.uuid4())
    send(mqtt_client, base_topic, reading(0, boot))
    wait_until(lambda: counts(hub)["stored"] == 1, what="the first reading")
    hub.stop()
    for seq in range(1, 51):
        send(mqtt_client, base_topic, reading(seq, boot))
    hub = start_hub(settings)  # same client id: the broker kept the session
    wait_until(
        lambda: len(hub.get("/api/rooms/nursery/readings").json()["points"]) == 51,
        what="the 50 readings queued by the broker",
    )


@pytest.mark.slow
def test_a_reading_is_acknowledged_only_after_commit(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> None:
    """While the database refuses writes nothing is acked; after a restart it all arrives."""
    settings = hub_settings(tmp_path, broker.port, base_topic)
    hub = start_hub(settings)
    boot = str(uuid.uuid4())
    send(mqtt_client, base_topic, reading(0, boot))
    wait_until(lambda: counts(hub)["stored"] == 1, what="the first reading")

    blocker = sqlite3.connect(settings.hub.db, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # the hub's writes now fail with "database is locked"
    try:
        send(mqtt_client, base_topic, reading(1, boot))
        wait_until(lambda: counts(hub)["store_errors"] >= 1, timeout=30, what="a failed commit")
        hub.stop()
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    hub = start_hub(settings)
    wait_until(
        lambda: (
            [p["temperature_c"] for p in hub.get("/api/rooms/nursery/readings").json()["points"]]
            == [19.4, 19.4]
        ),
        what="the unacknowledged reading redelivered and stored",
    )


def test_status_online_offline_is_shown(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    topic = status_topic(base_topic, "nursery")
    mqtt_client.publish(topic, b"online", qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: hub.get("/api/rooms").json(), what="the room to appear")
    assert hub.get("/api/rooms").json()[0]["status"] == "online"
    assert hub.get("/api/rooms").json()[0]["stale"] is True  # online but no reading yet
    mqtt_client.publish(topic, b"offline", qos=1, retain=True).wait_for_publish(5)
    wait_until(lambda: hub.get("/api/rooms").json()[0]["status"] == "offline", what="offline")
    mqtt_client.publish(topic, b"", qos=1, retain=True).wait_for_publish(5)


def test_readings_api_validates_its_query(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    start_hub: StartHub,
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    send(mqtt_client, base_topic, reading(0, str(uuid.uuid4())))
    wait_until(lambda: counts(hub)["stored"] == 1, what="a reading")
    assert hub.get("/api/rooms/attic/readings").status_code == 404
    bad = hub.get("/api/rooms/nursery/readings", since="yesterday")
    assert bad.status_code == 422
    assert "since" in bad.text
    assert hub.get("/api/rooms/nursery/readings", max_points=1).status_code == 422
    backwards = hub.get(
        "/api/rooms/nursery/readings", since="2026-11-23T18:00:00Z", until="2026-11-22T18:00:00Z"
    )
    assert backwards.status_code == 422
    window = hub.get(
        "/api/rooms/nursery/readings", since="2000-01-01T00:00:00Z", until="2000-01-02T00:00:00Z"
    )
    assert window.json()["points"] == []
    assert hub.get("/docs").status_code == 200
    assert "/api/rooms/{room}/readings" in hub.get("/openapi.json").json()["paths"]


def test_rooms_reading_together_share_one_receipt_fsync() -> None:
    """Four rooms' readings a few ms apart get their receipts together, a second later,
    behind one fsync; a room sending on still gets at most one receipt a second."""
    schedule = ReceiptSchedule(every_s=1.0, gather_s=1.0)
    assert schedule.wait_s(0.0) is None
    for i, room in enumerate(["bedroom", "landing", "nursery", "study"]):
        schedule.owe(room, 100.0 + i * 0.003)
    assert schedule.due(100.5) == []
    assert schedule.wait_s(100.5) == pytest.approx(0.5)
    due = schedule.due(101.0)
    assert due == ["bedroom", "landing", "nursery", "study"]  # one fsync for all four
    for room in due:
        schedule.sent(room, 101.0)
    schedule.owe("nursery", 101.2)  # the next reading comes soon after its receipt
    assert schedule.due(101.9) == []
    assert schedule.wait_s(101.9) == pytest.approx(0.3)  # its gather ends at 102.2
    assert schedule.due(102.2) == ["nursery"]
    schedule.owe("study", 102.3)
    assert schedule.due(102.3, all_owed=True) == ["nursery", "study"]  # at shutdown
