"""The wire contract: encode → decode round-trips, and no input escapes as anything but
ContractError."""

from __future__ import annotations

import contextlib
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from firmware.contract import (
    ContractError,
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    StoredMessage,
    decode_command,
    decode_status,
    format_ts,
    parse_topic,
    reading_topic,
    status_topic,
    subscriptions,
)

rooms = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda ts: ts.replace(microsecond=ts.microsecond // 1000 * 1000))

readings = st.builds(
    ReadingMessage,
    room=rooms,
    boot_id=st.uuids(version=4).map(str),
    seq=st.integers(0, 2**62),
    ts=times,
    temperature_c=st.floats(-40, 80).map(lambda v: round(v, 2)),
    humidity_pct=st.floats(0, 100).map(lambda v: round(v, 2)),
)


@given(readings)
def test_reading_round_trips(reading: ReadingMessage) -> None:
    assert ReadingMessage.decode(reading.encode()) == reading


@given(st.binary(max_size=600))
def test_any_bytes_decode_or_raise_contract_error(payload: bytes) -> None:
    for decode in (ReadingMessage.decode, FaultMessage.decode, decode_status):
        with contextlib.suppress(ContractError):
            decode(payload)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=12,
)


@given(
    st.fixed_dictionaries(
        {},
        optional={
            "v": json_values | st.just(1),
            "room": json_values | rooms,
            "boot_id": json_values | st.uuids().map(str),
            "seq": json_values | st.integers(-5, 10),
            "ts": json_values | times.map(format_ts),
            "temperature_c": json_values | st.floats(-100, 100),
            "humidity_pct": json_values | st.floats(-10, 110),
        },
    )
)
def test_near_miss_objects_raise_only_contract_error(data: dict[str, object]) -> None:
    try:
        payload = json.dumps(data).encode()
    except ValueError:
        return
    with contextlib.suppress(ContractError):
        ReadingMessage.decode(payload)


def _payload(**changes: object) -> bytes:
    data: dict[str, object] = {
        "v": 1,
        "room": "nursery",
        "boot_id": str(uuid.uuid4()),
        "seq": 42,
        "ts": "2026-11-23T18:00:00Z",
        "temperature_c": 19.4,
        "humidity_pct": 48.2,
    }
    data.update(changes)
    return json.dumps({k: v for k, v in data.items() if v is not ...}).encode()


def test_the_documented_example_decodes() -> None:
    reading = ReadingMessage.decode(_payload())
    assert reading.seq == 42
    assert reading.ts == datetime(2026, 11, 23, 18, 0, tzinfo=UTC)
    assert reading.temperature_c == 19.4


@pytest.mark.parametrize(
    ("changes", "names"),
    [
        ({"v": 2}, "v must be 1"),
        ({"v": True}, "v must be 1"),
        ({"seq": -1}, "seq"),
        ({"seq": 1.5}, "seq"),
        ({"seq": True}, "seq"),
        ({"temperature_c": "19"}, "temperature_c"),
        ({"temperature_c": 120}, "temperature_c"),
        ({"humidity_pct": -3}, "humidity_pct"),
        ({"ts": "2026-11-23 18:00"}, "ts"),
        ({"ts": "2026-11-23T18:00:00"}, "ts"),  # no offset: ambiguous
        ({"boot_id": "abc"}, "boot_id"),
        ({"room": "Nursery/1"}, "room"),
        ({"room": ...}, "room"),
    ],
)
def test_off_contract_fields_are_named(changes: dict[str, object], names: str) -> None:
    with pytest.raises(ContractError, match=names):
        ReadingMessage.decode(_payload(**changes))


def test_fractional_seconds_and_offsets_are_accepted() -> None:
    reading = ReadingMessage.decode(_payload(ts="2026-11-23T19:00:00.123456789+01:00"))
    assert reading.ts == datetime(2026, 11, 23, 18, 0, 0, 123456, tzinfo=UTC)


def test_non_finite_numbers_are_refused() -> None:
    with pytest.raises(ContractError, match="temperature_c"):
        ReadingMessage.decode(_payload().replace(b"19.4", b"NaN"))


def test_oversized_payload_is_refused() -> None:
    with pytest.raises(ContractError, match="bytes"):
        ReadingMessage.decode(b" " * 5000 + _payload())


def test_topics() -> None:
    assert reading_topic("nursery", "kids") == "nursery/kids/reading"
    assert status_topic("home/nursery", "kids") == "home/nursery/kids/status"
    assert parse_topic("nursery", "nursery/kids/reading") == ("kids", "reading")
    assert "nursery/+/reading" in subscriptions("nursery")
    for bad in ("nursery/kids/reading/x", "other/kids/reading", "nursery/kids/blob"):
        with pytest.raises(ContractError):
            parse_topic("nursery", bad)


def test_fault_round_trips() -> None:
    fault = FaultMessage(
        "nursery", str(uuid.uuid4()), datetime(2026, 1, 1, tzinfo=UTC), "Checksum", 3
    )
    assert FaultMessage.decode(fault.encode()) == fault


def test_status_payloads() -> None:
    assert decode_status(b"online") == "online"
    assert decode_status(b"offline") == "offline"
    with pytest.raises(ContractError):
        decode_status(b"ONLINE")


def test_format_ts_is_utc_with_z() -> None:
    local = datetime(2026, 11, 23, 19, 0, tzinfo=UTC) + timedelta(milliseconds=5)
    assert format_ts(local) == "2026-11-23T19:00:00.005Z"


def test_contract_imports_without_hardware_or_web_libraries() -> None:
    """The firmware side imports it on a bare Pi: standard library only."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "for name in ('paho', 'fastapi', 'pydantic', 'adafruit_dht', 'board', 'gpiozero',"
        " 'sqlite3'):\n"
        "    sys.modules[name] = None\n"
        "import firmware.contract\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


@given(
    st.dictionaries(st.uuids().map(str), st.integers(-1, 2**40), max_size=5),
    st.integers(0, 10**6),
)
def test_health_and_stored_round_trip(marks: dict[str, int], count: int) -> None:
    health = HealthMessage(
        "nursery", str(uuid.uuid4()), datetime(2026, 1, 1, tzinfo=UTC), count, 3, None, 9, 1, marks
    )
    assert HealthMessage.decode(health.encode()) == health
    stored = StoredMessage("nursery", marks)
    assert StoredMessage.decode(stored.encode()) == stored


@given(st.binary(max_size=300))
def test_new_decoders_raise_only_contract_error(payload: bytes) -> None:
    for decode in (HealthMessage.decode, StoredMessage.decode, decode_command):
        with contextlib.suppress(ContractError):
            decode(payload)


def test_commands() -> None:
    assert decode_command(b"ack") == ("ack", 0)
    assert decode_command(b"snooze") == ("snooze", 30)
    assert decode_command(b"snooze 15") == ("snooze", 15)
    with pytest.raises(ContractError, match="command"):
        decode_command(b"snooze 45")
    assert parse_topic("nursery", "nursery/kids/command") == ("kids", "command")
