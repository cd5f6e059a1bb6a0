"""The wire contract's payloads from the Pi and the hub's receipts: encode and decode."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from contract.fields import (
    _boot_id,
    _int,
    _number,
    _obj,
    _optional_bool,
    _optional_counts,
    _optional_number,
    _str,
    format_ts,
    parse_ts,
)
from contract.topics import (
    CONTRACT_VERSION,
    HUMIDITY_RANGE_PCT,
    TEMPERATURE_RANGE_C,
    ContractError,
    Status,
    check_name,
)


@dataclass(frozen=True, slots=True)
class ReadingMessage:
    """One measurement, as published on `<base>/<room>/reading` (QoS 1, not retained).

    (room, boot_id, seq) identifies it: a redelivery carries the same three and is
    stored once. `seq` grows by one per reading within a boot. `live` (optional, added
    later within v1) says whether the firmware published it the moment it took it (true)
    or sends it again from its outbox (false), so the hub need not guess from the delay,
    which a Pi's unset clock makes meaningless; None (absent) leaves the guess to the hub.
    """

    room: str
    boot_id: str
    seq: int
    ts: datetime
    temperature_c: float
    humidity_pct: float
    live: bool | None = None

    def __post_init__(self) -> None:
        """The one place a reading is checked, whether built here or decoded: the boot id
        is put in canonical form and numbers become floats."""
        check_name("room", self.room)
        data = {
            "boot_id": self.boot_id,
            "seq": self.seq,
            "temperature_c": self.temperature_c,
            "humidity_pct": self.humidity_pct,
        }
        object.__setattr__(self, "boot_id", _boot_id(data))
        object.__setattr__(self, "seq", _int(data, "seq"))
        object.__setattr__(
            self, "temperature_c", _number(data, "temperature_c", TEMPERATURE_RANGE_C)
        )
        object.__setattr__(self, "humidity_pct", _number(data, "humidity_pct", HUMIDITY_RANGE_PCT))
        if self.ts.tzinfo is None:
            raise ContractError("ts must be timezone-aware")
        object.__setattr__(self, "live", _optional_bool({"live": self.live}, "live"))

    def encode(self) -> bytes:
        data: dict[str, object] = {
            "v": CONTRACT_VERSION,
            "room": self.room,
            "boot_id": self.boot_id,
            "seq": self.seq,
            "ts": format_ts(self.ts),
            "temperature_c": round(self.temperature_c, 2),
            "humidity_pct": round(self.humidity_pct, 2),
        }
        if self.live is not None:  # left out when unknown, as older firmware does
            data["live"] = self.live
        return json.dumps(data, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, payload: bytes) -> ReadingMessage:
        """Parse a payload; anything off-contract raises ContractError and nothing else."""
        data = _obj(payload)
        return cls(  # __post_init__ checks every field, once
            room=_str(data, "room"),
            boot_id=data.get("boot_id"),  # type: ignore[arg-type]  # checked in __post_init__
            seq=data.get("seq"),  # type: ignore[arg-type]  # checked in __post_init__
            ts=parse_ts(data.get("ts")),
            temperature_c=data.get("temperature_c"),  # type: ignore[arg-type]  # checked in __post_init__
            humidity_pct=data.get("humidity_pct"),  # type: ignore[arg-type]  # checked in __post_init__
            live=data.get("live"),  # checked in __post_init__
        )


@dataclass(frozen=True, slots=True)
class FaultMessage:
    """A sensor read that failed after its retries, on `<base>/<room>/fault` (QoS 1).

    An extension of the contract: it lets the hub show "sensor fault" instead of
    silence. `consecutive_failures` counts failed reading slots since the last good one.
    """

    room: str
    boot_id: str
    ts: datetime
    error: str
    consecutive_failures: int

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "boot_id": self.boot_id,
                "ts": format_ts(self.ts),
                "error": self.error[:200],
                "consecutive_failures": self.consecutive_failures,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> FaultMessage:
        data = _obj(payload)
        return cls(
            room=check_name("room", _str(data, "room")),
            boot_id=_boot_id(data),
            ts=parse_ts(data.get("ts")),
            error=_str(data, "error")[:200],
            consecutive_failures=_int(data, "consecutive_failures", minimum=1),
        )


def _boot_marks(data: dict[str, Any], field: str) -> dict[str, int]:
    marks = data.get(field)
    if not isinstance(marks, dict) or len(marks) > 64:
        raise ContractError(f"{field} must be an object of at most 64 boot ids")
    parsed: dict[str, int] = {}
    for boot, seq in marks.items():
        parsed[_boot_id({"boot_id": boot})] = _int({"seq": seq}, "seq", minimum=-1)
    return parsed


@dataclass(frozen=True, slots=True)
class HealthMessage:
    """The firmware's own counters on `<base>/<room>/health` (QoS 1, retained).

    `floor` maps each boot id the outbox still holds readings of to the lowest seq it will
    ever (re)send for that boot: everything below was confirmed by the hub or dropped by
    the cap, so the hub may count past a hole the cap left.

    The sensor-health fields after `floor` came later: each is optional (None, and absent
    from payloads of older firmware), so a hub accepts messages with or without them.
    Ratios and counts cover the last `sensor_window_s` seconds; `power_cycles` counts this
    boot's power cycles of the sensor (None when no power pin is fitted).
    """

    room: str
    boot_id: str
    ts: datetime
    outbox_pending: int
    outbox_dropped: int
    outbox_error: str | None
    reads: int
    read_errors: int
    floor: dict[str, int]
    sensor_window_s: float | None = None
    error_ratio: float | None = None
    attempt_error_ratio: float | None = None
    errors_by_kind: dict[str, int] | None = None
    stuck: bool | None = None
    unchanged_s: float | None = None
    power_cycles: int | None = None
    last_power_cycle: datetime | None = None
    sensor: str | None = None  # firmware.sensor (`dht22`, `dht11`…): the hub's accuracy

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "boot_id": self.boot_id,
                "ts": format_ts(self.ts),
                "outbox_pending": self.outbox_pending,
                "outbox_dropped": self.outbox_dropped,
                "outbox_error": self.outbox_error[:200] if self.outbox_error else None,
                "reads": self.reads,
                "read_errors": self.read_errors,
                "floor": self.floor,
                "sensor_window_s": self.sensor_window_s,
                "error_ratio": self.error_ratio,
                "attempt_error_ratio": self.attempt_error_ratio,
                "errors_by_kind": self.errors_by_kind,
                "stuck": self.stuck,
                "unchanged_s": self.unchanged_s,
                "power_cycles": self.power_cycles,
                "last_power_cycle": format_ts(self.last_power_cycle)
                if self.last_power_cycle
                else None,
                "sensor": self.sensor,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> HealthMessage:
        data = _obj(payload)
        error = data.get("outbox_error")
        if error is not None and not isinstance(error, str):
            raise ContractError("outbox_error must be a string or null")
        return cls(
            room=check_name("room", _str(data, "room")),
            boot_id=_boot_id(data),
            ts=parse_ts(data.get("ts")),
            outbox_pending=_int(data, "outbox_pending"),
            outbox_dropped=_int(data, "outbox_dropped"),
            outbox_error=error[:200] if error else None,
            reads=_int(data, "reads"),
            read_errors=_int(data, "read_errors"),
            floor=_boot_marks(data, "floor"),
            sensor_window_s=_optional_number(data, "sensor_window_s", (0.0, 1e9)),
            error_ratio=_optional_number(data, "error_ratio", (0.0, 1.0)),
            attempt_error_ratio=_optional_number(data, "attempt_error_ratio", (0.0, 1.0)),
            errors_by_kind=_optional_counts(data, "errors_by_kind"),
            stuck=_optional_bool(data, "stuck"),
            unchanged_s=_optional_number(data, "unchanged_s", (0.0, 1e9)),
            power_cycles=None if data.get("power_cycles") is None else _int(data, "power_cycles"),
            last_power_cycle=None
            if data.get("last_power_cycle") is None
            else parse_ts(data.get("last_power_cycle"), "last_power_cycle"),
            sensor=None
            if data.get("sensor") is None
            else check_name("sensor", _str(data, "sensor")),
        )


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """The hub's receipt on `<base>/<room>/stored` (QoS 1, retained): for each recent boot,
    the highest seq such that every reading from the boot's floor up to it is stored.

    The firmware prunes its outbox up to these marks and re-sends what lies above them.
    """

    room: str
    boots: dict[str, int]

    def encode(self) -> bytes:
        return json.dumps(
            {"v": CONTRACT_VERSION, "room": self.room, "boots": self.boots},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> StoredMessage:
        data = _obj(payload)
        return cls(room=check_name("room", _str(data, "room")), boots=_boot_marks(data, "boots"))


Command = tuple[Literal["ack", "snooze"], int]


def decode_command(payload: bytes) -> Command:
    """`ack`, `snooze` (30 min) or `snooze 15`, `snooze 30`, `snooze 60`."""
    text = payload.decode("ascii", errors="replace").strip().lower()
    if text == "ack":
        return "ack", 0
    if text == "snooze":
        return "snooze", 30
    if text in ("snooze 15", "snooze 30", "snooze 60"):
        return "snooze", int(text.split()[1])
    raise ContractError(f"command must be ack, snooze or snooze 15|30|60, got {payload[:40]!r}")


def decode_status(payload: bytes) -> Status:
    """The retained status payload: exactly `online` or `offline`."""
    if payload == b"online":
        return "online"
    if payload == b"offline":
        return "offline"
    raise ContractError(f"status must be 'online' or 'offline', got {payload[:40]!r}")


def new_boot_id() -> str:
    """A fresh boot id: one per firmware process start."""
    return str(uuid.uuid4())
