"""A fake I²C bus at the hardware edge: busio.I2C's methods, and chips that answer the way
their datasheets say, for the real Adafruit drivers to talk to.

Blinka's busio on Linux raises OSError([Errno 121] Remote I/O error) when nothing
acknowledges an address; so does this bus, for an absent or unplugged chip.
"""

from __future__ import annotations

import errno
import struct
from collections.abc import Callable
from dataclasses import dataclass, field


def nack() -> OSError:
    return OSError(errno.EREMOTEIO, "Remote I/O error")


def sensirion_crc(data: bytes) -> int:
    """CRC-8, polynomial 0x31, init 0xFF (SHT3x and SHT4x datasheets; CRC(0xBEEF) = 0x92)."""
    crc = 0xFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x31) if crc & 0x80 else crc << 1
        crc &= 0xFF
    return crc


@dataclass
class Air:
    """What the chips on the bus measure: the room's air."""

    temperature_c: float = 19.5
    humidity_pct: float = 48.0


@dataclass
class Chip:
    """One chip on the bus and the ways it fails.

    `unplugged`: it acknowledges nothing. `garble`: that many next reads come back
    corrupted on the wire. `frozen`: it repeats its last measurement, as a wedged chip does.
    """

    air: Air
    unplugged: bool = False
    garble: int = 0
    frozen: bool = False
    measurements: int = 0
    resets: int = 0

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def read(self, length: int) -> bytes:
        raise NotImplementedError

    def _garbled(self, data: bytes) -> bytes:
        if self.garble <= 0:
            return data
        self.garble -= 1
        return self.corrupt(data)

    def corrupt(self, data: bytes) -> bytes:
        """A bit flipped on the way: the last byte (a CRC for the Sensirion parts)."""
        return data[:-1] + bytes([data[-1] ^ 0x01])


def _ticks(value: float, offset: float, span: float) -> int:
    return max(0, min(0xFFFF, round((value + offset) * 65535 / span)))


def _words(*words: int) -> bytes:
    out = b""
    for word in words:
        pair = struct.pack(">H", word)
        out += pair + bytes([sensirion_crc(pair)])
    return out


@dataclass
class SensirionChip(Chip):
    """What the SHT4x and SHT3x share: a command starts a measurement, and the next read
    returns six bytes: temperature ticks, CRC, humidity ticks, CRC (T = −45 + 175 · ticks
    / 65535; %RH = −offset + span · ticks / 65535). A read with nothing measured is not
    acknowledged."""

    RH_OFFSET = 0.0
    RH_SPAN = 100.0
    _pending: bytes = b""
    _last: bytes = b""

    def _measure(self) -> bytes:
        if self.frozen and self._last:
            return self._last
        self.measurements += 1
        t = _ticks(self.air.temperature_c, 45.0, 175.0)
        rh = _ticks(self.air.humidity_pct, self.RH_OFFSET, self.RH_SPAN)
        self._last = _words(t, rh)
        return self._last

    def read(self, length: int) -> bytes:
        if not self._pending:
            raise nack()
        data, self._pending = self._pending[:length], b""
        return self._garbled(data)


@dataclass
class SHT4xChip(SensirionChip):
    """Sensirion SHT4x datasheet: one-byte commands (0xFD measure at high precision, 0x94
    soft reset, 0x89 serial number); %RH = −6 + 125 · ticks / 65535."""

    RH_OFFSET = 6.0
    RH_SPAN = 125.0

    def write(self, data: bytes) -> None:
        if not data:
            return  # the address probe
        command = data[0]
        if command == 0x94:
            self.resets += 1
            self._pending = b""
        elif command in (0xFD, 0xF6, 0xE0):
            self._pending = self._measure()
        elif command == 0x89:
            self._pending = _words(0x1234, 0x5678)


@dataclass
class SHT3xChip(SensirionChip):
    """Sensirion SHT3x-DIS datasheet: two-byte commands (0x2400 single shot, high
    repeatability, no clock stretching; 0x30A2 soft reset; 0x3093 break);
    %RH = 100 · ticks / 65535."""

    def write(self, data: bytes) -> None:
        if len(data) < 2:
            return  # the address probe
        command = struct.unpack(">H", data[:2])[0]
        if command == 0x30A2:
            self.resets += 1
            self._pending = b""
        elif command in (0x2400, 0x240B, 0x2416, 0x2C06, 0x2C0D, 0x2C10):
            self._pending = self._measure()


# Trimming values of the kind Bosch's BME280 datasheet uses in its examples.
_T = (27504, 26435, -1000)
_P = (36477, -10685, 3024, 2855, 140, -7, 15500, -14600, 6000)
_H1, _H2, _H3, _H4, _H5, _H6 = 75, 362, 0, 324, 0, 30


def _t_fine(adc_t: int) -> float:
    """Bosch BME280 datasheet 4.2.3 (double precision): the temperature's fine value."""
    t1, t2, t3 = _T
    var1 = (adc_t / 16384.0 - t1 / 1024.0) * t2
    var2 = (adc_t / 131072.0 - t1 / 8192.0) ** 2 * t3
    return var1 + var2


