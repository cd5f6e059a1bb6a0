"""SHT4x, SHT3x and BME280 on the Pi's I²C bus, through Adafruit's drivers (imported on open)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Callable
from typing import Final, Protocol

from firmware.i2c_parts import (
    I2C_MIN_READ_SPACING_S,
    I2C_PARTS,
    WIRING,
    address_text,
)
from firmware.sensors.base import (
    SensorReadError,
    SensorReading,
    SensorUnavailable,
    check_plausible,
)

log = logging.getLogger("nursery.firmware")

# What else may answer a BME280's chip-id register (Bosch's datasheets).
_CHIP_IDS: Final = {0x58: "a BMP280, which measures no humidity", 0x61: "a BME680"}


class I2CBus(Protocol):
    """The part of `busio.I2C` the drivers use (through adafruit_bus_device) and we scan with."""

    def try_lock(self) -> bool: ...

    def unlock(self) -> None: ...

    def writeto(
        self, address: int, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None
    ) -> None: ...

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None: ...

    def scan(self) -> list[int]: ...

    def deinit(self) -> None: ...


Measure = Callable[[], tuple[float, float]]
BusFactory = Callable[[], I2CBus]
DriverFactory = Callable[[str, I2CBus, int], Measure]


class WrongPart(SensorReadError):
    """Something answers at the address, but it is not the part the settings name."""


def pi_i2c_bus() -> I2CBus:
    """The Pi's I²C bus 1 through Blinka; "not a Pi", "I²C off" and "not installed" become
    SensorUnavailable with what to do."""
    from firmware.sensors.dht import PI_EXTRA_HINT

    os.environ.setdefault("BLINKA_SKIP_DEPENDENCY_CHECK", "1")
    banner = io.StringIO()
    try:
        with contextlib.redirect_stdout(banner):  # Blinka's "GENERIC_X86" banner off a Pi
            import board
    except ImportError as exc:
        raise SensorUnavailable(f"the I²C driver is not installed; {PI_EXTRA_HINT}") from exc
    except (NotImplementedError, RuntimeError, OSError) as exc:
        raise SensorUnavailable(
            f'this machine has no Raspberry Pi I²C bus ({exc}); use sensor = "simulated" off a Pi'
        ) from exc
    opener = getattr(board, "I2C", None)
    if opener is None:
        raise SensorUnavailable(
            'this machine has no Raspberry Pi I²C bus; use sensor = "simulated" off a Pi'
        )
    try:
        bus: I2CBus = opener()
    except (ValueError, OSError, RuntimeError) as exc:
        raise SensorUnavailable(
            f"cannot open the I²C bus ({exc}); turn I²C on: sudo raspi-config nonint do_i2c 0, "
            "then reboot"
        ) from exc
    return bus


def adafruit_driver(kind: str, bus: I2CBus, address: int) -> Measure:
    """Open the maintained CircuitPython driver for `kind` at `address`: its probe, reset
    and set-up run now. Returns one measurement of (°C, %RH) per call."""
    part = I2C_PARTS[kind]
    where = f"{part.name} at I²C address {address_text(address)}"
    try:
        if kind == "sht4x":
            import adafruit_sht4x

            sht4x = adafruit_sht4x.SHT4x(bus, address)  # high precision, no heater
            return lambda: sht4x.measurements
        if kind == "sht3x":
            import adafruit_sht31d

            sht3x = adafruit_sht31d.SHT31D(bus, address)  # single shot, high repeatability
            return lambda: (sht3x.temperature, sht3x.relative_humidity)
        from adafruit_bme280 import basic as adafruit_bme280

        # Forced mode (the driver's default): one measurement per read, so the chip idles
        # between readings and warms the air around it as little as it can.
        bme280 = adafruit_bme280.Adafruit_BME280_I2C(bus, address)
        return lambda: (bme280.temperature, bme280.humidity)
    except ImportError as exc:
        from firmware.sensors.dht import PI_EXTRA_HINT

        raise SensorUnavailable(
            f"cannot open the {where}: its driver is not installed; {PI_EXTRA_HINT}"
        ) from exc
    except RuntimeError as exc:
        chip = _chip_id(str(exc))
        if chip is None:
            raise SensorReadError(f"the {where} could not be set up ({exc})") from exc
        other = _CHIP_IDS.get(chip, "another chip")
        raise WrongPart(
            f"the chip at I²C address {address_text(address)} is not a {part.name}: its id "
            f"{address_text(chip)} says {other}"
        ) from exc
    except (ValueError, OSError) as exc:  # ValueError: adafruit_bus_device's failed probe
        raise SensorReadError(f"the {where} did not answer ({exc}); check the wiring") from exc


def _chip_id(message: str) -> int | None:
    """The id in the BME280 driver's "Failed to find BME280! Chip ID 0x58"."""
    _, found, tail = message.partition("Chip ID ")
    if not found:
        return None
    try:
        return int(tail.split()[0], 0)
    except (ValueError, IndexError):
        return None


