"""Judging a source's messages: which make a fresh reading, which are repeats or old news."""

# Pure: the memory of one source, a parsed message and the time in; the next memory and
# what to record out. Safety decides the edge cases: a retained message, or one that
# repeats the last, is never a fresh reading (it may be hours old), so an alert never
# resolves on it; a reading is only stored once (its seq is its time in microseconds,
# under the source's own boot id).

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from contract.messages import FaultMessage, ReadingMessage
from hub.sources.settings import SourceSettings
from hub.sources.update import Update

# The same payload on the same topic this soon again is the same message twice (a QoS 1
# redelivery, a device that publishes twice), not a second measurement.
REPEAT_WITHIN_S: Final = 5.0


@dataclass(frozen=True, slots=True)
class Heard:
    """What the hub remembers of one source between its messages."""

    temperature_c: float | None = None
    temperature_at: datetime | None = None  # when a fresh temperature last arrived
    humidity_pct: float | None = None
    last_message: tuple[str, bytes, datetime] | None = None
    measured_at: datetime | None = None  # the newest own time of a stored reading
    failures: int = 0


@dataclass(frozen=True, slots=True)
class Outcome:
    """What to record: a reading, the room's online/offline, its battery, a sensor fault;
    `skipped` says why a message with measurements made no reading."""

    reading: ReadingMessage | None = None
    online: bool | None = None
    battery_pct: float | None = None
    fault: FaultMessage | None = None
    skipped: str | None = None


def judge(
    source: SourceSettings,
    heard: Heard,
    update: Update,
    topic: str,
    payload: bytes,
    *,
    retained: bool,
    at: datetime,
) -> tuple[Heard, Outcome]:
    last = heard.last_message
    if (
        last is not None
        and (last[0], last[1]) == (topic, payload)
        and timedelta(0) <= at - last[2] <= timedelta(seconds=REPEAT_WITHIN_S)
    ):
        return heard, Outcome(skipped="repeat")
    heard = replace(heard, last_message=(topic, payload, at))
    online, battery = update.online, update.battery_pct
    if update.failed is not None:
        if retained:
            return heard, Outcome(online=online, battery_pct=battery, skipped="retained")
        heard = replace(heard, failures=heard.failures + 1)
        fault = FaultMessage(source.room, source.boot_id, at, update.failed, heard.failures)
        return heard, Outcome(online=online, battery_pct=battery, fault=fault)
    if not update.measures:
        return heard, Outcome(online=online, battery_pct=battery)
    own = update.measured_at
    if own is None and retained:
        # Of unknown age: never a fresh reading. A humidity may pair with a later fresh
        # temperature (it only informs advisories); a temperature never does.
        if update.humidity_pct is not None:
            heard = replace(heard, humidity_pct=update.humidity_pct)
        return heard, Outcome(online=online, battery_pct=battery, skipped="retained")
    if own is not None and heard.measured_at is not None and own <= heard.measured_at:
        return heard, Outcome(online=online, battery_pct=battery, skipped="repeat")
    if update.temperature_c is not None:
        heard = replace(heard, temperature_c=update.temperature_c, temperature_at=at)
    if update.humidity_pct is not None:
        heard = replace(heard, humidity_pct=update.humidity_pct)
    fresh = heard.temperature_at is not None and (at - heard.temperature_at) <= timedelta(
        seconds=source.stale_s
    )
    if heard.temperature_c is None or heard.humidity_pct is None or not fresh:
        return heard, Outcome(online=online, battery_pct=battery, skipped="incomplete")
    ts = own or at
    reading = ReadingMessage(
        room=source.room,
        boot_id=source.boot_id,
        seq=micros(ts),
        ts=ts,
        temperature_c=round(heard.temperature_c, 2),
        humidity_pct=round(heard.humidity_pct, 2),
        live=None if own is not None else True,  # an own time lets the rules judge its age
    )
    heard = replace(heard, failures=0, measured_at=own or heard.measured_at)
    return heard, Outcome(reading=reading, online=online, battery_pct=battery)


def micros(ts: datetime) -> int:
    """The reading's seq: its time in whole microseconds since 1970."""
    return round(ts.timestamp() * 1_000_000)
