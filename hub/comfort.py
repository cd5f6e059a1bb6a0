"""The comfort band and the room state the hub derives for home automation; pure."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Literal

from contract.fields import format_ts, parse_ts
from contract.topics import CONTRACT_VERSION, MAX_PAYLOAD_BYTES, ContractError, check_name
from hub.conditions import Condition

if TYPE_CHECKING:
    from mqttlink.rules_settings import RulesSettings

Comfort = Literal["cold", "cool", "comfortable", "warm", "hot", "unknown"]
COMFORT_BANDS: Final[tuple[Comfort, ...]] = ("cold", "cool", "comfortable", "warm", "hot")

# Why the monitor cannot be trusted right now, most serious first.
ProblemReason = Literal["offline", "no_data", "sensor_fault", "sensor_suspect"]
PROBLEM_REASONS: Final[tuple[ProblemReason, ...]] = (
    "offline",
    "no_data",
    "sensor_fault",
    "sensor_suspect",
)
# The longest a published last_heard lags the newest reading while nothing else changes.
LAST_HEARD_EVERY: Final = timedelta(minutes=5)
# With these the last temperature is no longer the room now.
_SILENT: Final = frozenset({"offline", "no_data"})


@dataclass(frozen=True, slots=True)
class ComfortBand:
    """Where a temperature sits against the rules' thresholds, with the same comparisons as
    the rules (cold below, warm above), but on the temperature alone: no hold, no hysteresis.
    The alert state is the held verdict; the band is the room at a glance."""

    cold_below_c: float
    cool_below_c: float
    warm_above_c: float
    hot_above_c: float

    @classmethod
    def from_rules(cls, rules: RulesSettings) -> ComfortBand:
        return cls(
            cold_below_c=rules.effective("cold_below_c"),
            cool_below_c=rules.effective("cool_below_c"),
            warm_above_c=rules.effective("warm_above_c"),
            hot_above_c=rules.hot_above_c,
        )

    def classify(self, temperature_c: float | None) -> Comfort:
        if temperature_c is None or not math.isfinite(temperature_c):
            return "unknown"
        if temperature_c < self.cold_below_c:
            return "cold"
        if temperature_c > self.hot_above_c:
            return "hot"
        if temperature_c > self.warm_above_c:
            return "warm"
        if temperature_c < self.cool_below_c:
            return "cool"
        return "comfortable"


@dataclass(frozen=True, slots=True)
class RoomStateMessage:
    """The hub's derived state of a room on `<base>/<room>/state` (QoS 1, retained)."""

    room: str
    comfort: Comfort
    too_cold: bool
    problem_reason: ProblemReason | None
    last_heard: datetime | None
    outbox_pending: int | None
    temperature_c: float | None
    # Added later (absent from older hubs' payloads): the readings the firmware holds that
    # the hub has not received yet; see readings_waiting().
    readings_waiting: int | None = None

    @property
    def problem(self) -> bool:
        return self.problem_reason is not None

    def encode(self) -> bytes:
        return json.dumps(
            {
                "v": CONTRACT_VERSION,
                "room": self.room,
                "comfort": self.comfort,
                "too_cold": self.too_cold,
                "problem": self.problem,
                "problem_reason": self.problem_reason,
                "last_heard": format_ts(self.last_heard) if self.last_heard else None,
                "outbox_pending": self.outbox_pending,
                "temperature_c": self.temperature_c,
                "readings_waiting": self.readings_waiting,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def decode(cls, payload: bytes) -> RoomStateMessage:
        """For automations written in Python and for the tests; raises ContractError only."""
        if len(payload) > MAX_PAYLOAD_BYTES:
            raise ContractError(f"payload is more than {MAX_PAYLOAD_BYTES} bytes")
        try:
            data: Any = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise ContractError(f"payload is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("v") != CONTRACT_VERSION:
            raise ContractError(f"payload must be a JSON object with v {CONTRACT_VERSION}")
        room, comfort, reason = data.get("room"), data.get("comfort"), data.get("problem_reason")
        if not isinstance(room, str):
            raise ContractError("room must be a string")
        if comfort not in (*COMFORT_BANDS, "unknown"):
            raise ContractError(f"comfort must be one of {', '.join(COMFORT_BANDS)} or unknown")
        if reason is not None and reason not in PROBLEM_REASONS:
            raise ContractError(f"problem_reason must be one of {', '.join(PROBLEM_REASONS)}")
        too_cold, problem = data.get("too_cold"), data.get("problem")
        if not isinstance(too_cold, bool) or problem is not (reason is not None):
            raise ContractError("too_cold and problem must be booleans, problem with a reason")
        pending, temperature = data.get("outbox_pending"), data.get("temperature_c")
        waiting = data.get("readings_waiting")
        for name, count in (("outbox_pending", pending), ("readings_waiting", waiting)):
            if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
                raise ContractError(f"{name} must be an integer or null")
        if temperature is not None and (
            isinstance(temperature, bool) or not isinstance(temperature, int | float)
        ):
            raise ContractError("temperature_c must be a number or null")
        heard = data.get("last_heard")
        return cls(
            room=check_name("room", room),
            comfort=comfort,
            too_cold=too_cold,
            problem_reason=reason,
            last_heard=None if heard is None else parse_ts(heard, "last_heard"),
            outbox_pending=pending,
            temperature_c=None if temperature is None else float(temperature),
            readings_waiting=waiting,
        )


def derive_room_state(
    room: str,
    band: ComfortBand,
    *,
    temperature_c: float | None,
    conditions: Iterable[Condition],
    sensor_fault: bool = False,
    last_heard: datetime | None = None,
    outbox_pending: int | None = None,
    readings_waiting: int | None = None,
) -> RoomStateMessage:
    """The room state from what the monitor knows.

    `temperature_c` is the rules' filtered temperature; `conditions` every condition active or
    still open for the room (an alert never ends by silence, so neither does too_cold);
    `sensor_fault` whether the newest thing the firmware said was a failed read. While the
    room is offline or silent its last temperature is not the room now: temperature_c is
    null and the band unknown, never a stale "comfortable".
    """
    active = set(conditions)
    reason: ProblemReason | None = None
    if Condition.OFFLINE in active:
        reason = "offline"
    elif Condition.NO_DATA in active:
        reason = "no_data"
    elif sensor_fault:
        reason = "sensor_fault"
    elif Condition.SENSOR_SUSPECT in active:
        reason = "sensor_suspect"
    fresh = reason not in _SILENT and temperature_c is not None and math.isfinite(temperature_c)
    temperature = round(temperature_c, 2) if fresh and temperature_c is not None else None
    return RoomStateMessage(
        room=check_name("room", room),
        comfort=band.classify(temperature),
        too_cold=Condition.COLD in active,
        problem_reason=reason,
        last_heard=last_heard,
        outbox_pending=outbox_pending,
        temperature_c=temperature,
        readings_waiting=readings_waiting,
    )


def readings_waiting(
    outbox_pending: int, floor: Mapping[str, int], marks: Mapping[str, int]
) -> int:
    """How many readings the firmware holds that the hub has not received yet.

    The firmware's `outbox_pending` counts every reading it holds until the hub's receipt
    confirms it, so the one just sent (confirmed a second or two later) makes a health
    message say 1 when nothing waits, and says so for a whole health period. Per boot the
    firmware holds seq `floor` upwards; the hub has every reading up to its contiguous
    `mark` (what its receipt will say), so those are in flight, not waiting. As the hub
    catches up after an outage the count goes down with each stored reading, between two
    health messages. Never below 0 (readings taken after the health message also raise
    the marks).
    """
    received = sum(max(0, marks.get(boot, low - 1) - low + 1) for boot, low in floor.items())
    return max(0, outbox_pending - received)


def paced(
    sent: RoomStateMessage | None, state: RoomStateMessage, every: timedelta = LAST_HEARD_EVERY
) -> RoomStateMessage:
    """`state` as it should go out after `sent` (the last one published): with the
    last_heard already sent while that is less than `every` old and the problem unchanged.

    last_heard moves with every reading; published as is it would be a new Home Assistant
    state (a recorder row, a logbook line) every 10 s, about 8,600 a day. Zigbee2MQTT keeps
    its `last_seen` off by default for the same reason. Freshness is what availability and
    `expire_after` are for; last_heard says when a room went quiet, and that moment (a new
    problem) always goes out exactly.
    """
    if (
        sent is None
        or sent.last_heard is None
        or state.last_heard is None
        or sent.problem_reason != state.problem_reason
        or not sent.last_heard <= state.last_heard < sent.last_heard + every
    ):
        return state
    return replace(state, last_heard=sent.last_heard)
