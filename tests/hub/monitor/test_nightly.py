"""The bedtime check-in and the morning summary.

Pure decisions over a history stored in the real Store (a temporary SQLite file), the
scheduler over the real outbox, and the whole hub (Mosquitto, a local push receiver)
with an injected clock, so no test waits for 19:30.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from contract.messages import ReadingMessage, new_boot_id
from hub.accounts import Accounts
from hub.comfort import ComfortBand
from hub.conditions import Condition, Incident
from hub.config import AlertsSettings
from hub.messages import BODY_MAX
from hub.monitor import nightly, nightly_messages
from hub.monitor.alerts import acknowledge
from hub.monitor.nightly_push import NightlyPushes
from hub.notify.outbox import PushOutbox
from hub.preferences import Preferences
from hub.store.database import Received, Store, from_ms
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import SettingsError
from nursery.config import Settings, load_settings
from tests.support import TEST_PASSWORD, Mosquitto, RunningHub, StartHub, hub_settings, wait_until
from tests.support.push import Receiver

TZ = timezone(timedelta(hours=1))  # the pure tests' local time
ROOM = "nursery"
BAND = ComfortBand.from_rules(RulesSettings())  # uk: comfortable 17–20 °C
STEP = timedelta(minutes=5)


def local(day: date, hour: int, minute: int = 0, tz: timezone | None = TZ) -> datetime:
    when = datetime.combine(day, time(hour, minute))
    return when.replace(tzinfo=tz) if tz else when.astimezone()


def night_readings(
    morning: date, low: float | None, tz: timezone | None = TZ, skip: tuple[int, int] = (0, 0)
) -> list[tuple[datetime, float]]:
    """19:00 → 07:00 every 5 min at 18.5 °C, falling to `low` at 04:00 and back; the
    readings between `skip` (minutes after 19:00) are left out."""
    start = local(morning - timedelta(days=1), 19, tz=tz)
    lowest = local(morning, 4, tz=tz)
    out: list[tuple[datetime, float]] = []
    at = start
    while at < local(morning, 7, tz=tz):
        minutes = (at - start).total_seconds() / 60
        temperature = 18.5
        if low is not None:
            hours_away = abs((at - lowest).total_seconds()) / 3600
            temperature = min(18.5, low + (18.5 - low) * hours_away / 3)
        if not skip[0] <= minutes < skip[1]:
            out.append((at, round(temperature, 1)))
        at += STEP
    return out


def store_readings(store: Store, readings: list[tuple[datetime, float]]) -> None:
    boot = new_boot_id()
    store.add_readings(
        Received(ReadingMessage(ROOM, boot, seq, ts, temperature, 50.0), ts)
        for seq, (ts, temperature) in enumerate(readings)
    )


def hour_lows(store: Store, since: datetime, until: datetime) -> list[nightly.HourLow]:
    return [
        nightly.HourLow(from_ms(b.start_ms), b.temperature_min)
        for b in store.hourly(ROOM, since, until)
    ]


def reminder(store: Store, evening: date) -> nightly.ColdNights | None:
    now = local(evening, 19, 30)
    nights = [nightly.night(evening - timedelta(days=k), TZ, "19:30", None) for k in range(3)]
    assert all(n.end <= now for n in nights)
    lows = nightly.night_lows(hour_lows(store, nights[-1].start, now), nights)
    return nightly.cold_nights(ROOM, lows, BAND.cool_below_c)


EVENING = date(2026, 11, 23)


# --- when -------------------------------------------------------------------------------


def test_a_daily_push_is_due_once_from_its_time_for_two_hours() -> None:
    day = EVENING
    assert nightly.due(None, local(day, 19, 30), None) is None  # unset: off
    assert nightly.due("19:30", local(day, 19, 29), None) is None
    assert nightly.due("19:30", local(day, 19, 30), None) == day
    assert nightly.due("19:30", local(day, 19, 30), day) is None  # sent today already
    assert nightly.due("19:30", local(day, 21, 29), day - timedelta(days=1)) == day
    assert nightly.due("19:30", local(day, 21, 31), None) is None  # slept through: skipped
    assert nightly.due("19:30", local(day + timedelta(days=1), 19, 30), day) == day + timedelta(
        days=1
    )


def test_the_times_are_validated_like_quiet_hours(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    assert AlertsSettings(checkin_at="19:30", summary_at="07:00").checkin_at == "19:30"
    assert AlertsSettings().checkin_at is None and AlertsSettings().summary_at is None
    clean_env.setenv("NURSERY_ALERTS__CHECKIN_AT", "7:30pm")
    clean_env.setenv("NURSERY_ALERTS__SUMMARY_AT", "24:00")
    with pytest.raises(SettingsError) as error:
        load_settings()
    lines = str(error.value).splitlines()
    assert any(line.startswith("alerts.checkin_at (NURSERY_ALERTS__CHECKIN_AT)") for line in lines)
    assert any(line.startswith("alerts.summary_at (NURSERY_ALERTS__SUMMARY_AT)") for line in lines)
    assert all("HH:MM" in line for line in lines)


# --- the warming reminder ---------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store(tmp_path / "hub.db") as opened:
        yield opened


def test_three_cold_nights_give_the_reminder_with_the_low_and_its_hour(store: Store) -> None:
    for back in range(3):
        store_readings(store, night_readings(EVENING - timedelta(days=back), 15.8))
    cold = reminder(store, EVENING)
    assert cold is not None
    words = nightly_messages.checkin([nightly.RoomNow(ROOM, 18.4, True)], ["Sam"], [cold]).body
    assert "The last 3 nights the nursery fell to 15.8 °C around 04:00" in words
    assert "a warmer sleep bag or a layer may help" in words


def test_two_cold_nights_and_a_missing_one_still_remind(store: Store) -> None:
    store_readings(store, night_readings(EVENING, 16.4))
    store_readings(store, night_readings(EVENING - timedelta(days=2), 15.9))
    cold = reminder(store, EVENING)
    assert cold is not None
    words = nightly_messages.checkin([nightly.RoomNow(ROOM, 18.4, True)], [], [cold]).body
    assert "2 of the last 3 nights the nursery fell below 17 °C, lowest 15.9 °C" in words


def test_one_cold_night_a_mild_one_and_a_missing_one_give_no_reminder(store: Store) -> None:
    store_readings(store, night_readings(EVENING, 15.8))
    store_readings(store, night_readings(EVENING - timedelta(days=1), None))
    assert reminder(store, EVENING) is None


def test_a_night_with_only_a_few_readings_is_not_counted_as_cold(store: Store) -> None:
    store_readings(store, night_readings(EVENING, 15.8))
    sparse = night_readings(EVENING - timedelta(days=1), 15.8)
    store_readings(store, [r for r in sparse if local(EVENING, 3) <= r[0] < local(EVENING, 5)])
    assert reminder(store, EVENING) is None


def test_a_silent_room_turns_the_checkin_into_a_request_to_check() -> None:
    rooms = [nightly.RoomNow(ROOM, 18.4, False), nightly.RoomNow("baby-room", 19.0, True)]
    message = nightly_messages.checkin(rooms, [], [])
    assert message.title == nightly_messages.CHECKIN_PROBLEM_TITLE
    assert message.priority == "default"
    assert message.body.startswith("No recent reading from the nursery: please check the room")
    assert "18.4" not in message.body  # an old reading is not the room now
    assert "Watching the baby room: 19.0 °C, online; alerts go to every configured" in message.body


# --- the morning summary ----------------------------------------------------------------------


def silence(opened: datetime, resolved: datetime, by: str | None) -> Incident:
    incident = Incident(None, ROOM, Condition.OFFLINE, opened, opened)
    if by:
        incident = acknowledge(incident, by, "dashboard", opened + timedelta(minutes=2))
    return replace(incident, resolved_at=resolved)


def test_the_summary_says_range_minutes_outside_alerts_who_answered_and_which_part_stopped(
    store: Store,
) -> None:
    morning = EVENING + timedelta(days=1)
    # Monitor silent 23:00–23:30 (its offline alert answered by Sam); hub down 02:00–02:40.
    readings = night_readings(morning, 15.8, skip=(240, 270))
    readings = [r for r in readings if not local(morning, 2) <= r[0] < local(morning, 2, 40)]
    store_readings(store, readings)
    cold = Incident(None, ROOM, Condition.COLD, local(morning, 3, 30), local(morning, 3, 30))
    store.save_incidents([silence(local(EVENING, 23), local(EVENING, 23, 31), "Sam"), cold])
    last = nightly.night(morning, TZ, "19:30", "07:00")
    samples = [
        (from_ms(b.start_ms), b.temperature_sum / b.count)
        for b in store.buckets(ROOM, last.start, last.end, 10_000)
    ]
    summary = nightly.summarize(
        ROOM, last, samples, store.incidents_between(ROOM, last.start, last.end), BAND, 300
    )
    assert summary.low_c == 15.8 and summary.high_c == 18.5
    # Below 17 °C from about 02:20 to 05:40 (the 02:00–02:40 gap counts 5 min at most).
    assert 140 <= summary.minutes_outside <= 185
    words = nightly_messages.summary([summary]).body
    assert words.startswith("19:30–07:00. The nursery: 15.8 °C to 18.5 °C,")
    assert "min outside 17–20 °C" in words
    assert "monitor offline at 23:00, answered by Sam" in words
    assert "cold at 03:30, not answered" in words
    assert "The room's monitor was silent 22:55–23:30 (35 min); its alert went out" in words
    assert "1 more gap on the dashboard's chart" in words
    gaps = [(g.start.strftime("%H:%M"), g.end.strftime("%H:%M"), g.alerted) for g in summary.gaps]
    assert gaps == [("22:55", "23:30", True), ("01:55", "02:40", False)]
    assert "every part stayed up" not in words.lower()


def test_a_hub_that_was_not_running_is_named_as_such() -> None:
    morning = EVENING + timedelta(days=1)
    last = nightly.night(morning, TZ, "19:30", "07:00")
    samples = [r for r in night_readings(morning, None) if not local(morning, 2) <= r[0]]
    words = nightly_messages.summary([nightly.summarize(ROOM, last, samples, [], BAND, 300)]).body
    assert (
        "No readings were stored 01:55–07:00 (5 h 5 min): the hub was not running, so no "
        "alert could go out." in words
    )


def test_a_busy_night_still_fits_a_lock_screen() -> None:
    morning = EVENING + timedelta(days=1)
    last = nightly.night(morning, TZ, "19:30", "07:00")
    samples = night_readings(morning, 15.8)[::3]  # every 15 min: a gap between each
    alerts = [
        Incident(None, ROOM, condition, local(morning, 1, n), local(morning, 1, n))
        for n, condition in enumerate([Condition.COLD, Condition.NO_DATA, Condition.HOT] * 3)
    ]
    summary = nightly.summarize(ROOM, last, samples, alerts, BAND, 300)
    body = nightly_messages.summary([summary]).body
    assert len(body) <= BODY_MAX, body
    assert "6 more on the dashboard" in body and "more gaps on the dashboard's chart" in body


def test_a_quiet_night_says_every_part_stayed_up() -> None:
    morning = EVENING + timedelta(days=1)
    last = nightly.night(morning, TZ, None, "07:00")
    samples = night_readings(morning, None)
    summary = nightly.summarize(ROOM, last, samples, [], BAND, 300)
    words = nightly_messages.summary([summary]).body
    assert "18.5 °C to 18.5 °C, 0 min outside 17–20 °C. No alerts. Every part stayed up." in words


# --- the scheduler over the real outbox ----------------------------------------------------


def scheduler(
    settings: Settings, store: Store, outbox: PushOutbox, now: list[datetime]
) -> tuple[NightlyPushes, Preferences]:
    preferences = Preferences(settings.hub.db, settings.rules, lambda: [])
    return NightlyPushes(
        settings, store, outbox, lambda: now[0], preferences.household, lambda: ["Sam", "Alex"]
    ), preferences


def queued(db: Path) -> list[str]:
    with sqlite3.connect(db) as connection:
        return [str(r[0]) for r in connection.execute("SELECT title FROM pushes ORDER BY id")]


def test_each_push_is_queued_once_a_day_across_restarts_and_skipped_when_too_late(
    tmp_path: Path,
) -> None:
    db = tmp_path / "hub.db"
    settings = Settings(
        hub={"db": db},
        alerts={"checkin_at": "19:30", "summary_at": "07:00"},
        notify={"urls": ["json://127.0.0.1:9/a"], "caregivers": [["json://127.0.0.1:9/b"]]},
    )
    evening = local(EVENING, 19, 30, tz=None)
    now = [evening + timedelta(minutes=1)]
    with Store(db) as store, PushOutbox(db) as outbox:
        store_readings(store, [(now[0].astimezone(UTC) - timedelta(seconds=30), 18.4)])
        first, prefs = scheduler(settings, store, outbox, now)
        first.start()  # its first round, at 19:31, queues the check-in
        assert len(queued(db)) == 2
        assert first.check(now[0] + timedelta(minutes=5)) == []
        first.stop()
        prefs.close()
        again, prefs = scheduler(settings, store, outbox, now)  # a restart
        again.start()
        assert again.check(now[0] + timedelta(minutes=10)) == []
        # The hub was down from 06:50 to 09:30: the summary is skipped, not sent late.
        assert again.check(local(EVENING + timedelta(days=1), 9, 30, tz=None)) == []
        # Down over 19:30 the next day, up at 20:15: still within two hours, sent at start.
        assert again.check(local(EVENING + timedelta(days=1), 20, 15, tz=None)) == ["checkin"]
        again.stop()
        prefs.close()
    titles = queued(db)
    assert (
        titles
        == [nightly_messages.CHECKIN_TITLE] * 2
        + [
            nightly_messages.CHECKIN_PROBLEM_TITLE  # the next day: no reading for 24 h
        ]
        * 2
    )


# --- the whole hub ----------------------------------------------------------------------------


@pytest.fixture
def hub_at(
    start_hub: StartHub, monkeypatch: pytest.MonkeyPatch
) -> Callable[[Settings, Callable[[], datetime]], RunningHub]:
    """start_hub with the app's clock injected."""
    import hub.app

    real = hub.app.create_app

    def start(settings: Settings, clock: Callable[[], datetime]) -> RunningHub:
        monkeypatch.setattr(hub.app, "create_app", functools.partial(real, clock=clock))
        return start_hub(settings)

    return start


