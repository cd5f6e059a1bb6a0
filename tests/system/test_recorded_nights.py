"""A recorded night is a bug report: the real hub is fed three recorded nights (gaps, spikes,
a 45-minute outage) through a real Mosquitto on its own clock, and `nursery replay` of
`nursery export` must give exactly the alerts the hub raised.

The rules judge a reading at the hub's time of arrival and silence by the hub's clock, so
the hub runs on a clock the test holds: each reading is published at its recorded moment,
and between readings the test moves the clock to each moment the hub's own ticker asks for
(`Monitor.next_due`) and ticks it there, as the ticker would have in those hours.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import reading_topic
from hub.store.database import Received
from tests.support.cli import nursery
from tests.support.hub import RunningHub, hub_settings
from tests.support.mosquitto import Mosquitto
from tests.support.push import Receiver
from tests.support.replay import REPLAY_DATA
from tests.support.wait import wait_until


class HeldClock:
    """The hub's clock, moved only by the test."""

    def __init__(self, at: datetime) -> None:
        self._at = at
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._at

    def set(self, at: datetime) -> None:
        with self._lock:
            self._at = at


def _past(handled: list[int], seq: int) -> bool:
    return handled[0] > seq


def _alert_keys(alerts: Iterable[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [
        (a["room"], a["condition"], a["opened_at"], a["resolved_at"], a["held"], a["repeats"],
         a["escalated_at"])
        for a in alerts
    ]  # fmt: skip


def _replayed_keys(document: dict[str, Any]) -> list[tuple[Any, ...]]:
    def z(text: str | None) -> str | None:
        if text is None:
            return None
        at = datetime.fromisoformat(text).astimezone(UTC)
        return at.isoformat(timespec="milliseconds").replace("+00:00", "Z").replace(".000Z", "Z")

    keys = []
    for a in document["alerts"]:
        kinds = [p["kind"] for p in a["pushes"]]
        escalated = [p["at"] for p in a["pushes"] if p["kind"] == "escalation"]
        keys.append(
            (a["room"], a["condition"], z(a["opened"]), z(a["resolved"]),
             a["held_for_quiet_hours"], kinds.count("repeat"),
             z(escalated[0]) if escalated else None)
        )  # fmt: skip
    return keys


def _iso_z(text: str | None) -> str | None:
    """The export's times (ISO, Z), normalised as _replayed_keys writes them."""
    if text is None:
        return None
    at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z").replace(".000Z", "Z")


@pytest.mark.slow
def _queued_pushes(db: Path) -> list[tuple[str, str, str]]:
    """Every push the hub queued for its one channel: (time, title, body)."""
    connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        rows = connection.execute("SELECT created_at_ms, title, body FROM pushes ORDER BY id")
        return sorted((_iso_z(_ms(ms)) or "", title, body) for ms, title, body in rows)
    finally:
        connection.close()


def _ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


def test_replay_of_the_hubs_export_reproduces_the_alerts_it_raised(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    mqtt_client: mqtt.Client,
    clean_env: Any,
    receivers: Callable[..., Receiver],
) -> None:
    rows = list(csv.DictReader((REPLAY_DATA / "three-nights.csv").open()))
    times = [datetime.fromisoformat(r["ts"].replace("Z", "+00:00")) for r in rows]
    clock = HeldClock(times[0] - timedelta(seconds=1))
    receiver = receivers()  # a phone's push service: the hub queues every push for it
    settings = hub_settings(
        tmp_path, broker.port, base_topic, notify={"urls": [receiver.url("family")]}
    )
    hub = RunningHub(settings, clock=clock)
    try:
        wait_until(hub.mqtt_connected, timeout=15, what="the hub on the broker")
        monitor = hub.app.state.hub.monitor
        handled: list[int] = [0]
        seen = threading.Condition()
        on_readings = monitor.on_readings

        def counted(batch: Iterable[Received]) -> None:  # a probe: the real call, counted
            items = list(batch)
            on_readings(items)
            with seen:
                handled[0] += len(items)
                seen.notify_all()

        monitor.on_readings = counted
        boot = new_boot_id()
        topic = reading_topic(base_topic, "nursery")
        for seq, (row, at) in enumerate(zip(rows, times, strict=True)):
            while (due := monitor.next_due()) < at:
                clock.set(due)
                monitor.tick()
            clock.set(at)
            reading = ReadingMessage(
                "nursery", boot, seq, at, float(row["temperature_c"]), float(row["humidity_pct"])
            )
            mqtt_client.publish(topic, reading.encode(), qos=1).wait_for_publish(5)
            with seen:  # the monitor has judged it before the clock moves on
                assert seen.wait_for(partial(_past, handled, seq), timeout=10), seq

        export = tmp_path / "export.jsonl"
        env = {"NURSERY_HUB__DB": str(settings.hub.db)}
        done = nursery(tmp_path, "export", "--out", str(export), **env)  # beside the running hub
        assert done.returncode == 0, done.stderr
    finally:
        hub.stop()
    records = [json.loads(line) for line in export.read_text().splitlines()]
    raised = [r for r in records if r["record"] == "alert"]
    conditions = {a["condition"] for a in raised}
    assert {"cold", "cool", "no_data"} <= conditions, raised  # the trace did its job

    replayed = nursery(tmp_path, "replay", str(export), "--json", **env)
    assert replayed.returncode == 0, replayed.stderr
    hub_keys = [
        (room, cond, _iso_z(o), _iso_z(r), held, rep, _iso_z(e))
        for room, cond, o, r, held, rep, e in _alert_keys(raised)
    ]
    document = json.loads(replayed.stdout)
    assert _replayed_keys(document) == hub_keys
    # And every push, word for word, at the moment the hub queued it.
    pushes = sorted(
        (_iso_z(p["at"]) or "", p["title"], p["body"])
        for alert in document["alerts"]
        for p in alert["pushes"]
    )
    assert pushes == _queued_pushes(settings.hub.db)
