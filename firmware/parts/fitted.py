"""The devices the settings name, opened; a part whose pin fails is left out, logged."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Final

from firmware.config import FirmwareSettings
from firmware.indicators import ButtonEvent, IndicatorError, Indicators

log = logging.getLogger("nursery.firmware")

_PARTS: Final = {
    "led_pin": "status LED",
    "button_pin": "episode button",
    "buzzer_pin": "buzzer",
    "power_pin": "sensor power switch",
    "cold_led_pin": "cold LED",
}


def open_indicators(
    firmware: FirmwareSettings,
    on_episode: Callable[[ButtonEvent], None],
    pin_factory: Any = None,
) -> Indicators | None:
    """The LEDs, button, buzzer and power switch the settings name; a part whose pin cannot
    be opened is left out (logged, naming its setting), because the readings matter more.
    None when this machine has no GPIO at all."""
    pins: dict[str, int | None] = {key: getattr(firmware, key) for key in _PARTS}
    while True:
        try:
            return Indicators(
                led_pin=pins["led_pin"],
                button_pin=pins["button_pin"],
                buzzer_pin=pins["buzzer_pin"],
                power_pin=pins["power_pin"],
                cold_led_pin=pins["cold_led_pin"],
                on_episode=on_episode if pins["button_pin"] is not None else None,
                warn_interval_s=firmware.buzzer_every_s,
                pin_factory=pin_factory,
            )
        except IndicatorError as exc:
            fitted = [_PARTS[key] for key, pin in pins.items() if pin is not None]
            if exc.no_gpio or exc.setting not in pins:
                # Expected off a Pi with the simulated sensor (the demo, the tests).
                level = logging.INFO if firmware.sensor == "simulated" else logging.ERROR
                log.log(level, "no GPIO for the %s: %s", ", ".join(fitted), exc)
                return None
            log.error(
                "firmware.%s: %s; running without the %s", exc.setting, exc, _PARTS[exc.setting]
            )
            pins[exc.setting] = None
            if exc.setting == "led_pin" and pins["cold_led_pin"] is not None:
                log.error("firmware.cold_led_pin: the cold LED needs the status LED; left out")
                pins["cold_led_pin"] = None
