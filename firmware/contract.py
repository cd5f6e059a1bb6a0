"""The MQTT wire contract between the firmware and the hub: topics, payloads, encode/decode.

Both sides import this module and nothing else defines a topic or a payload field, so
the contract documented in docs/mqtt.md lives in exactly one place. Standard library
only, so the firmware stays light and this imports on any machine.
"""

from __future__ import annotations

import json
import math
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

CONTRACT_VERSION: Final = 1

STATUS_ONLINE: Final = "online"
STATUS_OFFLINE: Final = "offline"
Status = Literal["online", "offline"]

READING_QOS: Final = 1
STATUS_QOS: Final = 1
FAULT_QOS: Final = 1
EPISODE_QOS: Final = 1

# What a DHT22/DHT11 can physically report; stricter plausibility belongs to the rules.
TEMPERATURE_RANGE_C: Final = (-40.0, 80.0)
HUMIDITY_RANGE_PCT: Final = (0.0, 100.0)

MAX_PAYLOAD_BYTES: Final = 4096
RESERVED_ROOMS: Final = frozenset({"hub"})  # <base>/hub/… is the hub's own availability
_NAME_RE: Final = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TS_RE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$")


class ContractError(ValueError):
    """A topic or payload does not follow the wire contract; the message says how."""


def check_name(kind: str, value: str) -> str:
    """Room names and base-topic levels: lowercase, digits, '-' and '_', no MQTT wildcards."""
    if kind == "room" and value in RESERVED_ROOMS:
        raise ContractError(f"room {value!r} is reserved for the hub's own topics")
    if not _NAME_RE.fullmatch(value):
        raise ContractError(
            f"{kind} {value!r} must be 1-63 characters of a-z, 0-9, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


def check_base_topic(base: str) -> str:
    """A base topic is one or more name levels separated by '/' (default 'nursery')."""
    for level in base.split("/"):
        check_name("base topic level", level)
    return base


# --- topics -------------------------------------------------------------------------


def reading_topic(base: str, room: str) -> str:
    return f"{base}/{room}/reading"


def status_topic(base: str, room: str) -> str:
    return f"{base}/{room}/status"


def fault_topic(base: str, room: str) -> str:
    return f"{base}/{room}/fault"


def alert_topic(base: str, room: str) -> str:
    """Retained by the hub: the room's alert state, for home automation."""
    return f"{base}/{room}/alert"


def health_topic(base: str, room: str) -> str:
    """Retained by the firmware: its outbox and sensor counters."""
    return f"{base}/{room}/health"


def stored_topic(base: str, room: str) -> str:
    """Retained by the hub: per boot, the highest seq up to which it has stored every reading."""
    return f"{base}/{room}/stored"


def command_topic(base: str, room: str) -> str:
    """Commands to the hub for a room's alert: `ack`, `snooze` (30 min), `snooze 15|30|60`."""
    return f"{base}/{room}/command"


def episode_topic(base: str, room: str) -> str:
    """The episode button on the Pi: `start`, `stop` or `now` events (QoS 1, not retained)."""
    return f"{base}/{room}/episode"


def episode_stored_topic(base: str, room: str) -> str:
    """The hub's receipt for one episode event, so the firmware can forget it (QoS 1)."""
    return f"{base}/{room}/episode/stored"


def subscriptions(base: str) -> list[str]:
    """The topic filters the hub subscribes to."""
    return [f"{base}/+/{kind}" for kind in _KINDS]


TopicKind = Literal["reading", "status", "fault", "health", "command", "episode"]
_KINDS: Final[tuple[TopicKind, ...]] = (
    "reading",
    "status",
    "fault",
    "health",
    "command",
    "episode",
)


def parse_topic(base: str, topic: str) -> tuple[str, TopicKind]:
    """Split `<base>/<room>/<kind>` into (room, kind), refusing anything else."""
    prefix = base + "/"
    if not topic.startswith(prefix):
        raise ContractError(f"topic {topic!r} is not under {base!r}")
    parts = topic[len(prefix) :].split("/")
    if len(parts) != 2:
        raise ContractError(f"topic {topic!r} is not {base}/<room>/<kind>")
    room, kind = parts
    check_name("room", room)
    for known in _KINDS:
        if kind == known:
            return room, known
    raise ContractError(f"topic {topic!r} has unknown kind {kind!r}")


# --- time ---------------------------------------------------------------------------


def format_ts(ts: datetime) -> str:
    """UTC ISO 8601 with a 'Z', milliseconds kept when present."""
    if ts.tzinfo is None:
        raise ContractError("timestamps must be timezone-aware")
    ts = ts.astimezone(UTC)
    if ts.microsecond:
        return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_ts(value: object, field: str = "ts") -> datetime:
    """Parse an ISO 8601 timestamp that carries its offset ('Z' or ±hh:mm) into UTC."""
    if not isinstance(value, str) or not _TS_RE.fullmatch(value):
        raise ContractError(f"{field} must be an ISO 8601 UTC time like 2026-11-23T18:00:00Z")
    text = value[:-1] + "+00:00" if value.endswith("Z") else value
    # Python's parser takes at most 6 fractional digits.
    match = re.match(r"^(.*\.\d{6})\d+(.*)$", text)
    if match:
        text = match.group(1) + match.group(2)
    try:
        return datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, OverflowError) as exc:  # Overflow: year 1 or 9999 off UTC
        raise ContractError(f"{field} is not a valid time: {exc}") from exc


