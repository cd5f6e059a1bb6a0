"""The replay tests' shared parts: their settings and the readable alert listing the golden
traces' expected files hold (tests/data/replay/*.expected)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.replay.engine import Replay
from hub.replay.sources import SourceOptions, read_readings
from nursery.config import Settings

REPLAY_DATA = Path(__file__).resolve().parents[1] / "data" / "replay"


def _hm(at: datetime | str | None) -> str:
    if at is None:
        return "open"
    value = at if isinstance(at, datetime) else datetime.fromisoformat(at)
    return value.astimezone(UTC).strftime("%d %H:%M:%S")


def listing(alerts: list[dict[str, Any]]) -> str:
    """One line per alert (condition, opened, resolved), one indented line per push: the
    shape of an expected file, from replay_json's alerts."""
    lines = []
    for alert in alerts:
        held = " held" if alert["held_for_quiet_hours"] else ""
        lines.append(
            f"{alert['condition']} {alert['room']} {_hm(alert['opened'])} -> "
            f"{_hm(alert['resolved'])}{held}"
        )
        lines += [f"  {p['kind']} {_hm(p['at'])} {p['title']}" for p in alert["pushes"]]
    return "\n".join(lines) + "\n"


def replay_file(path: Path, settings: Settings | None = None) -> Replay:
    """The file replayed with the default settings (or `settings`), local time UTC."""
    settings = settings or Settings()
    replay = Replay(settings.rules, settings.alerts, local_tz=UTC)
    for room, reading in read_readings(path, SourceOptions()):
        replay.reading(room, reading)
    replay.finish()
    return replay


def store_trace(db: Path, path: Path, ending: datetime, room: str = "nursery") -> int:
    """The trace's readings stored in the hub database `db` as ingest stores them, moved
    in time so its last reading arrived at `ending`; how many."""
    from contract.messages import ReadingMessage, new_boot_id
    from hub.store.database import Received, Store

    rows = [r for _, r in read_readings(path, SourceOptions(room))]
    shift = ending - rows[-1].received_at
    boot = new_boot_id()
    with Store(db) as store:
        store.add_readings(
            Received(
                ReadingMessage(room, boot, seq, r.ts + shift, r.temperature_c, r.humidity_pct),
                r.received_at + shift,
            )
            for seq, r in enumerate(rows)
        )
    return len(rows)
