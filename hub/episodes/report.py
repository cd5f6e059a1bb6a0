"""The pediatrician report's data: one period of the episode log next to what the monitor
measured (hub/episodes/report_render.py turns it into a page, a PDF and CSV)."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Final

from hub.conditions import Condition, Incident
from hub.episodes.log import EpisodeLog, day_bounds
from hub.episodes.model import DIARY_NOTE, Episode, Sign, episode_signs
from hub.episodes.patterns import Durations, Patterns, durations
from hub.messages import CONDITION_LABELS, SENSOR_ACCURACY_C, Unit, accuracy_c
from hub.store.database import Store

# How far before and after an episode "the room around it" reaches.
AROUND: Final = timedelta(hours=1)

# The pushes' and the dashboard's names for the alerts: one source, hub/messages/.
CONDITION_WORDS: Final[dict[Condition, str]] = CONDITION_LABELS


@dataclass(frozen=True, slots=True)
class Around:
    """The room from an hour before an episode to an hour after it."""

    low_c: float | None
    high_c: float | None
    readings: int


@dataclass(frozen=True, slots=True)
class ReportRow:
    episode: Episode
    signs: tuple[Sign, ...]
    around: Around


@dataclass(frozen=True, slots=True)
class Report:
    first_day: date
    last_day: date
    zone: tzinfo
    zone_name: str
    room: str | None
    generated_at: datetime
    rows: tuple[ReportRow, ...]
    durations: Durations
    patterns: Patterns
    alerts: tuple[Incident, ...]
    note: str = DIARY_NOTE
    unit: Unit = "C"  # as the caregivers chose on the settings page
    accuracy_c: float | None = SENSOR_ACCURACY_C  # the least accurate room's sensor

    @property
    def episodes(self) -> list[Episode]:
        return [row.episode for row in self.rows]


def around(store: Store, episode: Episode, now: datetime) -> Around:
    end = episode.ended_at or (now if episode.running else episode.started_at)
    series = store.readings(episode.room, episode.started_at - AROUND, end + AROUND, 100_000)
    temps = [p.temperature_c for p in series.points]
    return Around(min(temps, default=None), max(temps, default=None), len(temps))


def alerts_between(
    store: Store, since: datetime, until: datetime, room: str | None
) -> list[Incident]:
    """Alerts open at any moment of the period, oldest first."""
    found = [
        incident
        for incident in store.recent_incidents(since, limit=100_000)
        if incident.opened_at <= until
        and (incident.resolved_at is None or incident.resolved_at >= since)
        and (room is None or incident.room == room)
    ]
    return sorted(found, key=lambda incident: (incident.opened_at, incident.id or 0))


def report_accuracy_c(store: Store, room: str | None) -> float | None:
    """The accuracy the report may state: the sensor model each room's firmware named in
    its health message (a DHT11 is ±2 °C, a DHT22 ±0.5 °C); with several rooms, the least
    accurate; None when a room's model has no datasheet (a simulated sensor)."""
    rooms = [room] if room is not None else [r.name for r in store.rooms()]
    found: list[float | None] = []
    for name in rooms:
        health = store.health(name)
        found.append(accuracy_c(health.sensor if health is not None else None))
    if not found:
        return SENSOR_ACCURACY_C
    known = [value for value in found if value is not None]
    return max(known) if len(known) == len(found) else None


def build_report(
    log: EpisodeLog,
    store: Store,
    first_day: date,
    last_day: date,
    zone: tzinfo,
    zone_name: str,
    room: str | None = None,
    unit: Unit = "C",
) -> Report:
    since, until = day_bounds(first_day, last_day, zone)
    episodes: Sequence[Episode] = [
        e
        for e in log.episodes.between(since, until, room)
        if first_day <= e.started_at.astimezone(zone).date() <= last_day
    ]
    rows = tuple(
        ReportRow(e, tuple(episode_signs(e, log.now)), around(store, e, log.now)) for e in episodes
    )
    return Report(
        first_day=first_day,
        last_day=last_day,
        zone=zone,
        zone_name=zone_name,
        room=room,
        generated_at=log.now,
        rows=rows,
        durations=durations(episodes),
        patterns=log.patterns(first_day, last_day, zone, room),
        alerts=tuple(alerts_between(store, since, until, room)),
        unit=unit,
        accuracy_c=report_accuracy_c(store, room),
    )


def iter_readings(
    db_path: Path, since: datetime, until: datetime, room: str | None = None
) -> Iterator[tuple[str, datetime, float, float]]:
    """Every reading in [since, until], room by room and oldest first, streamed from a
    read-only connection of its own so a year of readings never sits in memory."""
    lo, hi = round(since.timestamp() * 1000), round(until.timestamp() * 1000)
    db = sqlite3.connect(f"{db_path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rooms = [
            (int(row[0]), str(row[1]))
            for row in db.execute("SELECT id, name FROM rooms ORDER BY name")
            if room is None or row[1] == room
        ]
        for room_id, name in rooms:
            cursor = db.execute(
                "SELECT ts_ms, temperature_c, humidity_pct FROM readings"
                " WHERE room_id = ? AND ts_ms BETWEEN ? AND ? ORDER BY ts_ms",
                (room_id, lo, hi),
            )
            for ts_ms, temperature, humidity in cursor:
                yield name, datetime.fromtimestamp(ts_ms / 1000, tz=UTC), temperature, humidity
    finally:
        db.close()