@pytest.mark.slow
def test_the_hub_sends_one_checkin_to_each_caregiver_and_never_the_episode_log(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    hub_at: Callable[[Settings, Callable[[], datetime]], RunningHub],
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers()
    # The hub's clock reads 10 s before 19:30 today, and runs on at the real pace.
    today = datetime.now().astimezone().date()
    target = local(today, 19, 30, tz=None)
    offset = target - timedelta(seconds=10) - datetime.now(UTC)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    settings = hub_settings(tmp_path, broker.port, base_topic, alerts={"checkin_at": "19:30"})
    accounts = Accounts(settings.hub.db, clock)
    accounts.add("tester", TEST_PASSWORD)  # an account without channels: not paged
    ids = [accounts.add(name, TEST_PASSWORD).id for name in ("Sam", "Alex")]
    accounts.close()
    preferences = Preferences(settings.hub.db, settings.rules, lambda: ids)
    for caregiver_id, path in zip(ids, ("sam", "alex"), strict=True):
        preferences.add_channel(caregiver_id, receiver.url(path), "phone")
    preferences.close()
    with Store(settings.hub.db) as store:  # the room as the firmware left it a moment ago
        store_readings(store, [(clock() - timedelta(seconds=5), 18.4)])
    hub = hub_at(settings, clock)
    note = "secret-note-31415 left leg jerks"
    episode = hub.post(
        "/api/episodes",
        json={
            "room": ROOM,
            "started_at": (clock() - timedelta(hours=1)).isoformat(),
            "duration_s": 20,
            "notes": note,
        },
    )
    assert episode.status_code == 201, episode.text
    assert receiver.answered == []  # logged before the check-in
    wait_until(lambda: len(receiver.answered) >= 2, timeout=30, what="the check-in pushes")
    paths = sorted(r.path for r in receiver.answered)
    assert paths == ["/alex", "/sam"]
    body = str(receiver.answered[0].json()["message"])
    assert "Watching the nursery: 18.4 °C, online; alerts go to Sam, then Alex." in body
    assert note not in body and "episode" not in body.lower()
    hub.stop()

    again = hub_at(settings, clock)  # a restart, still within the two hours
    assert again.get("/healthz").status_code == 200
    assert queued(settings.hub.db).count(nightly_messages.CHECKIN_TITLE) == 2
    assert len(receiver.answered) == 2


@pytest.mark.slow
def test_the_hub_sends_last_nights_summary_with_who_answered(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    hub_at: Callable[[Settings, Callable[[], datetime]], RunningHub],
    receivers: Callable[..., Receiver],
) -> None:
    receiver = receivers()
    today = datetime.now().astimezone().date()
    offset = local(today, 7, 0, tz=None) - timedelta(seconds=10) - datetime.now(UTC)

    def clock() -> datetime:
        return datetime.now(UTC) + offset

    settings = hub_settings(
        tmp_path,
        broker.port,
        base_topic,
        alerts={"summary_at": "07:00"},
        notify={"urls": [receiver.url("family")]},
    )
    with Store(settings.hub.db) as store:
        store_readings(store, [*night_readings(today, 15.8, tz=None), (clock(), 18.5)])
        opened = local(today, 4, 0, tz=None)
        cold = Incident(None, ROOM, Condition.COLD, opened, opened, value=15.9)
        cold = acknowledge(cold, "Sam", "dashboard", opened + timedelta(minutes=3))
        store.save_incidents([replace(cold, resolved_at=opened + timedelta(minutes=40))])
    hub = hub_at(settings, clock)
    note = "secret-note-27182 arms only"
    episode = hub.post(
        "/api/episodes",
        json={"room": ROOM, "started_at": opened.isoformat(), "duration_s": 20, "notes": note},
    )
    assert episode.status_code == 201, episode.text
    assert receiver.answered == []
    wait_until(lambda: receiver.answered, timeout=30, what="the summary push")
    summary = receiver.answered[0].json()
    assert summary["title"] == nightly_messages.SUMMARY_TITLE
    body = str(summary["message"])
    assert body.startswith("19:00–07:00. The nursery: 15.8 °C to 18.5 °C,")
    assert "cold at 04:00, answered by Sam" in body
    assert "Every part stayed up." in body
    assert note not in body and "episode" not in body.lower()
    assert [r.path for r in receiver.answered] == ["/family"]
