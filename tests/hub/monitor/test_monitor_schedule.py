"""The monitor's ticker sleeps until the next moment time alone can change something.

The same night, played twice on a clock the test moves one second at a time: once
ticking every second, as the ticker used to, and once ticking only when the monitor says
something is due (a heartbeat with nothing due ticks no room). Same pushes at the same
times, same incidents, far fewer ticks.
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.messages import ReadingMessage
from hub.conditions import Condition, Incident
from hub.config import AlertsSettings, NotifySettings
from hub.monitor import schedule
from hub.monitor.alerts import next_due, quiet_hours_end
from hub.monitor.rules import Policy, RoomRules, silence_due_at
from hub.monitor.schedule import FULL_TICK_S, MAX_SLEEP_S, TICK_S, Ticker
from hub.monitor.watch import Monitor
from hub.notify.outbox import PushOutbox
from hub.store.database import Received, Store
from mqttlink.rules_settings import RulesSettings
from nursery.config import Settings

T0 = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
LOCAL_T0 = T0.astimezone()
# Quiet hours from 40 to 70 minutes into the night, in the machine's local time.
QUIET = f"{(LOCAL_T0 + timedelta(minutes=40)):%H:%M}-{(LOCAL_T0 + timedelta(minutes=70)):%H:%M}"
SETTINGS = Settings(
    rules=RulesSettings(
        cold_for_s=60, stale_after_s=120, cool_below_c=18.0, cool_for_s=60, drop_c=15.0
    ),
    alerts=AlertsSettings(
        repeat_after_s=[303, 607], repeat_every_s=601, escalate_after_s=905, quiet_hours=QUIET
    ),
    notify=NotifySettings(urls=["json://127.0.0.1:9/family"]),
)
NIGHT_S = 2 * 3600


def temperature_at(second: int) -> float | None:
    """The room through the night; None while the sensor is silent."""
    minute = second / 60
    if minute < 5:
        return 19.0
    if minute < 30:
        return 14.0  # cold: first page, repeats, escalation, an ack at minute 25
    if minute < 38:
        return 19.0
    if minute < 45:
        return None  # silent: no data, then readings again
    if minute < 75:
        return 17.0  # cool during quiet hours: held, then sent when they end
    if minute < 80:
        return 19.0
    if minute < 100:
        return 14.5  # cold again, snoozed at minute 85
    return 19.0


def play(db: Path, *, every_second: bool) -> tuple[list[tuple[object, ...]], int]:
    """One night; returns the pushes queued (time, title), the incidents, and how many
    ticks it took. Inputs come half a second after a whole second; the ticker ticks on
    every whole second, or as hub.monitor.watch's ticker does: when the monitor says."""
    now = [T0]
    store, outbox = Store(db), PushOutbox(db)
    monitor = Monitor(SETTINGS, store, outbox, clock=lambda: now[0])
    monitor.restore()
    boot, seq, ticks = str(uuid.uuid4()), 0, 0

    def answer(act: Callable[[int], object]) -> None:
        for alert in monitor.alerts():
            if alert.state == "open" and alert.incident.id is not None:
                act(alert.incident.id)

    inputs: list[tuple[datetime, float | str]] = [
        (T0 + timedelta(seconds=25 * 60 + 0.5), "ack"),
        (T0 + timedelta(seconds=85 * 60 + 0.5), "snooze"),
    ]
    for second in range(0, NIGHT_S, 10):
        temperature = temperature_at(second)
        if temperature is not None:
            inputs.append((T0 + timedelta(seconds=second + 0.5), temperature))
    inputs.sort(key=lambda item: item[0])

    heartbeat = [False]

    def planned(ticked: bool) -> datetime:  # hub.monitor.schedule.Ticker._loop's arithmetic
        wait_s = (monitor._next_due(now[0]) - now[0]).total_seconds()
        heartbeat[0] = wait_s >= MAX_SLEEP_S
        if wait_s <= 0 and ticked:
            wait_s = TICK_S
        return now[0] + timedelta(seconds=min(wait_s, MAX_SLEEP_S))

    next_tick = T0 + timedelta(seconds=1) if every_second else planned(True)
    last_full = T0
    for at, value in [*inputs, (T0 + timedelta(seconds=NIGHT_S), "end")]:
        # An input before a tick of the same instant: a reading received in the very
        # instant the ticker ticks would not be news to the rules (Monitor._confirmed).
        while next_tick < at:
            now[0] = next_tick
            nothing_due = (
                heartbeat[0]
                and monitor._next_due(now[0]) > now[0]
                and (now[0] - last_full).total_seconds() < FULL_TICK_S
            )  # hub.monitor.schedule.Ticker._nothing_due
            if every_second or not nothing_due:
                monitor.tick()
                ticks += 1
                last_full = now[0]
            next_tick = now[0] + timedelta(seconds=1) if every_second else planned(True)
        now[0] = at
        if value == "ack":
            answer(lambda i: monitor.acknowledge(i, "Sam", "dashboard"))
        elif value == "snooze":
            answer(lambda i: monitor.snooze(i, 15, "Alex", "push"))
        elif isinstance(value, float):
            reading = ReadingMessage("nursery", boot, seq, at, value, 50.0)
            seq += 1
            monitor.on_readings(store.add_readings([Received(reading, at)]))
        if not every_second and monitor._next_due(at) < next_tick:
            next_tick = planned(False)  # the input woke the ticker
    outbox.close()
    store.close()
    with sqlite3.connect(db) as conn:
        pushes = conn.execute("SELECT created_at_ms, title FROM pushes ORDER BY id").fetchall()
        incidents = conn.execute("SELECT * FROM incidents ORDER BY id").fetchall()
    return [*pushes, *incidents], ticks