# --- payloads -----------------------------------------------------------------------


def _obj(payload: bytes) -> dict[str, Any]:
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise ContractError(f"payload is {len(payload)} bytes, more than {MAX_PAYLOAD_BYTES}")
    try:
        data = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ContractError(f"payload is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ContractError("payload must be a JSON object")
    version = data.get("v")
    if version != CONTRACT_VERSION or isinstance(version, bool):
        raise ContractError(f"v must be {CONTRACT_VERSION}, got {version!r}")
    return data


def _str(data: dict[str, Any], field: str) -> str:
    value = data.get(field)
    if not isinstance(value, str):
        raise ContractError(f"{field} must be a string")
    return value


def _int(data: dict[str, Any], field: str, minimum: int = 0) -> int:
    value = data.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value < 2**63:
        raise ContractError(f"{field} must be an integer from {minimum}")
    return value


def _number(data: dict[str, Any], field: str, bounds: tuple[float, float]) -> float:
    value = data.get(field)
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise ContractError(f"{field} must be a number")
    number = float(value)
    if not math.isfinite(number) or not bounds[0] <= number <= bounds[1]:
        raise ContractError(f"{field} must be between {bounds[0]:g} and {bounds[1]:g}")
    return number


def _optional_number(data: dict[str, Any], field: str, bounds: tuple[float, float]) -> float | None:
    """An optional field: absent or null is None, anything else must be a number in bounds."""
    return None if data.get(field) is None else _number(data, field, bounds)


def _optional_bool(data: dict[str, Any], field: str) -> bool | None:
    value = data.get(field)
    if value is not None and not isinstance(value, bool):
        raise ContractError(f"{field} must be true, false or null")
    return value


def _optional_counts(data: dict[str, Any], field: str) -> dict[str, int] | None:
    """An optional object of at most 16 named counts (names as room names: a-z, 0-9, _ and -)."""
    counts = data.get(field)
    if counts is None:
        return None
    if not isinstance(counts, dict) or len(counts) > 16:
        raise ContractError(f"{field} must be an object of at most 16 counts")
    parsed: dict[str, int] = {}
    for name, count in counts.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ContractError(f"{field} has a bad name {str(name)[:40]!r}")
        parsed[name] = _int({field: count}, field)
    return parsed


def _boot_id(data: dict[str, Any]) -> str:
    value = _str(data, "boot_id")
    try:
        parsed = uuid.UUID(value)
    except ValueError as exc:
        raise ContractError("boot_id must be a UUID") from exc
    return str(parsed)


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


AlertLevel = Literal["ok", "warning", "alert", "acknowledged", "snoozed"]
ALERT_LEVELS: Final = ("ok", "warning", "alert", "acknowledged", "snoozed")


@dataclass(frozen=True, slots=True)
class AlertEntry:
    """One open incident as published in an alert-state message."""

    id: int
    condition: str
    severity: str
    state: str
    since: datetime
    acknowledged_by: str | None = None
    snoozed_until: datetime | None = None  # added later: absent from older hubs' payloads

    def as_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "condition": self.condition,
            "severity": self.severity,
            "state": self.state,
            "since": format_ts(self.since),
            "acknowledged_by": self.acknowledged_by,
            "snoozed_until": format_ts(self.snoozed_until) if self.snoozed_until else None,
        }


