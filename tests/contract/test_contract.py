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

from contract.fields import format_ts
from contract.messages import (
    FaultMessage,
    HealthMessage,
    ReadingMessage,
    StoredMessage,
    decode_command,
    decode_status,
)
from contract.topics import ContractError, parse_topic, reading_topic, status_topic, subscriptions

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
    live=st.sampled_from([None, True, False]),
)


@given(readings)
def test_reading_round_trips(reading: ReadingMessage) -> None:
    assert ReadingMessage.decode(reading.encode()) == reading


@pytest.mark.parametrize("live", [True, False])
def test_the_live_word_goes_on_the_wire_when_known(live: bool) -> None:
    reading = ReadingMessage.decode(_payload(live=live))
    assert reading.live is live
    assert json.loads(reading.encode())["live"] is live


@pytest.mark.parametrize("live", [..., None])
def test_a_reading_without_the_live_word_is_accepted_as_before(live: object) -> None:
    """Firmware older than the `live` field leaves it out (or null): still a reading,
    the hub judges for itself, and it encodes just as the old firmware's did."""
    payload = _payload(live=live)
    reading = ReadingMessage.decode(payload)
    assert reading.live is None
    assert reading.seq == 42
    assert "live" not in json.loads(reading.encode())


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
            "live": json_values,
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
        ({"live": "yes"}, "live must be true, false or null"),
        ({"live": 1}, "live must be true, false or null"),
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
        "import contract.alert_state, contract.episode_events, contract.messages, contract.topics\n"
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


# --- the firmware's sensor health, added later to the health message ----------------

ratios = st.none() | st.floats(0, 1, allow_nan=False)
seconds = st.none() | st.floats(0, 1e6, allow_nan=False)


@given(
    ratio=ratios,
    attempt_ratio=ratios,
    window=seconds,
    unchanged=seconds,
    kinds=st.none() | st.dictionaries(rooms, st.integers(0, 10**6), max_size=5),
    stuck=st.none() | st.booleans(),
    cycles=st.none() | st.integers(0, 10**6),
    cycled_at=st.none() | times,
)
def test_health_with_sensor_fields_round_trips(
    ratio: float | None,
    attempt_ratio: float | None,
    window: float | None,
    unchanged: float | None,
    kinds: dict[str, int] | None,
    stuck: bool | None,
    cycles: int | None,
    cycled_at: datetime | None,
) -> None:
    health = HealthMessage(
        "nursery",
        str(uuid.uuid4()),
        datetime(2026, 1, 1, tzinfo=UTC),
        1,
        0,
        None,
        9,
        1,
        {},
        sensor_window_s=window,
        error_ratio=ratio,
        attempt_error_ratio=attempt_ratio,
        errors_by_kind=kinds,
        stuck=stuck,
        unchanged_s=unchanged,
        power_cycles=cycles,
        last_power_cycle=cycled_at,
    )
    assert HealthMessage.decode(health.encode()) == health


def test_health_from_older_firmware_still_decodes() -> None:
    """A hub must take health messages that predate the sensor fields."""
    old = (
        b'{"v":1,"room":"nursery","boot_id":"0b7f8a8e-4c1e-4a8e-9d6a-3f1c2b5d7e90",'
        b'"ts":"2026-11-23T18:00:00Z","outbox_pending":3,"outbox_dropped":0,'
        b'"outbox_error":null,"reads":1204,"read_errors":7,"floor":{}}'
    )
    health = HealthMessage.decode(old)
    assert health.reads == 1204
    assert health.error_ratio is None and health.errors_by_kind is None
    assert health.power_cycles is None and health.last_power_cycle is None
    # Stored and read back by the hub (it keeps the encoded message), nothing is added.
    assert HealthMessage.decode(health.encode()) == health


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("error_ratio", 1.5, "error_ratio must be between 0 and 1"),
        ("error_ratio", "0.1", "error_ratio must be a number"),
        ("stuck", "yes", "stuck must be true, false or null"),
        ("errors_by_kind", {"Checksum!": 1}, "errors_by_kind has a bad name"),
        ("errors_by_kind", {"checksum": -1}, "errors_by_kind must be an integer"),
        ("errors_by_kind", [1, 2], "errors_by_kind must be an object"),
        ("power_cycles", -1, "power_cycles must be an integer"),
        ("last_power_cycle", "yesterday", "ISO 8601"),
    ],
)
def test_a_bad_sensor_field_names_itself(field: str, value: object, message: str) -> None:
    payload = json.loads(
        HealthMessage(
            "nursery", str(uuid.uuid4()), datetime(2026, 1, 1, tzinfo=UTC), 0, 0, None, 0, 0, {}
        ).encode()
    )
    payload[field] = value
    with pytest.raises(ContractError, match=message):
        HealthMessage.decode(json.dumps(payload).encode())
