"""The I²C sensor models the firmware knows, their addresses and the bus's pins: what the
settings check needs, without loading a driver or the sensor package."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

I2CKind = Literal["sht4x", "sht3x", "bme280"]
I2C_KINDS: Final[tuple[str, ...]] = get_args(I2CKind)
# A read more often than once a second warms the die and the room reads too warm; it also
# spaces the retries after a failed read.
I2C_MIN_READ_SPACING_S: Final = 1.0
# The Pi's I²C bus 1: BCM GPIO2 (SDA, header pin 3) and GPIO3 (SCL, header pin 5).
I2C_GPIOS: Final = {2: "SDA", 3: "SCL"}
WIRING: Final = "SDA to pin 3, SCL to pin 5, VIN to 3.3 V (pin 1), GND to pin 6"


@dataclass(frozen=True, slots=True)
class I2CPart:
    """A sensor model on I²C: its name, its address out of the box and the others it can take."""

    name: str
    default_address: int
    addresses: tuple[int, ...]


I2C_PARTS: Final[dict[str, I2CPart]] = {
    "sht4x": I2CPart("SHT4x", 0x44, (0x44, 0x45, 0x46)),
    "sht3x": I2CPart("SHT3x", 0x44, (0x44, 0x45)),
    "bme280": I2CPart("BME280", 0x77, (0x76, 0x77)),
}


def address_text(address: int) -> str:
    return f"0x{address:02x}"
