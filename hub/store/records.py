"""What the store hands out and takes in: readings, buckets, room states, and ms times."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from contract.errors import NurseryError
from contract.messages import ReadingMessage

HOUR_MS = 3_600_000


def hour_of(ts_ms: int) -> int:
    """The start of the UTC hour a time (ms since the epoch) falls in."""
    return ts_ms - ts_ms % HOUR_MS


def to_ms(ts: datetime) -> int:
    return round(ts.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


def opt_ms(ts: datetime | None) -> int | None:
    return None if ts is None else to_ms(ts)


def opt_dt(ms: object) -> datetime | None:
    return from_ms(ms) if isinstance(ms, int) else None


class StoreError(NurseryError):
    """The database cannot be opened or used; the message says which file and why."""


class NewerDatabase(StoreError):
    """The file was written by a newer hub than this one: refused, in one line naming both
    schema versions, rather than misread or damaged."""

    def __init__(self, path: str, version: int, supported: int) -> None:
        self.version, self.supported = version, supported
        super().__init__(
            f"{path} has schema version {version}, newer than this nursery-monitor's "
            f"{supported}: update nursery-monitor, or restore a backup made by this version"
        )


@dataclass(frozen=True, slots=True)
class StoredReading:
    ts: datetime
    temperature_c: float
    humidity_pct: float


@dataclass(frozen=True, slots=True)
class LatestReading(StoredReading):
    boot_id: str
    seq: int
    received_at: datetime


# The columns `latest_reading` reads, in its order (readings joined with boots).
LATEST_COLUMNS = "ts_ms, temperature_c, humidity_pct, boots.boot_id, seq, received_ms"


def latest_reading(row: Sequence[Any]) -> LatestReading:
    """A reading with its boot, seq and receive time, from a row of LATEST_COLUMNS."""
    ts, temperature_c, humidity_pct, boot_id, seq, received = row
    return LatestReading(
        from_ms(ts), temperature_c, humidity_pct, boot_id, seq, received_at=from_ms(received)
    )


@dataclass(frozen=True, slots=True)
class Fault:
    at: datetime
    error: str
    consecutive_failures: int


@dataclass(frozen=True, slots=True)
class RoomState:
    name: str
    status: Literal["online", "offline"] | None
    status_at: datetime | None
    last_seen: datetime | None
    latest: LatestReading | None
    fault: Fault | None


@dataclass(frozen=True, slots=True)
class Series:
    points: list[StoredReading]
    downsampled: bool


@dataclass(frozen=True, slots=True)
class Bucket:
    """Readings summed over a stretch of time from `start_ms`: one point of a chart.

    Sums rather than means, so buckets add up (hours into days) without losing weight.
    """

    start_ms: int
    count: int
    temperature_sum: float
    temperature_min: float
    temperature_max: float
    humidity_sum: float
    humidity_min: float
    humidity_max: float


@dataclass(frozen=True, slots=True)
class Received:
    """A validated reading with the hub's receive time."""

    reading: ReadingMessage
    received_at: datetime
