"""The DHT22 / DHT11 on one GPIO pin, through Adafruit's driver (imported only on open)."""

from __future__ import annotations

import contextlib
import io
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from typing import Final, Literal, Protocol, get_args

from firmware.sensors.base import (
    SensorReadError,
    SensorReading,
    SensorUnavailable,
    check_plausible,
)

log = logging.getLogger("nursery.firmware")

DHTKind = Literal["dht22", "dht11"]

# The driver returns its cached values for any read within 2 s of its previous one.
DHT_MIN_READ_SPACING_S: Final = 2.0
PI_EXTRA_HINT: Final = "install the pi extra: pip install 'nursery-monitor[pi]'"


class DHTDriver(Protocol):
    """The part of `adafruit_dht.DHT22` we use; tests pass a fake through `driver_factory`."""

    @property
    def temperature(self) -> float | None: ...

    @property
    def humidity(self) -> float | None: ...

    def exit(self) -> None: ...


DriverFactory = Callable[[DHTKind, int, bool], DHTDriver]


def _describe(kind: DHTKind, pin: int) -> str:
    return f"cannot open a {kind.upper()} on GPIO{pin}"


@contextlib.contextmanager
def _keep_sigterm_handler() -> Iterator[None]:
    """Undo the SIGTERM handler Blinka's pulseio installs (it raises SystemExit(1)).

    Without this our own handler, which asks the runner to stop cleanly, would be
    replaced. Signal handlers can only be changed from the main thread.
    """
    in_main = threading.current_thread() is threading.main_thread()
    saved = signal.getsignal(signal.SIGTERM) if in_main else None
    try:
        yield
    finally:
        if in_main and saved is not None and signal.getsignal(signal.SIGTERM) is not saved:
            signal.signal(signal.SIGTERM, saved)


def adafruit_driver(kind: DHTKind, pin: int, use_pulseio: bool) -> DHTDriver:
    """Open the real driver, turning every "not on a Pi / not installed" into SensorUnavailable."""
    what = _describe(kind, pin)
    # Blinka would otherwise offer, on a terminal, to pip-install Pi packages.
    os.environ.setdefault("BLINKA_SKIP_DEPENDENCY_CHECK", "1")
    banner = io.StringIO()
    try:
        # Off a Pi these imports print "GENERIC_X86 is not fully supported" on stdout.
        with contextlib.redirect_stdout(banner):
            import adafruit_dht
            import board
    except ImportError as exc:
        raise SensorUnavailable(
            f"{what}: the DHT driver is not installed; {PI_EXTRA_HINT}"
        ) from exc
    except (NotImplementedError, RuntimeError, OSError) as exc:
        raise SensorUnavailable(
            f"{what}: this machine has no Raspberry Pi GPIO ({exc}); "
            'use sensor = "simulated" off a Pi'
        ) from exc
    finally:
        if banner.getvalue().strip():
            log.debug("DHT driver import said: %s", banner.getvalue().strip())
    try:
        board_pin = getattr(board, f"D{pin}")
    except AttributeError as exc:
        raise SensorUnavailable(
            f'{what}: this machine has no Raspberry Pi GPIO (use sensor = "simulated" off a Pi)'
        ) from exc
    driver_class = adafruit_dht.DHT22 if kind == "dht22" else adafruit_dht.DHT11
    try:
        driver: DHTDriver = driver_class(board_pin, use_pulseio=use_pulseio)
    except Exception as exc:  # the driver raises bare RuntimeError, OSError, NameError...
        hint = (
            "; a stale libgpiod_pulsein process may hold the pin (or set use_pulseio = false)"
            if use_pulseio
            else ""
        )
        raise SensorUnavailable(f"{what}: {exc}{hint}") from exc
    return driver


class DHTSensor:
    """A DHT22 or DHT11 on one GPIO pin, with one driver kept for the object's life."""

    min_read_spacing_s: float = DHT_MIN_READ_SPACING_S

    def __init__(
        self,
        kind: DHTKind,
        pin: int,
        use_pulseio: bool,
        driver_factory: DriverFactory | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kind not in get_args(DHTKind):
            raise ValueError(f"kind must be dht22 or dht11, got {kind!r}")
        self.kind = kind
        self.pin = pin
        self._clock = clock
        self._last_read_end: float | None = None
        self._closed = False
        factory = driver_factory or adafruit_driver
        # pulseio installs its handler when adafruit_dht is imported, so cover both.
        with _keep_sigterm_handler():
            self._driver = factory(kind, pin, use_pulseio)

    def read(self) -> SensorReading:
        """One fresh measurement, or SensorReadError; never the driver's cached value."""
        if self._closed:
            raise SensorUnavailable(f"the {self.kind.upper()} on GPIO{self.pin} is closed")
        now = self._clock()
        if self._last_read_end is not None:
            since = now - self._last_read_end
            if since < DHT_MIN_READ_SPACING_S:
                raise SensorReadError(
                    f"read {since:.2f} s after the previous one; the {self.kind.upper()} "
                    f"would repeat its cached value (wait {DHT_MIN_READ_SPACING_S:g} s)"
                )
        try:
            # Both properties come from one measurement: the second hits the 2 s cache.
            temperature = self._driver.temperature
            humidity = self._driver.humidity
        except (RuntimeError, OSError) as exc:
            raise SensorReadError(str(exc) or type(exc).__name__) from exc
        finally:
            # Taken after the driver's own timestamp, so a gap from here is a safe gap.
            self._last_read_end = self._clock()
        if temperature is None or humidity is None:
            raise SensorReadError("the DHT driver returned no value")
        return check_plausible(SensorReading(float(temperature), float(humidity)))

    def close(self) -> None:
        """Stop the driver's pulseio helper process; only the first call does anything."""
        if self._closed:
            return
        self._closed = True
        self._driver.exit()
