"""Each system's documented payloads, translated; and the judgement of fresh, retained and
repeated messages that keeps a silent or stale room from looking fine."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from hub.sources.registry import owner, parse, subscriptions
from hub.sources.settings import SourceSettings
from hub.sources.tracker import Heard, judge
from hub.sources.update import SourceError, Update

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)


def source(kind: str, device: str = "dev", **extra: object) -> SourceSettings:
    return SourceSettings.model_validate(
        {"room": "nursery", "kind": kind, "device": device, **extra}
    )


def test_each_kind_listens_on_its_systems_default_topics() -> None:
    assert subscriptions([source("zigbee2mqtt", "kids/th")]) == [
        "zigbee2mqtt/kids/th",
        "zigbee2mqtt/kids/th/availability",
    ]
    assert subscriptions([source("esphome", "nursery-node")]) == [
        "nursery-node/sensor/+/state",
        "nursery-node/status",
    ]
    assert subscriptions([source("shelly", "shellyhtg3-84fce63ad204")]) == [
        "shellyhtg3-84fce63ad204/events/rpc",
        "shellyhtg3-84fce63ad204/online",
    ]
    assert subscriptions([source("tasmota", "th1")]) == ["tele/th1/SENSOR", "tele/th1/LWT"]
    assert subscriptions([source("tasmota", "th1", base_topic="th1/tele")])[0] == "th1/tele/SENSOR"
    esphome = source("esphome", "node")
    assert owner([esphome], "node/sensor/room_temperature/state") is esphome
    assert owner([esphome], "node/sensor/a/b/state") is None
    assert owner([esphome], "other/status") is None


def test_zigbee2mqtt_state_and_both_availability_shapes() -> None:
    z = source("zigbee2mqtt", "th")
    payload = {
        "temperature": 19.2,
        "humidity": 51.5,
        "battery": 87,
        "linkquality": 96,
        "voltage": 2995,
    }
    update = parse(z, "zigbee2mqtt/th", json.dumps(payload).encode())
    assert update == Update(temperature_c=19.2, humidity_pct=51.5, battery_pct=87.0)
    assert parse(z, "zigbee2mqtt/th/availability", b'{"state":"offline"}') == Update(online=False)
    assert parse(z, "zigbee2mqtt/th/availability", b"online") == Update(online=True)
    stamped = parse(
        z, "zigbee2mqtt/th", b'{"temperature": 19, "last_seen": "2026-12-05T04:00:00+01:00"}'
    )
    assert stamped is not None and stamped.measured_at == NOW
    with pytest.raises(SourceError):
        parse(z, "zigbee2mqtt/th", b'{"temperature": "warm"}')


def test_esphome_numbers_as_text_by_name_or_configured_object_id_and_fahrenheit() -> None:
    e = source("esphome", "node")
    assert parse(e, "node/sensor/nursery_temperature/state", b"20.50") == Update(temperature_c=20.5)
    assert parse(e, "node/sensor/nursery_humidity/state", b"48") == Update(humidity_pct=48.0)
    assert parse(e, "node/sensor/wifi_signal/state", b"-61") is None
    failed = parse(e, "node/sensor/nursery_temperature/state", b"nan")
    assert failed is not None and failed.failed
    named = source("esphome", "node", temperature_sensor="t_room", temperature_unit="F")
    update = parse(named, "node/sensor/t_room/state", b"68")
    assert update is not None and update.temperature_c == pytest.approx(20.0)
    assert parse(e, "node/status", b"offline") == Update(online=False)


def test_shelly_notifications_with_their_own_time_and_battery() -> None:
    s = source("shelly", "shellyhtg3-1")
    payload = {
        "src": "shellyhtg3-1",
        "method": "NotifyFullStatus",
        "params": {
            "ts": NOW.timestamp(),
            "temperature:0": {"id": 0, "tC": 18.4, "tF": 65.1},
            "humidity:0": {"id": 0, "rh": 55.2},
            "devicepower:0": {"id": 0, "battery": {"V": 5.2, "percent": 19}},
        },
    }
    update = parse(s, "shellyhtg3-1/events/rpc", json.dumps(payload).encode())
    assert update == Update(
        temperature_c=18.4, humidity_pct=55.2, battery_pct=19.0, measured_at=NOW
    )
    event = {"method": "NotifyEvent", "params": {"ts": 1, "events": []}}
    assert parse(s, "shellyhtg3-1/events/rpc", json.dumps(event).encode()) is None
    assert parse(s, "shellyhtg3-1/online", b"true") == Update(online=True)
    # A sleeping H&T says false between wake-ups: not an urgent "offline".
    assert parse(s, "shellyhtg3-1/online", b"false") == Update()


def test_tasmota_sensor_objects_units_and_lwt() -> None:
    t = source("tasmota", "th1")
    payload = {
        "Time": "2026-12-05T03:00:00",
        "SI7021": {"Temperature": 64.4, "Humidity": 40.1},
        "TempUnit": "F",
    }
    update = parse(t, "tele/th1/SENSOR", json.dumps(payload).encode())
    assert update is not None and update.temperature_c == pytest.approx(18.0)
    assert update.humidity_pct == 40.1
    two = {
        "DS18B20": {"Temperature": 21.0},
        "AM2301": {"Temperature": 20.0, "Humidity": 45.0},
        "TempUnit": "C",
    }
    picked = source("tasmota", "th1", temperature_sensor="DS18B20", humidity_sensor="AM2301")
    assert parse(picked, "tele/th1/SENSOR", json.dumps(two).encode()) == Update(21.0, 45.0)
    assert parse(t, "tele/th1/LWT", b"Offline") == Update(online=False)
    assert parse(t, "tele/th1/LWT", b"DeepSleep") == Update()  # Tasmota's deep sleep
    with pytest.raises(SourceError):
        parse(t, "tele/th1/SENSOR", b'{"AM2301": {"Temperature": 20}, "TempUnit": "K"}')


def test_retained_repeated_and_stale_messages_are_never_fresh_readings() -> None:
    e = source("esphome", "node", stale_after_s=300)
    topic = "node/sensor/room_temperature/state"
    heard, out = judge(e, Heard(), Update(temperature_c=21.0), topic, b"21", retained=True, at=NOW)
    assert out.reading is None and out.skipped == "retained"
    heard, out = judge(e, heard, Update(humidity_pct=50.0), "h", b"50", retained=True, at=NOW)
    assert out.reading is None
    heard, out = judge(e, heard, Update(temperature_c=19.0), topic, b"19", retained=False, at=NOW)
    assert out.reading is not None and out.reading.temperature_c == 19.0
    assert out.reading.live is True and out.reading.boot_id == e.boot_id
    later = NOW + timedelta(seconds=1)
    _, out = judge(e, heard, Update(temperature_c=19.0), topic, b"19", retained=False, at=later)
    assert out.reading is None and out.skipped == "repeat"
    # A humidity alone makes a reading only while the temperature is fresh.
    stale = NOW + timedelta(seconds=301)
    _, out = judge(e, heard, Update(humidity_pct=49.0), "h", b"49", retained=False, at=stale)
    assert out.reading is None


def test_a_message_with_its_own_time_is_stored_once_at_that_time() -> None:
    s = source("shelly", "sh")
    update = Update(temperature_c=18.0, humidity_pct=50.0, measured_at=NOW - timedelta(hours=3))
    heard, out = judge(s, Heard(), update, "sh/events/rpc", b"a", retained=True, at=NOW)
    assert out.reading is not None
    assert out.reading.ts == NOW - timedelta(hours=3) and out.reading.live is None
    _, out = judge(s, heard, update, "sh/events/rpc", b"b", retained=False, at=NOW)
    assert out.reading is None and out.skipped == "repeat"
