"""Every device fitted to this Pi, opened from pin numbers; gpiozero is imported only here."""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from contract.errors import NurseryError
from firmware.indicators.button import (
    DEFAULT_DEBOUNCE_S,
    DEFAULT_HOLD_S,
    ButtonEvent,
    EpisodeButton,
    utc_now,
)
from firmware.indicators.buzzer import DEFAULT_WARN_INTERVAL_S, LocalWarning
from firmware.indicators.power import PowerSwitch
from firmware.indicators.signals import RoomSignals
from firmware.indicators.status_light import LightState, StatusLight

if TYPE_CHECKING:
    from types import TracebackType

log = logging.getLogger("nursery.firmware")


class IndicatorError(NurseryError, RuntimeError):
    """A pin could not be opened (wrong number, already in use, no GPIO on this machine).

    `setting` names the firmware setting of the pin that failed (`led_pin`…), so the runner
    can carry on without that part; `no_gpio` says no pin can be opened on this machine
    at all (gpiozero found no pin library), so trying the other parts is pointless.
    """

    def __init__(self, message: str, *, setting: str | None = None, no_gpio: bool = False):
        super().__init__(message)
        self.setting = setting
        self.no_gpio = no_gpio


class Indicators:
    """The devices fitted to this Pi, built from BCM pin numbers (None = not fitted).

    Methods do nothing for what is not fitted, so the runner never checks. If opening a
    pin fails, the devices already opened are closed before `IndicatorError` is raised.
    """

    def __init__(
        self,
        *,
        led_pin: int | None = 17,
        button_pin: int | None = 27,
        buzzer_pin: int | None = None,
        power_pin: int | None = None,
        cold_led_pin: int | None = None,
        on_episode: Callable[[ButtonEvent], None] | None = None,
        hold_s: float = DEFAULT_HOLD_S,
        bounce_s: float = DEFAULT_DEBOUNCE_S,
        warn_interval_s: float = DEFAULT_WARN_INTERVAL_S,
        power_active_high: bool = True,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = utc_now,
        pin_factory: Any = None,
    ) -> None:
        if button_pin is not None and on_episode is None:
            raise ValueError("on_episode is required when a button is fitted")
        if cold_led_pin is not None and led_pin is None:
            raise ValueError("a cold LED needs the status LED (led_pin) too")
        self.status: StatusLight | None = None
        self.button: EpisodeButton | None = None
        self.warning: LocalWarning | None = None
        self.power: PowerSwitch | None = None
        self._opened: list[Any] = []
        try:
            import gpiozero
            from gpiozero.exc import BadPinFactory, GPIOZeroError, PinFactoryFallback
        except ImportError as exc:
            raise IndicatorError(f"gpiozero is not installed: {exc}", no_gpio=True) from exc

        def open_device(
            what: str, setting: str, pin: int, make: Callable[..., Any], **options: Any
        ) -> Any:
            try:
                with warnings.catch_warnings():
                    # Off a Pi, gpiozero warns about every pin library it could not load
                    # before it gives up; BadPinFactory below says it in one line.
                    warnings.simplefilter("ignore", PinFactoryFallback)
                    device = make(pin, pin_factory=pin_factory, **options)
            except (GPIOZeroError, OSError, ValueError) as exc:
                raise IndicatorError(
                    f"cannot open the {what} on GPIO{pin}: {exc}",
                    setting=setting,
                    no_gpio=isinstance(exc, BadPinFactory),
                ) from exc
            self._opened.append(device)
            return device

        try:
            if led_pin is not None:
                led = open_device("status LED", "led_pin", led_pin, gpiozero.LED)
                cold_led = None
                if cold_led_pin is not None:
                    cold_led = open_device("cold LED", "cold_led_pin", cold_led_pin, gpiozero.LED)
                self.status = StatusLight(led, cold_led)
            if button_pin is not None and on_episode is not None:
                button = open_device(
                    "episode button",
                    "button_pin",
                    button_pin,
                    gpiozero.Button,
                    pull_up=True,
                    bounce_time=bounce_s or None,
                    hold_time=hold_s,
                )
                self.button = EpisodeButton(button, on_episode, clock, wall_clock, bounce_s)
            if buzzer_pin is not None:
                buzzer = open_device("buzzer", "buzzer_pin", buzzer_pin, gpiozero.Buzzer)
                self.warning = LocalWarning(buzzer, clock, warn_interval_s)
            if power_pin is not None:
                # On from the start: the sensor is powered for as long as we run.
                switch = open_device(
                    "sensor power switch",
                    "power_pin",
                    power_pin,
                    gpiozero.OutputDevice,
                    active_high=power_active_high,
                    initial_value=True,
                )
                self.power = PowerSwitch(switch)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Indicators:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def show(self, state: LightState) -> None:
        if self.status is not None:
            self.status.show(state)

    def update_status(self, *, sensor_fault: bool, hub_reachable: bool) -> None:
        if self.status is not None:
            self.status.update(sensor_fault=sensor_fault, hub_reachable=hub_reachable)

    def show_cold(self, cold: bool) -> None:
        if self.status is not None:
            self.status.show_cold(cold)

    def confirm(self, action: str) -> None:
        """Flash the status LED to confirm a button press."""
        if self.status is not None:
            self.status.confirm(action)

    def signal(self, signals: RoomSignals) -> bool:
        """Show `signals` on whatever is fitted; True when the buzzer chirped now."""
        self.show(signals.light)
        self.show_cold(signals.cold_led)
        if self.warning is None:
            return False
        return self.warning.update(signals.local_cold, signals.hub_reachable)

    def warn(self, room_cold: bool, hub_reachable: bool) -> bool:
        """Chirp the buzzer if due (see LocalWarning.update); False when none is fitted."""
        if self.warning is None:
            return False
        return self.warning.update(room_cold, hub_reachable)

    def close(self) -> None:
        """Close every device, the button first so no press is reported while the rest shut
        down; safe to call twice. A device that fails to close does not keep the others
        open: the failure is logged."""
        wrappers = (self.button, self.warning, self.status, self.power)
        closers: list[Callable[[], None]] = [w.close for w in wrappers if w is not None]
        # Devices opened before a constructor failed have no wrapper yet; closing twice is fine.
        closers += [device.close for device in reversed(self._opened)]
        self._opened.clear()
        for close in closers:
            try:
                close()
            except Exception:
                log.warning("closing the indicators", exc_info=True)