def _humidity(adc_h: int, t_fine: float) -> float:
    """Bosch BME280 datasheet 4.2.3 (double precision): %RH from the raw value."""
    var = t_fine - 76800.0
    var = (adc_h - (_H4 * 64.0 + _H5 / 16384.0 * var)) * (
        _H2 / 65536.0 * (1.0 + _H6 / 67108864.0 * var * (1.0 + _H3 / 67108864.0 * var))
    )
    return var * (1.0 - _H1 * var / 524288.0)


def _bisect(value_of: Callable[[int], float], target: float, high: int) -> int:
    """The raw ADC value in [0, high) whose compensated value is just at or below `target`
    (both formulas rise with their raw value over the range a room spans)."""
    low = 0
    while high - low > 1:
        mid = (low + high) // 2
        if value_of(mid) <= target:
            low = mid
        else:
            high = mid
    return low


@dataclass
class BME280Chip(Chip):
    """Bosch BME280 on I²C: write a register address (and a value to set it), read from
    there on. Chip id 0x60 at 0xD0 (`chip_id=0x58` plays a BMP280), soft reset 0xB6 at
    0xE0, trimming at 0x88–0xA1 and 0xE1–0xE7; forced mode in ctrl_meas (0xF4) takes one
    measurement into 0xF7–0xFE and goes back to sleep."""

    chip_id: int = 0x60
    registers: bytearray = field(default_factory=lambda: bytearray(256))
    _pointer: int = 0
    _last: bytes = b""

    def __post_init__(self) -> None:
        self.registers[0xD0] = self.chip_id
        self.registers[0x88:0xA0] = struct.pack("<HhhHhhhhhhhh", *_T, *_P)
        self.registers[0xA1] = _H1
        e4, e5, e6 = (_H4 >> 4) & 0xFF, (_H4 & 0x0F) | ((_H5 & 0x0F) << 4), (_H5 >> 4) & 0xFF
        self.registers[0xE1:0xE8] = struct.pack("<hBBBBb", _H2, _H3, e4, e5, e6, _H6)

    def write(self, data: bytes) -> None:
        if not data:
            return
        self._pointer = data[0]
        for register, value in zip(data[0::2], data[1::2], strict=False):
            self.registers[register] = value
            if register == 0xE0 and value == 0xB6:
                self.resets += 1
                self.registers[0xF2:0xF6] = bytes(4)
            elif register == 0xF4 and value & 0x03 in (0x01, 0x02):
                self._measure()
                self.registers[0xF4] = value & 0xFC  # back to sleep when done

    def _measure(self) -> None:
        if self.frozen and self._last:
            self.registers[0xF7:0xFF] = self._last
            return
        self.measurements += 1
        adc_t = _bisect(lambda a: _t_fine(a) / 5120.0, self.air.temperature_c, 1 << 20)
        fine = float(int(_t_fine(adc_t)))  # the driver keeps t_fine as an integer
        adc_h = _bisect(lambda a: _humidity(a, fine), self.air.humidity_pct, 1 << 16)
        adc_p = 415148
        raw = (adc_p << 4).to_bytes(3, "big") + (adc_t << 4).to_bytes(3, "big")
        self._last = raw + adc_h.to_bytes(2, "big")
        self.registers[0xF7:0xFF] = self._last

    def read(self, length: int) -> bytes:
        data = bytes(self.registers[self._pointer : self._pointer + length])
        if self._pointer >= 0xF7:
            return self._garbled(data)
        return data

    def corrupt(self, data: bytes) -> bytes:
        """No CRC on a BME280: a line stuck high reads 0xFF, which the driver turns into a
        temperature no room has."""
        return b"\xff" * len(data)


class FakeI2CBus:
    """busio.I2C's interface over the chips at their addresses; every transfer needs the
    bus lock, as busio's does."""

    def __init__(self, chips: dict[int, Chip] | None = None) -> None:
        self.chips: dict[int, Chip] = dict(chips or {})
        self.locked = False
        self.deinits = 0

    def _chip(self, address: int) -> Chip:
        assert self.locked, "a transfer without the bus lock"
        chip = self.chips.get(address)
        if chip is None or chip.unplugged:
            raise nack()
        return chip

    def try_lock(self) -> bool:
        if self.locked:
            return False
        self.locked = True
        return True

    def unlock(self) -> None:
        self.locked = False

    def writeto(
        self, address: int, buffer: bytes | bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        self._chip(address).write(bytes(buffer[start:end]))

    def readfrom_into(
        self, address: int, buffer: bytearray, *, start: int = 0, end: int | None = None
    ) -> None:
        end = len(buffer) if end is None else end
        data = self._chip(address).read(end - start)
        buffer[start:end] = data

    def writeto_then_readfrom(
        self,
        address: int,
        buffer_out: bytes | bytearray,
        buffer_in: bytearray,
        *,
        out_start: int = 0,
        out_end: int | None = None,
        in_start: int = 0,
        in_end: int | None = None,
    ) -> None:
        self.writeto(address, buffer_out, start=out_start, end=out_end)
        self.readfrom_into(address, buffer_in, start=in_start, end=in_end)

    def scan(self) -> list[int]:
        assert self.locked, "a scan without the bus lock"
        return sorted(a for a, chip in self.chips.items() if not chip.unplugged)

    def deinit(self) -> None:
        self.deinits += 1
