"""`nursery firmware --check`: read the sensor a few times and light every part fitted, so a
newcomer can check the wiring before trusting the monitor (docs/firmware.md)."""

from __future__ import annotations

import sys
import threading
from typing import Any, Final, TextIO

from firmware.config import FirmwareConfig, FirmwareSettings
from firmware.i2c_parts import WIRING, address_text
from firmware.indicators import POWER_SETTLE_S, ButtonEvent, IndicatorError, Indicators
from firmware.sensors import I2C_PARTS, I2CSensor, SensorReader, SensorUnavailable, open_sensor
from firmware.sensors.i2c import presence

CHECK_READINGS: Final = 5
PIN_NAMES: Final = {
    "pin": "DHT data",
    "led_pin": "status LED",
    "button_pin": "episode button",
    "buzzer_pin": "buzzer",
    "power_pin": "sensor power",
    "cold_led_pin": "cold LED",
}


def describe_pins(firmware: FirmwareSettings) -> list[str]:
    """A line per pin setting: the part, its BCM GPIO (`off` when not fitted), the key."""
    lines = ["pins (BCM numbers):"]
    for key, pin in firmware.pins().items():
        if key == "pin" and firmware.sensor in I2C_PARTS:
            lines.append(f"  {'I²C SDA, SCL':<15} {'GPIO2,3':<7} header pins 3 and 5")
            continue
        where = "off" if pin is None else f"GPIO{pin}"
        lines.append(f"  {PIN_NAMES[key]:<15} {where:<7} firmware.{key}")
    return lines


def sensor_place(firmware: FirmwareSettings) -> str:
    """Where the sensor is: `GPIO4`, `I²C address 0x44`, or `simulated`."""
    if firmware.sensor == "simulated":
        return "simulated"
    if firmware.sensor in I2C_PARTS and firmware.i2c_address is not None:
        return f"I²C address {address_text(firmware.i2c_address)}"
    return f"GPIO{firmware.pin}"


def check_wiring(
    settings: FirmwareConfig,
    stop: threading.Event,
    *,
    out: TextIO | None = None,
    err: TextIO | None = None,
    pin_factory: Any = None,
) -> int:
    """Print the pins, a few readings and a verdict; 0 when a reading came through."""
    out = out or sys.stdout
    err = err or sys.stderr
    firmware = settings.firmware
    where = sensor_place(firmware)
    print(f"checking the {firmware.sensor} sensor ({where}), {CHECK_READINGS} readings…", file=out)
    for line in describe_pins(firmware):
        print(line, file=out)
    presses: list[ButtonEvent] = []
    parts = _open_parts(firmware, presses.append, pin_factory, out)
    try:
        if parts is not None and parts.power is not None:
            print(f"sensor power on (GPIO{firmware.power_pin}); waiting for it to wake…", file=out)
            if stop.wait(POWER_SETTLE_S):
                return 1
        code = _read(settings, stop, out, err)
        if parts is not None and parts.button is not None:
            seen = len(presses)
            print(
                f"episode button: {seen} press(es) seen"
                if seen
                else "episode button: no press seen (press it during the check to test it)",
                file=out,
            )
        return code
    finally:
        if parts is not None:
            parts.close()


def _open_parts(
    firmware: FirmwareSettings,
    on_press: Any,
    pin_factory: Any,
    out: TextIO,
) -> Indicators | None:
    """Light the LEDs, chirp once, power the sensor; a part that cannot be opened is said
    and the check goes on (the sensor is what it is for)."""
    if all(pin is None for key, pin in firmware.pins().items() if key != "pin"):
        return None
    try:
        parts = Indicators(
            led_pin=firmware.led_pin,
            button_pin=firmware.button_pin,
            buzzer_pin=firmware.buzzer_pin,
            power_pin=firmware.power_pin,
            cold_led_pin=firmware.cold_led_pin,
            on_episode=on_press if firmware.button_pin is not None else None,
            pin_factory=pin_factory,
        )
    except IndicatorError as exc:
        where = f" (firmware.{exc.setting})" if exc.setting and not exc.no_gpio else ""
        print(f"LED, button, buzzer and power pins not tested: {exc}{where}", file=out)
        return None
    if parts.status is not None:
        parts.show("ok")
        parts.show_cold(True)
        lit = "status LED" + (" and cold LED" if firmware.cold_led_pin is not None else "")
        print(f"{lit} lit while the check runs", file=out)
    if parts.warn(room_cold=True, hub_reachable=False):
        print("buzzer: one chirp", file=out)
    return parts


def _read(settings: FirmwareConfig, stop: threading.Event, out: TextIO, err: TextIO) -> int:
    firmware = settings.firmware
    try:
        sensor = open_sensor(firmware)
    except SensorUnavailable as exc:
        print(f"nursery: {exc}", file=err)
        return 1
    good = 0
    if isinstance(sensor, I2CSensor):
        for line in presence(sensor):
            print(line, file=out)
    try:
        reader = SensorReader(sensor, firmware.read_retries, sensor.min_read_spacing_s, stop)
        for number in range(1, CHECK_READINGS + 1):
            reading = reader.read()
            if stop.is_set():
                break
            if reading is None:
                print(f"reading {number}: failed ({reader.last_error})", file=out)
            else:
                good += 1
                print(
                    f"reading {number}: {reading.temperature_c:.1f} °C, "
                    f"{reading.humidity_pct:.1f} %RH",
                    file=out,
                )
        print(
            f"{good} of {CHECK_READINGS} readings good; {reader.errors} failed attempts", file=out
        )
    finally:
        sensor.close()
    if good == 0:
        hint = (
            f"check the wires ({WIRING}; see hardware/README.md)"
            if firmware.sensor in I2C_PARTS
            else "check the data pin, the 3.3 V and ground wires, and the 10 kΩ pull-up "
            "(see hardware/README.md)"
        )
        if firmware.power_pin is not None:
            hint += f"; the sensor's power comes from GPIO{firmware.power_pin}"
        print(f"no reading at all: {hint}", file=err)
        return 1
    return 0
