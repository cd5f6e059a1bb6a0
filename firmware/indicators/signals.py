"""What the Pi shows and sounds right now, decided from the sensor, the hub and the room."""

from __future__ import annotations

from dataclasses import dataclass

from contract.alert_state import AlertStateMessage
from firmware.indicators.status_light import LightState, status_for


def hub_says_cold(alert: AlertStateMessage | None) -> bool:
    """The hub's retained alert state has a cold incident open (answered or not: an
    acknowledged cold room is still cold)."""
    if alert is None:
        return False
    return alert.condition == "cold" or any(entry.condition == "cold" for entry in alert.open)


@dataclass(frozen=True, slots=True)
class RoomSignals:
    """What the Pi shows and sounds right now: the status light, the cold LED, and what
    the buzzer's warning needs (`LocalWarning` chirps, rate-limited, when `warn`)."""

    light: LightState
    cold_led: bool
    local_cold: bool
    hub_reachable: bool

    @property
    def warn(self) -> bool:
        return self.local_cold and not self.hub_reachable


def room_signals(
    *, sensor_fault: bool, hub_reachable: bool, hub_cold: bool, local_cold: bool
) -> RoomSignals:
    """The hub decides whether the room is cold while it can be reached; when it cannot
    (its last word may be hours old), the Pi's own judge does, and the buzzer warns."""
    return RoomSignals(
        light=status_for(sensor_fault=sensor_fault, hub_reachable=hub_reachable),
        cold_led=hub_cold if hub_reachable else local_cold,
        local_cold=local_cold,
        hub_reachable=hub_reachable,
    )