@dataclass(frozen=True, slots=True)
class AlertStateMessage:
    """The hub's summary of a room's alerts on `<base>/<room>/alert` (QoS 1, retained).

    `state`, `since`, `condition` and `acknowledged_by` are the most urgent open incident's:
    unanswered before answered, then the more severe, then the newest. So `alert` (an
    unanswered cold, hot, no data, offline) or `warning` (an unanswered fast drop, suspect
    sensor, advisory) while anything waits for an answer, `snoozed`/`acknowledged` once all
    is answered, `ok` when nothing is open. `open` lists every open incident in that order.
    Carries no health data: room conditions only.
    """

    room: str
    state: AlertLevel
    since: datetime | None
    condition: str | None
    acknowledged_by: str | None
    open: tuple[AlertEntry, ...]
    temperature_c: float | None = None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "state": self.state,
                "since": format_ts(self.since) if self.since else None,
                "condition": self.condition,
                "acknowledged_by": self.acknowledged_by,
                "temperature_c": self.temperature_c,
                "open": [entry.as_json() for entry in self.open],
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> AlertStateMessage:
        data = _obj(payload)
        state = data.get("state")
        if state not in ALERT_LEVELS:
            raise ContractError(f"state must be one of {', '.join(ALERT_LEVELS)}")
        entries = data.get("open")
        if not isinstance(entries, list):
            raise ContractError("open must be a list")
        parsed: list[AlertEntry] = []
        for entry in entries:
            if not isinstance(entry, dict):
                raise ContractError("open entries must be objects")
            by, until = entry.get("acknowledged_by"), entry.get("snoozed_until")
            parsed.append(
                AlertEntry(
                    id=_int(entry, "id"),
                    condition=_str(entry, "condition"),
                    severity=_str(entry, "severity"),
                    state=_str(entry, "state"),
                    since=parse_ts(entry.get("since"), "open.since"),
                    acknowledged_by=by if isinstance(by, str) else None,
                    snoozed_until=None if until is None else parse_ts(until, "open.snoozed_until"),
                )
            )
        since = data.get("since")
        condition = data.get("condition")
        by = data.get("acknowledged_by")
        temperature = data.get("temperature_c")
        return cls(
            room=check_name("room", _str(data, "room")),
            state=state,
            since=None if since is None else parse_ts(since, "since"),
            condition=condition if isinstance(condition, str) else None,
            acknowledged_by=by if isinstance(by, str) else None,
            open=tuple(parsed),
            temperature_c=None
            if temperature is None
            else _number(data, "temperature_c", TEMPERATURE_RANGE_C),
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


EpisodeAction = Literal["start", "stop", "now"]
EPISODE_ACTIONS: Final[tuple[EpisodeAction, ...]] = ("start", "stop", "now")


def _event_id(data: dict[str, Any]) -> str:
    value = _str(data, "event_id")
    try:
        return str(uuid.UUID(value))
    except ValueError as exc:
        raise ContractError("event_id must be a UUID") from exc


@dataclass(frozen=True, slots=True)
class EpisodeEventMessage:
    """A press of the Pi's episode button, on `<base>/<room>/episode` (QoS 1, not retained).

    `start` begins a timed episode, `stop` ends the room's running one, `now` logs an
    untimed one. Only the action and its time cross MQTT; what the parent writes about an
    episode stays in the hub. The firmware re-sends an event until the hub's receipt names
    its `event_id`, and the hub stores each event id once.
    """

    room: str
    event_id: str
    action: EpisodeAction
    ts: datetime

    def __post_init__(self) -> None:
        check_name("room", self.room)
        object.__setattr__(self, "event_id", _event_id({"event_id": self.event_id}))
        if self.action not in EPISODE_ACTIONS:
            raise ContractError(f"action must be one of {', '.join(EPISODE_ACTIONS)}")
        if self.ts.tzinfo is None:
            raise ContractError("ts must be timezone-aware")

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "event_id": self.event_id,
                "action": self.action,
                "ts": format_ts(self.ts),
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> EpisodeEventMessage:
        data = _obj(payload)
        action = data.get("action")
        if action not in EPISODE_ACTIONS:
            raise ContractError(f"action must be one of {', '.join(EPISODE_ACTIONS)}")
        return cls(
            room=_str(data, "room"),
            event_id=_str(data, "event_id"),
            action=action,
            ts=parse_ts(data.get("ts")),
        )


@dataclass(frozen=True, slots=True)
class EpisodeStoredMessage:
    """The hub's receipt on `<base>/<room>/episode/stored` (QoS 1, not retained): the
    event with this id is stored (or was already), so the firmware drops it."""

    room: str
    event_id: str

    def encode(self) -> bytes:
        return json.dumps(
            {"v": CONTRACT_VERSION, "room": self.room, "event_id": self.event_id},
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> EpisodeStoredMessage:
        data = _obj(payload)
        return cls(room=check_name("room", _str(data, "room")), event_id=_event_id(data))


def new_event_id() -> str:
    """A fresh id for one episode-button event."""
    return str(uuid.uuid4())


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