class I2CSensor:
    """An SHT4x, SHT3x or BME280 on I²C. The driver is opened at start and again after any
    failed read, so a sensor that was unplugged, reset or power-cycled is set up afresh."""

    min_read_spacing_s: float = I2C_MIN_READ_SPACING_S

    def __init__(
        self,
        kind: str,
        address: int | None = None,
        bus_factory: BusFactory | None = None,
        driver_factory: DriverFactory | None = None,
    ) -> None:
        if kind not in I2C_PARTS:
            raise ValueError(f"kind must be one of {', '.join(I2C_PARTS)}, got {kind!r}")
        self.kind = kind
        self.part = I2C_PARTS[kind]
        self.address = self.part.default_address if address is None else address
        self._driver_factory = driver_factory or adafruit_driver
        self._bus = (bus_factory or pi_i2c_bus)()
        self._measure: Measure | None = None
        self._closed = False
        self.open_error: str | None = None
        try:
            self._open()
        except WrongPart as exc:
            self._bus.deinit()
            raise SensorUnavailable(str(exc)) from exc
        except SensorReadError as exc:
            # Like a DHT that does not answer: the readings fail and say so, the hub hears
            # of it, and a power cycle or a re-seated plug brings the sensor back.
            self.open_error = str(exc)
            log.warning("%s; the firmware keeps trying", exc)
        except BaseException:
            self._bus.deinit()
            raise

    @property
    def where(self) -> str:
        return f"{self.part.name} at I²C address {address_text(self.address)}"

    def _open(self) -> Measure:
        if self._measure is None:
            self._measure = self._driver_factory(self.kind, self._bus, self.address)
        return self._measure

    def read(self) -> SensorReading:
        """One fresh measurement, or SensorReadError (the driver is opened again next time)."""
        if self._closed:
            raise SensorUnavailable(f"the {self.where} is closed")
        try:
            temperature, humidity = self._open()()
        except SensorReadError:
            raise
        except OSError as exc:  # busio's NACK: [Errno 121] Remote I/O error
            self._measure = None
            raise SensorReadError(f"the {self.where} did not answer ({exc})") from exc
        except RuntimeError as exc:  # the drivers' "Invalid CRC calculated", "CRC mismatch"
            self._measure = None
            raise SensorReadError(f"the {self.where} sent a garbled reading ({exc})") from exc
        # The parts resolve hundredths, and the wire keeps two decimals.
        reading = SensorReading(round(float(temperature), 2), round(float(humidity), 2))
        return check_plausible(reading)

    def scan(self) -> list[int]:
        """The addresses that answer on the bus, for `nursery firmware --check`."""
        while not self._bus.try_lock():
            pass
        try:
            return sorted(self._bus.scan())
        finally:
            self._bus.unlock()

    def close(self) -> None:
        """Release the bus; only the first call does anything."""
        if self._closed:
            return
        self._closed = True
        self._measure = None
        self._bus.deinit()


def presence(sensor: I2CSensor) -> list[str]:
    """Plain words for `nursery firmware --check`: is the sensor there, and if not, what is."""
    if sensor.open_error is None:
        return [f"I²C: {sensor.where} found"]
    try:
        seen = sensor.scan()
    except OSError as exc:
        return [f"I²C: no {sensor.where} ({exc}); check the wires: {WIRING}"]
    lines = [f"I²C: no {sensor.where} answers"]
    if not seen:
        lines.append(f"I²C: nothing answers on the bus at all; check the wires: {WIRING}")
        return lines
    found = ", ".join(address_text(a) for a in seen)
    lines.append(f"I²C: something answers at {found}")
    others = [a for a in seen if a in sensor.part.addresses]
    if others:
        lines.append(
            f"I²C: if that is your {sensor.part.name}, set firmware.i2c_address = "
            f"{address_text(others[0])}"
        )
    else:
        name = sensor.part.name
        lines.append(f"I²C: none of these is where a {name} can be; is it another part?")
    return lines
