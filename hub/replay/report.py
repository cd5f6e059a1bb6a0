"""What a replay found, in numbers: pushes per night and minutes cold, and the JSON document
`nursery replay --json` prints (docs/replay.md)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Any

from hub.conditions import Condition
from hub.replay.engine import Replay, ReplayedAlert

_NOON = timedelta(hours=12)


def night_of(at: datetime, tz: tzinfo | None = None) -> date:
    """The night a moment belongs to, named by its evening: noon to noon, local time."""
    return (at.astimezone(tz) - _NOON).date()


@dataclass(frozen=True, slots=True)
class Night:
    night: date
    pushes: int
    minutes_cold: float


@dataclass(frozen=True, slots=True)
class Summary:
    readings: int
    first_at: datetime | None
    last_at: datetime | None
    alerts: int
    pushes: int
    minutes_cold: float
    nights: tuple[Night, ...]


def _cold_minutes(alerts: Sequence[ReplayedAlert], end: datetime | None) -> dict[date, float]:
    """Minutes each night had a cold alert open, split at noon."""
    out: dict[date, float] = {}
    for alert in alerts:
        if alert.condition is not Condition.COLD:
            continue
        start, stop = alert.opened_at, alert.resolved_at or end or alert.opened_at
        while start < stop:
            local = start.astimezone()
            noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
            piece_end = min(stop, noon if noon > local else noon + timedelta(days=1))
            night = night_of(start)
            out[night] = out.get(night, 0.0) + (piece_end - start).total_seconds() / 60
            start = piece_end
    return out


def summarize(replay: Replay) -> Summary:
    pushes: dict[date, int] = {}
    for alert in replay.alerts:
        for push in alert.pushes:
            pushes[night_of(push.at)] = pushes.get(night_of(push.at), 0) + 1
    cold = _cold_minutes(replay.alerts, replay.last_at)
    nights = tuple(
        Night(night, pushes.get(night, 0), round(cold.get(night, 0.0), 1))
        for night in sorted(set(pushes) | set(cold))
    )
    return Summary(
        readings=replay.readings,
        first_at=replay.first_at,
        last_at=replay.last_at,
        alerts=len(replay.alerts),
        pushes=sum(pushes.values()),
        minutes_cold=round(sum(cold.values()), 1),
        nights=nights,
    )


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def alert_json(alert: ReplayedAlert) -> dict[str, Any]:
    return {
        "condition": alert.condition.value,
        "room": alert.room,
        "severity": alert.severity.name.lower(),
        "since": _iso(alert.since),
        "opened": _iso(alert.opened_at),
        "resolved": _iso(alert.resolved_at),
        "held_for_quiet_hours": alert.held,
        "worst": alert.worst,
        "pushes": [
            {
                "kind": push.kind,
                "at": _iso(push.at),
                "to": push.audience,
                "title": push.title,
                "body": push.body,
            }
            for push in alert.pushes
        ],
    }


def replay_json(replay: Replay, summary: Summary) -> dict[str, Any]:
    """One replay as a JSON object: its settings, every alert, and the summary."""
    rules = replay.rules
    return {
        "settings": {
            "preset": rules.preset,
            **{
                key: rules.effective(key)
                for key in ("cold_below_c", "cold_clear_c", "cool_below_c", "warm_above_c")
            },
            "hot_above_c": rules.hot_above_c,
            "cold_for_s": rules.cold_for_s,
            "stale_after_s": rules.stale_after_s,
            "quiet_hours": replay.alerts_settings.quiet_hours,
        },
        "alerts": [alert_json(alert) for alert in replay.alerts],
        "summary": {
            "readings": summary.readings,
            "from": _iso(summary.first_at),
            "to": _iso(summary.last_at),
            "alerts": summary.alerts,
            "pushes": summary.pushes,
            "minutes_cold": summary.minutes_cold,
            "nights": [
                {"night": n.night.isoformat(), "pushes": n.pushes, "minutes_cold": n.minutes_cold}
                for n in summary.nights
            ],
        },
    }
