"""The settings page's "what if": the last days of stored readings replayed with the
thresholds in force and with the ones about to be saved, by the same replay as the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.config import AlertsSettings
from hub.monitor.rules import ReadingSeen
from hub.preferences import Unit
from hub.replay.engine import Replay, ReplayedAlert
from hub.store.database import Store
from mqttlink.rules_settings import RulesSettings

PREVIEW_DAYS = 7


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one set of rules would have done: every alert, oldest first, and its pushes."""

    alerts: tuple[ReplayedAlert, ...]

    @property
    def pushes(self) -> int:
        return sum(len(alert.pushes) for alert in self.alerts)


def what_if(
    store: Store,
    alerts: AlertsSettings,
    rules: tuple[RulesSettings, RulesSettings],
    now: datetime,
    unit: Unit = "C",
    days: int = PREVIEW_DAYS,
) -> tuple[Outcome, Outcome]:
    """The last `days` of every room replayed under both rules (now, changed), each room
    read once, in the order its readings arrived."""
    since = now - timedelta(days=days)
    found: tuple[list[ReplayedAlert], list[ReplayedAlert]] = ([], [])
    for room in store.rooms():
        replays = [Replay(r, alerts, unit=unit) for r in rules]
        for row in store.recent_readings(room.name, since):
            reading = ReadingSeen(
                row.ts, row.received_at, row.temperature_c, row.humidity_pct, row.boot_id, row.seq
            )
            for replay in replays:
                replay.reading(room.name, reading)
        for replay, out in zip(replays, found, strict=True):
            out.extend(replay.finish(now))
    now_alerts, changed_alerts = (tuple(sorted(a, key=lambda x: x.opened_at)) for a in found)
    return Outcome(now_alerts), Outcome(changed_alerts)
