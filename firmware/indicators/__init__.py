"""What the Pi shows and hears in the room: one module per device, gpiozero devices passed in."""

from firmware.indicators.button import (
    DEFAULT_DEBOUNCE_S,
    DEFAULT_HOLD_S,
    EPISODE_ACTIONS,
    ButtonEvent,
    EpisodeAction,
    EpisodeButton,
    utc_now,
)
from firmware.indicators.buzzer import DEFAULT_CHIRP, DEFAULT_WARN_INTERVAL_S, Chirp, LocalWarning
from firmware.indicators.cold import (
    DEFAULT_COLD_C,
    DEFAULT_COLD_HOLD_S,
    LocalColdJudge,
)
from firmware.indicators.devices import IndicatorError, Indicators
from firmware.indicators.power import POWER_OFF_S, POWER_SETTLE_S, PowerSwitch
from firmware.indicators.signals import RoomSignals, hub_says_cold, room_signals
from firmware.indicators.status_light import (
    CONFIRM_FLASHES,
    FAST_BLINK,
    LIGHT_STATES,
    SLOW_BLINK,
    Blink,
    Flashes,
    LightState,
    StatusLight,
    confirm_flashes,
    status_for,
)

__all__ = [
    "CONFIRM_FLASHES",
    "DEFAULT_CHIRP",
    "DEFAULT_COLD_C",
    "DEFAULT_COLD_HOLD_S",
    "DEFAULT_DEBOUNCE_S",
    "DEFAULT_HOLD_S",
    "DEFAULT_WARN_INTERVAL_S",
    "EPISODE_ACTIONS",
    "FAST_BLINK",
    "LIGHT_STATES",
    "POWER_OFF_S",
    "POWER_SETTLE_S",
    "SLOW_BLINK",
    "Blink",
    "ButtonEvent",
    "Chirp",
    "EpisodeAction",
    "EpisodeButton",
    "Flashes",
    "IndicatorError",
    "Indicators",
    "LightState",
    "LocalColdJudge",
    "LocalWarning",
    "PowerSwitch",
    "RoomSignals",
    "StatusLight",
    "confirm_flashes",
    "hub_says_cold",
    "room_signals",
    "status_for",
    "utc_now",
]
