"""What one message of another system said about its device, before the hub judges it."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from contract import fields
from contract.topics import MAX_PAYLOAD_BYTES, ContractError


class SourceError(ContractError):
    """A message on a source's topic that does not have the shape its system documents."""


@dataclass(frozen=True, slots=True)
class Update:
    """The parts a message carried; None is "not said". `measured_at` is the payload's own
    time, when it has one; `failed` is the device saying its sensor gave no value."""

    temperature_c: float | None = None
    humidity_pct: float | None = None
    battery_pct: float | None = None
    online: bool | None = None
    measured_at: datetime | None = None
    failed: str | None = None

    @property
    def measures(self) -> bool:
        return self.temperature_c is not None or self.humidity_pct is not None


def json_object(payload: bytes) -> dict[str, Any]:
    """A JSON object (a full status may be long; a flood is not), else SourceError."""
    return fields.json_object(payload, MAX_PAYLOAD_BYTES * 4, SourceError)


def number(value: object, field: str) -> float | None:
    """A JSON number; null is None, anything else is refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise SourceError(f"{field} must be a number, got {str(value)[:20]!r}")
    return float(value)


def text_number(payload: bytes, field: str) -> float | None:
    """A number sent as text (ESPHome); `nan` (a sensor that gave no value) is None."""
    text = payload.decode("ascii", errors="replace").strip()
    try:
        value = float(text)
    except ValueError:
        raise SourceError(f"{field} must be a number as text, got {payload[:20]!r}") from None
    return None if math.isnan(value) else value


def fahrenheit_to_c(value: float) -> float:
    return (value - 32.0) * 5.0 / 9.0


def unix_time(value: object, field: str) -> datetime:
    seconds = number(value, field)
    if seconds is None or not 0 < seconds < 32503680000:
        raise SourceError(f"{field} must be a Unix time in seconds")
    return datetime.fromtimestamp(seconds, UTC)


def plain_text(payload: bytes) -> str:
    return payload.decode("utf-8", errors="replace").strip()