def same_but_sooner(row: tuple[object, ...], every: tuple[object, ...]) -> bool:
    """Equal, except that a time (ms) may be up to a second sooner than the one-second
    ticker's, and a silence's length up to a second different: that ticker saw a
    deadline up to a second late, and measured silence on its own whole seconds."""
    for mine, theirs in zip(row, every, strict=True):
        if isinstance(mine, int) and isinstance(theirs, int) and mine > 10**12:
            if not 0 <= theirs - mine < 1000:
                return False
        elif isinstance(mine, float) and isinstance(theirs, float):
            if abs(mine - theirs) >= 1.0:
                return False
        elif mine != theirs:
            return False
    return True


@pytest.mark.slow
def test_ticking_only_when_due_changes_nothing_but_the_number_of_ticks(tmp_path: Path) -> None:
    every, every_ticks = play(tmp_path / "every.db", every_second=True)
    when_due, due_ticks = play(tmp_path / "due.db", every_second=False)
    assert len(when_due) == len(every)
    for mine, theirs in zip(when_due, every, strict=True):
        assert same_but_sooner(mine, theirs), (mine, theirs)
    titles = " ".join(str(row[1]) for row in every if len(row) == 2).lower()
    for words in ("cold", "still", "no answer yet", "no readings", "back to normal"):
        assert words in titles, words
    assert due_ticks < every_ticks / 4, (due_ticks, every_ticks)


def test_next_due_of_an_incident() -> None:
    policy = AlertsSettings(repeat_after_s=[300, 600], repeat_every_s=600, escalate_after_s=900)
    base = Incident(None, "nursery", Condition.COLD, T0, T0, notified_at=T0, last_push_at=T0)
    assert next_due(base, policy, T0) == T0 + timedelta(seconds=300)
    repeated = Incident(
        None, "nursery", Condition.COLD, T0, T0, notified_at=T0, last_push_at=T0, repeats=2
    )
    assert next_due(repeated, policy, T0) == T0 + timedelta(seconds=600)  # escalation first
    acked = Incident(None, "nursery", Condition.COLD, T0, T0, notified_at=T0, acked_at=T0)
    assert next_due(acked, policy, T0) is None
    until = T0 + timedelta(minutes=15)
    snoozed = Incident(None, "nursery", Condition.COLD, T0, T0, notified_at=T0, snoozed_until=until)
    assert next_due(snoozed, policy, T0) == until
    cool = Incident(None, "nursery", Condition.COOL, T0, T0, notified_at=T0)
    assert next_due(cool, policy, T0) is None  # advisories neither repeat nor escalate


def test_quiet_hours_end_and_silence() -> None:
    local = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)
    assert quiet_hours_end("22:00-07:00", local) == datetime(2026, 11, 24, 7, 0, tzinfo=UTC)
    assert quiet_hours_end("22:00-07:00", local.replace(hour=3)) == local.replace(hour=7)
    assert quiet_hours_end("22:00-07:00", local.replace(hour=12)) is None
    assert quiet_hours_end(None, local) is None
    policy = Policy.from_settings(RulesSettings(stale_after_s=120))
    heard = RoomRules.empty("nursery", T0)
    assert silence_due_at(heard, policy) == T0 + timedelta(seconds=120)


def test_a_quiet_monitor_sleeps_the_longest_and_wakes_for_stop(tmp_path: Path) -> None:
    store, outbox = Store(tmp_path / "hub.db"), PushOutbox(tmp_path / "hub.db")
    monitor = Monitor(SETTINGS, store, outbox, clock=lambda: datetime.now(UTC))
    try:
        now = datetime.now(UTC)
        assert monitor._next_due(now) == now + timedelta(seconds=MAX_SLEEP_S)
        monitor.start()
        assert monitor.watching()
    finally:
        monitor.stop()
        assert not monitor._ticker.is_alive()
        outbox.close()
        store.close()


def test_a_heartbeat_with_nothing_due_ticks_no_room_but_keeps_the_watchdog_fed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Twice a minute the ticker wakes for the watchdog: with no deadline near, it only
    looks at the deadlines again, and the rooms are still judged every FULL_TICK_S."""
    monkeypatch.setattr(schedule, "MAX_SLEEP_S", 0.02)
    monkeypatch.setattr(schedule, "FULL_TICK_S", 3600.0)
    ticks: list[float] = []
    far = timedelta(hours=1)
    ticker = Ticker(
        threading.RLock(),
        lambda: datetime.now(UTC),
        lambda now: now + far,
        lambda: ticks.append(time.monotonic()),
    )
    started = ticker.last_tick
    ticker.start()
    try:
        deadline = time.monotonic() + 10
        while ticker.last_tick - started < 0.2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ticker.last_tick - started >= 0.2, "no heartbeat"
        assert ticker.watching(1.0)
        assert ticks == []
        monkeypatch.setattr(schedule, "FULL_TICK_S", 0.1)
        while not ticks and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ticks, "the rooms were never judged again"
    finally:
        ticker.stop()
