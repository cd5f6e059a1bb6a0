"""The episode log without HTTP: validation, the room snapshot, the doctor card, the
patterns, the tables in a real SQLite file, the Pi's button, and the report's PDF and CSV."""

from __future__ import annotations

import csv
import io
import sqlite3
import stat
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from contract.episode_events import EpisodeEventMessage
from hub.comfort import ComfortBand
from hub.conditions import Condition, Incident
from hub.episodes.doctor_card import CardPolicy, doctor_card, emergency_text
from hub.episodes.log import AlreadyRunning, EpisodeLog, NotRunning
from hub.episodes.model import Details, Episode, NewEpisode, Timing, episode_signs
from hub.episodes.patterns import patterns
from hub.episodes.report import build_report, iter_readings
from hub.episodes.report_pdf import render_pdf
from hub.episodes.report_render import episodes_csv, readings_csv, render_html
from hub.episodes.snapshot import Point, room_snapshot
from hub.episodes.storage import UNDO_WINDOW, EpisodeStore, NotFound
from hub.episodes.validation import EpisodeInvalid, check_details, check_timing
from hub.store.database import Store
from nursery.config import Settings
from tests.support.episodes import add_readings

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


def episode(
    episode_id: int,
    start: datetime,
    seconds: float | None = 20.0,
    *,
    room: str = "nursery",
    timed: bool = True,
    running: bool = False,
    **details: object,
) -> Episode:
    end = None if running or seconds is None or not timed else start + timedelta(seconds=seconds)
    return Episode(
        id=episode_id,
        timing=Timing(room, start, end, timed and (seconds is not None or running)),
        details=Details(**details),  # type: ignore[arg-type]
        snapshot=None,
        source="app",
        created_at=start,
        updated_at=start,
    )


def fields(error: pytest.ExceptionInfo[EpisodeInvalid]) -> dict[str, str]:
    return {e.field: e.code for e in error.value.errors}


# --- validation --------------------------------------------------------------------------


def test_a_start_in_the_future_is_refused_by_name() -> None:
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(Timing("nursery", NOW + timedelta(minutes=5)), NOW, [])
    assert fields(caught) == {"started_at": "episode.future"}


def test_a_minute_of_phone_clock_slack_is_allowed() -> None:
    timing = check_timing(
        Timing("nursery", NOW, NOW + timedelta(seconds=30)), NOW, [], end_field="duration_s"
    )
    assert timing.duration_s == 30


def test_the_end_must_come_after_the_start_and_not_in_the_future() -> None:
    start = NOW - timedelta(minutes=10)
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(Timing("nursery", start, start), NOW, [])
    assert fields(caught) == {"ended_at": "episode.end_before_start"}
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(Timing("nursery", start, NOW + timedelta(hours=1)), NOW, [])
    assert fields(caught) == {"ended_at": "episode.future"}
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(
            Timing("nursery", start, start - timedelta(seconds=1)), NOW, [], end_field="duration_s"
        )
    assert fields(caught) == {"duration_s": "episode.end_before_start"}


def test_times_without_an_offset_and_bad_rooms_are_named() -> None:
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(Timing("Baby Room", datetime(2026, 11, 23, 2, 0)), NOW, [])
    assert fields(caught) == {"room": "episode.bad_room", "started_at": "episode.naive_time"}


def test_an_untimed_episode_has_no_end() -> None:
    start = NOW - timedelta(minutes=10)
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(Timing("nursery", start, start + timedelta(seconds=5), timed=False), NOW, [])
    assert fields(caught) == {"ended_at": "episode.untimed_end"}


def test_overlap_in_the_same_room_is_refused_and_names_the_clashing_field() -> None:
    other = episode(7, NOW - timedelta(minutes=30), 120)
    inside = Timing("nursery", NOW - timedelta(minutes=29), NOW - timedelta(minutes=20))
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(inside, NOW, [other])
    assert fields(caught) == {"started_at": "episode.overlap"}
    assert "#7" in caught.value.errors[0].message
    reaching_in = Timing("nursery", NOW - timedelta(minutes=31), NOW - timedelta(minutes=29))
    with pytest.raises(EpisodeInvalid) as caught:
        check_timing(reaching_in, NOW, [other], end_field="duration_s")
    assert fields(caught) == {"duration_s": "episode.overlap"}
    # Back to back is fine; another room is fine; the episode itself is not "another".
    after = Timing("nursery", NOW - timedelta(minutes=28), NOW - timedelta(minutes=27))
    assert check_timing(after, NOW, [other]).room == "nursery"
    assert check_timing(Timing("bedroom", inside.started_at, inside.ended_at), NOW, [other])
    assert check_timing(inside, NOW, [other], self_id=7)


def test_a_running_episode_covers_up_to_now_and_an_untimed_one_its_second() -> None:
    running = episode(1, NOW - timedelta(minutes=5), running=True)
    with pytest.raises(EpisodeInvalid):
        check_timing(Timing("nursery", NOW - timedelta(minutes=1), NOW), NOW, [running])
    moment = episode(2, NOW - timedelta(hours=2), None, timed=False)
    with pytest.raises(EpisodeInvalid):
        check_timing(Timing("nursery", moment.started_at, None, timed=False), NOW, [moment])
    check_timing(
        Timing("nursery", moment.started_at + timedelta(seconds=1), None, timed=False),
        NOW,
        [moment],
    )


def test_durations_are_computed_in_utc_across_a_dst_change() -> None:
    # Berlin, 25 Oct 2026: clocks go back from 03:00 CEST to 02:00 CET.
    start = datetime(2026, 10, 25, 2, 59, fold=0, tzinfo=BERLIN)  # 00:59Z
    end = datetime(2026, 10, 25, 2, 1, fold=1, tzinfo=BERLIN)  # 01:01Z, "earlier" on the wall
    timing = check_timing(Timing("nursery", start, end), NOW, [])
    assert timing.duration_s == 120
    assert timing.started_at.tzinfo is UTC


def test_details_are_checked_by_field_and_normalised() -> None:
    with pytest.raises(EpisodeInvalid) as caught:
        check_details(Details(cluster=True, jerks=1, fever_c=48.0, notes="x" * 2001))
    assert fields(caught) == {
        "jerks": "episode.cluster_of_one",
        "fever_c": "episode.bad_fever",
        "notes": "episode.long_notes",
    }
    clean = check_details(
        Details(limbs=("whole_body", "left_leg", "left_leg"), jerks=4, notes="  x ")
    )
    assert clean.limbs == ("left_leg", "whole_body")
    assert clean.cluster is True
    assert clean.notes == "x"


# --- the room snapshot -------------------------------------------------------------------


def test_snapshot_of_a_cooling_hour() -> None:
    # One reading a minute, from 18.0 down 0.05 °C a minute: 15.05 °C at onset.
    points = [
        Point(NOW - timedelta(minutes=60 - i), 18.0 - 0.05 * i, 50.0 - 0.1 * i) for i in range(60)
    ]
    snap = room_snapshot(NOW, points, cold_below_c=16.0, stale_after_s=300, cold_alert_open=True)
    assert snap.temperature_c == pytest.approx(15.05)
    assert snap.humidity_pct == pytest.approx(44.1)
    assert snap.lowest_c == pytest.approx(15.05)
    assert snap.trend_c_per_h == -3.0
    assert snap.trend == "falling"
    # Below 16.0 from i=41 (15.95) on: 19 readings, a minute each.
    assert snap.minutes_below_cold == 19.0
    assert snap.cold_alert_open is True
    assert snap.readings == 60


def test_snapshot_does_not_count_a_silence_as_cold_nor_take_an_old_reading_as_onset() -> None:
    points = [Point(NOW - timedelta(minutes=50), 15.0, 50.0)]
    snap = room_snapshot(NOW, points, cold_below_c=16.0, stale_after_s=300, cold_alert_open=False)
    assert snap.temperature_c is None  # 50 minutes old: not the room at onset
    assert snap.lowest_c == 15.0
    assert snap.minutes_below_cold == 5.0  # one reading counts for stale_after_s at most
    assert snap.trend_c_per_h is None
    empty = room_snapshot(NOW, [], cold_below_c=16.0, stale_after_s=300, cold_alert_open=False)
    assert (empty.temperature_c, empty.lowest_c, empty.minutes_below_cold) == (None, None, None)


# --- when to call the pediatrician ----------------------------------------------------------

POLICY = CardPolicy(frequent_count=3, frequent_window_s=86400, emergency_number="911")


def test_a_short_one_leg_twitch_shows_no_card() -> None:
    card = doctor_card(
        [episode(1, NOW - timedelta(hours=2), 8, limbs=("left_leg",), alert=True)], NOW, POLICY
    )
    assert not card.show
    assert card.emergency_number == "911"


EMERGENCY = (
    "Call 911 now if your baby is floppy, does not respond to you, or has spasms that come in "
    "clusters one after another."
)


@pytest.mark.parametrize(
    ("details", "seconds", "sign", "urgency"),
    [
        ({}, 75, "long", "call_now"),
        ({"limbs": ("whole_body",)}, 5, "whole_body", "call_now"),
        ({"alert": False}, 5, "not_alert", "emergency"),
        ({"floppy": True}, 5, "floppy", "emergency"),
        ({"fever": True}, 5, "fever", "call_now"),
        ({"fever_c": 38.4}, 5, "fever", "call_now"),
        ({"vomiting": True}, 5, "vomiting", "call_now"),
        ({"poor_feeding": True}, 5, "poor_feeding", "call_now"),
        ({"jerks": 6}, 5, "cluster", "emergency"),
        ({"cluster": True}, 5, "cluster", "emergency"),
    ],
)
def test_each_sign_in_one_episode_grades_the_card(
    details: dict[str, Any], seconds: float, sign: str, urgency: str
) -> None:
    card = doctor_card([episode(4, NOW - timedelta(hours=1), seconds, **details)], NOW, POLICY)
    assert card.show and card.urgency == urgency
    assert [r.code for r in card.reasons] == [sign]
    assert card.reasons[0].episode_ids == (4,)
    assert card.emergency == EMERGENCY == emergency_text("911")


def test_an_emergency_card_leads_with_the_emergency_sentence() -> None:
    cluster = episode(1, NOW - timedelta(hours=2), 5, limbs=("left_leg",), jerks=5)
    card = doctor_card([cluster], NOW, POLICY)
    assert card.urgency == "emergency"
    assert card.title == EMERGENCY  # the title is the sentence, with the number to call
    assert "pediatrician" in card.advice
    assert "diagnos" not in card.advice + card.title


def test_a_call_now_card_says_call_the_practice_and_the_number_if_it_cannot_be_reached() -> None:
    card = doctor_card([episode(1, NOW - timedelta(hours=2), 5, fever=True)], NOW, POLICY)
    assert card.urgency == "call_now"
    assert card.title == "Call your pediatrician now"
    assert "Call the practice now" in card.advice and "call 911" in card.advice
    assert card.emergency == EMERGENCY


def test_the_most_urgent_reason_grades_the_card_and_comes_first() -> None:
    fever = episode(1, NOW - timedelta(hours=5), 5, fever=True)
    not_alert = episode(2, NOW - timedelta(hours=2), 5, alert=False)
    card = doctor_card([fever, not_alert], NOW, POLICY)
    assert card.urgency == "emergency"
    assert [(r.code, r.urgency) for r in card.reasons] == [
        ("not_alert", "emergency"),
        ("fever", "call_now"),
    ]


def test_an_emergency_sign_days_ago_still_asks_for_the_pediatrician_now() -> None:
    """ "Call the emergency number now" about a cluster three days ago is not what the parent
    needs; the doctor should still hear about it at once."""
    old_cluster = episode(1, NOW - timedelta(days=3), 5, jerks=4)
    card = doctor_card([old_cluster], NOW, POLICY)
    assert card.urgency == "call_now"
    assert [(r.code, r.urgency) for r in card.reasons] == [("cluster", "call_now")]
    running = episode(2, NOW - timedelta(minutes=3), running=True, alert=False)
    assert doctor_card([running], NOW, POLICY).urgency == "emergency"


def test_a_fever_below_38_is_not_a_sign() -> None:
    assert episode_signs(episode(1, NOW, 5, fever_c=37.4), NOW) == []


def test_a_running_episode_becomes_long_after_a_minute() -> None:
    running = episode(1, NOW - timedelta(seconds=61), running=True)
    assert episode_signs(running, NOW) == ["long"]
    assert episode_signs(running, NOW - timedelta(seconds=2)) == []


def test_three_within_24_hours_is_frequent_but_three_within_25_is_not() -> None:
    close = [episode(i, NOW - timedelta(hours=h), 5) for i, h in ((1, 23), (2, 12), (3, 1))]
    history = [episode(20 + i, NOW - timedelta(days=8 + i), 5) for i in range(3)]
    card = doctor_card(history + close, NOW, POLICY)
    assert card.urgency == "call_now"
    assert card.title == "Call your pediatrician now"
    assert [r.code for r in card.reasons] == ["frequent"]
    assert card.reasons[0].text == "3 episodes within 24 hours."
    assert card.reasons[0].episode_ids == (1, 2, 3)
    spread = [episode(i, NOW - timedelta(hours=h), 5) for i, h in ((1, 50), (2, 26), (3, 1))]
    assert not doctor_card(history + spread, NOW, POLICY).show


def test_more_episodes_this_week_than_last_is_a_reason() -> None:
    last_week = [episode(i, NOW - timedelta(days=8 + i), 5) for i in range(1)]
    this_week = [episode(10 + i, NOW - timedelta(days=2 * i + 1), 5) for i in range(3)]
    card = doctor_card(last_week + this_week, NOW, POLICY)
    assert card.urgency == "next_visit"
    assert card.title == "Mention it at the next visit"
    assert [r.code for r in card.reasons] == ["rising"]
    assert "3 episodes in the last 7 days, up from 1" in card.reasons[0].text
    steady = [episode(20 + i, NOW - timedelta(days=8 + 2 * i), 5) for i in range(3)]
    assert not doctor_card(steady + this_week, NOW, POLICY).show
    # A new log has no week before to compare with: no "up from 0".
    assert not doctor_card(this_week, NOW, POLICY).show


def test_deleted_and_old_episodes_do_not_count() -> None:
    gone = episode(1, NOW - timedelta(hours=1), 5, limbs=("whole_body",))
    gone = Episode(
        **{**{f: getattr(gone, f) for f in Episode.__dataclass_fields__}, "deleted_at": NOW}
    )
    old = episode(2, NOW - timedelta(days=8), 5, limbs=("whole_body",))
    assert not doctor_card([gone, old], NOW, POLICY).show


# --- patterns -------------------------------------------------------------------------------


def test_patterns_per_local_day_week_time_of_day_and_band() -> None:
    band = ComfortBand(cold_below_c=16, cool_below_c=17, warm_above_c=20, hot_above_c=24)
    from hub.episodes.model import Snapshot

    def snap(temp: float | None) -> Snapshot:
        return Snapshot(None, temp, None, None, None, None, 16.0, False, 0)

    items = [
        # 23:30 UTC on the 21st is 00:30 on the 22nd in Berlin: a night episode of the 22nd.
        episode(1, datetime(2026, 11, 21, 23, 30, tzinfo=UTC), 12),
        episode(2, datetime(2026, 11, 22, 13, 0, tzinfo=UTC), 70),
        episode(3, datetime(2026, 11, 23, 1, 0, tzinfo=UTC), None, timed=False),
    ]
    items = [
        Episode(**{**{f: getattr(e, f) for f in Episode.__dataclass_fields__}, "snapshot": snap(t)})
        for e, t in zip(items, (15.2, 18.0, None), strict=True)
    ]
    result = patterns(items, date(2026, 11, 16), date(2026, 11, 23), BERLIN, band, NOW)
    per_day = {d.day: d.count for d in result.per_day}
    assert per_day[date(2026, 11, 21)] == 0
    assert per_day[date(2026, 11, 22)] == 2
    assert per_day[date(2026, 11, 23)] == 1
    assert len(result.per_day) == 8
    assert [(w.day, w.count) for w in result.per_week] == [
        (date(2026, 11, 16), 2),
        (date(2026, 11, 23), 1),
    ]
    assert result.by_hour[0] == 1 and result.by_hour[14] == 1 and result.by_hour[2] == 1
    assert dict(result.by_part_of_day)["night (0–6 h)"] == 2
    assert dict(result.by_band) == {
        "cold": 1,
        "cool": 0,
        "comfortable": 1,
        "warm": 0,
        "hot": 0,
        "unknown": 1,
    }
    assert result.durations.timed == 2 and result.durations.untimed == 1
    assert result.durations.longest_s == 70
    assert dict(result.durations.buckets)["over 1 min"] == 1
    assert "A pattern is not a cause" in result.caveat


# --- the tables in a real SQLite file --------------------------------------------------------


@pytest.fixture
def hub_db(tmp_path: Path) -> Iterator[tuple[Store, EpisodeStore, Settings]]:
    settings = Settings(hub={"db": tmp_path / "hub.db"})
    store = Store(settings.hub.db)
    episodes = EpisodeStore(settings.hub.db)
    yield store, episodes, settings
    episodes.close()
    store.close()


def test_the_episode_tables_are_private_and_live_in_the_hub_database(tmp_path: Path) -> None:
    path = tmp_path / "fresh" / "hub.db"
    with EpisodeStore(path):
        pass
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        if side.exists():
            assert stat.S_IMODE(side.stat().st_mode) == 0o600


def test_a_log_from_before_the_floppy_question_opens_and_keeps_its_episodes(
    tmp_path: Path,
) -> None:
    """An older hub's file has no floppy column: it is added, and nothing else changes."""
    path = tmp_path / "hub.db"
    before = Timing("nursery", NOW - timedelta(hours=1), NOW - timedelta(minutes=59))
    with EpisodeStore(path) as fresh:
        first = fresh.add(NewEpisode(before), None, lambda _others: before, NOW)
    db = sqlite3.connect(path)
    db.execute("ALTER TABLE episodes DROP COLUMN floppy")  # as an older hub created it
    db.execute("PRAGMA user_version = 3")  # and numbered it
    db.commit()
    db.close()
    with EpisodeStore(path) as reopened:
        (old,) = reopened.between(NOW - timedelta(days=1), NOW)
        assert old.id == first.id and old.details.floppy is False
        start = NOW - timedelta(minutes=10)
        timing = Timing("nursery", start, start + timedelta(seconds=8))
        added = reopened.add(
            NewEpisode(timing, Details(floppy=True)), None, lambda _others: timing, NOW
        )
        assert reopened.get(added.id).details.floppy is True


def test_log_snapshot_delete_undo_and_erase(hub_db: tuple[Store, EpisodeStore, Settings]) -> None:
    store, episodes, settings = hub_db
    onset = NOW - timedelta(hours=1)
    add_readings(
        store, "nursery", onset - timedelta(minutes=59), [17.0 - 0.05 * i for i in range(60)]
    )
    store.save_incidents(
        [
            Incident(
                None,
                "nursery",
                Condition.COLD,
                onset - timedelta(minutes=10),
                onset - timedelta(minutes=15),
            )
        ]
    )
    log = EpisodeLog(settings, store, episodes, NOW)
    saved = log.create(
        NewEpisode(
            Timing("nursery", onset, onset + timedelta(seconds=40)),
            Details(limbs=("left_leg",), alert=True, notes="after the bath"),
        ),
        by=1,
    )
    assert saved.duration_s == 40
    assert saved.snapshot is not None
    assert saved.snapshot.temperature_c == pytest.approx(14.05)
    assert saved.snapshot.cold_alert_open is True
    assert saved.snapshot.cold_below_c == 16.0
    assert saved.snapshot.minutes_below_cold == 38.0  # below 16 °C from 39 min before onset

    with pytest.raises(EpisodeInvalid) as caught:
        log.create(
            NewEpisode(
                Timing("nursery", onset + timedelta(seconds=10), onset + timedelta(seconds=90))
            )
        )
    assert fields(caught) == {"started_at": "episode.overlap"}
    with pytest.raises(EpisodeInvalid) as caught:
        log.create(NewEpisode(Timing("attic", onset, onset + timedelta(seconds=5))))
    assert fields(caught) == {"room": "episode.unknown_room"}

    deleted = log.delete(saved.id)
    assert deleted.deleted_at == NOW
    assert episodes.between(onset - timedelta(hours=1), NOW) == []
    assert log.restore(saved.id).deleted_at is None
    assert [e.id for e in episodes.between(onset - timedelta(hours=1), NOW)] == [saved.id]

    # A deleted episode's time can be taken; then its undo is refused, by field.
    log.delete(saved.id)
    other = log.create(NewEpisode(Timing("nursery", onset, onset + timedelta(seconds=5))))
    with pytest.raises(EpisodeInvalid) as caught:
        log.restore(saved.id)
    assert fields(caught) == {"started_at": "episode.overlap"}
    # After the undo window the row is erased for good.
    later = EpisodeLog(settings, store, episodes, NOW + UNDO_WINDOW + timedelta(seconds=1))
    later.delete(other.id)
    with pytest.raises(NotFound):
        episodes.get(saved.id)


def test_start_stop_and_edit(hub_db: tuple[Store, EpisodeStore, Settings]) -> None:
    store, episodes, settings = hub_db
    add_readings(store, "nursery", NOW - timedelta(minutes=30), [19.0] * 30)
    started = EpisodeLog(settings, store, episodes, NOW).start("nursery", by=1)
    assert started.running and started.ended_at is None
    with pytest.raises(AlreadyRunning):
        EpisodeLog(settings, store, episodes, NOW + timedelta(seconds=5)).start("nursery")
    stopped = EpisodeLog(settings, store, episodes, NOW + timedelta(seconds=25)).stop(started.id)
    assert stopped.duration_s == 25 and not stopped.running
    with pytest.raises(NotRunning):
        EpisodeLog(settings, store, episodes, NOW + timedelta(seconds=30)).stop(started.id)
    log = EpisodeLog(settings, store, episodes, NOW + timedelta(minutes=1))
    edited = log.update(
        started.id, stopped.timing, Details(limbs=("whole_body",), fever=True, fever_c=38.6)
    )
    assert edited.details.limbs == ("whole_body",)
    assert edited.snapshot == stopped.snapshot  # onset unchanged: snapshot kept
    assert [r.code for r in log.card().reasons] == ["whole_body", "fever"]


def test_the_button_applies_each_event_once(hub_db: tuple[Store, EpisodeStore, Settings]) -> None:
    store, episodes, settings = hub_db
    log = EpisodeLog(settings, store, episodes, NOW)

    def press(action: str, ts: datetime, event_id: str | None = None) -> tuple[str, bool]:
        event = EpisodeEventMessage("nursery", event_id or str(uuid.uuid4()), action, ts)  # type: ignore[arg-type]
        record = log.button(event, NOW)
        return record.outcome, record.duplicate

    start_id = str(uuid.uuid4())
    assert press("start", NOW - timedelta(seconds=50), start_id) == ("started", False)
    assert press("start", NOW - timedelta(seconds=50), start_id) == ("started", True)
    assert press("start", NOW - timedelta(seconds=40)) == ("already_running", False)
    assert press("stop", NOW - timedelta(seconds=20)) == ("stopped", False)
    assert press("stop", NOW - timedelta(seconds=10)) == ("none_running", False)
    assert press("now", NOW + timedelta(hours=1)) == ("logged", False)  # Pi clock ahead: capped
    found = episodes.between(NOW - timedelta(hours=1), NOW)
    assert [(e.source, e.duration_s, e.timing.timed) for e in found] == [
        ("button", 30.0, True),
        ("button", None, False),
    ]
    assert found[1].started_at == NOW
    assert found[0].details.missing  # the parent fills in the details later


# --- the report -------------------------------------------------------------------------------


def test_report_html_pdf_and_csv(
    hub_db: tuple[Store, EpisodeStore, Settings], tmp_path: Path
) -> None:
    store, episodes, settings = hub_db
    onset = datetime(2026, 11, 22, 1, 10, tzinfo=UTC)
    add_readings(
        store, "nursery", onset - timedelta(minutes=60), [16.5 - 0.02 * i for i in range(120)]
    )
    store.save_incidents(
        [
            Incident(
                None,
                "nursery",
                Condition.COLD,
                onset - timedelta(minutes=20),
                onset - timedelta(minutes=25),
                worst=15.1,
                acked_by="Sam",
                resolved_at=onset + timedelta(minutes=40),
            )
        ]
    )
    log = EpisodeLog(settings, store, episodes, NOW)
    log.create(
        NewEpisode(
            Timing("nursery", onset, onset + timedelta(seconds=75)),
            Details(
                limbs=("whole_body",),
                alert=False,
                floppy=True,
                fever=True,
                fever_c=38.5,
                notes='=HYPERLINK("x")',
            ),
        )
    )
    report = build_report(
        log, store, date(2026, 11, 16), date(2026, 11, 23), BERLIN, "Europe/Berlin"
    )
    assert len(report.rows) == 1
    row = report.rows[0]
    assert set(row.signs) == {"long", "whole_body", "not_alert", "floppy", "fever"}
    assert row.around.low_c is not None and row.around.low_c < 14.5
    assert [a.condition for a in report.alerts] == [Condition.COLD]

    page = render_html(report, "since=2026-11-16&until=2026-11-23", emergency_number="911")
    # The same emergency sentence as the card and the episode page, the number a call link.
    before, _, after = emergency_text("911").partition("911")
    assert f"{before}<a href='tel:911'>911</a>{after}" in page
    assert "Sun 22 Nov 2026 02:10:00" in page  # local time in Berlin
    assert "whole body" in page and "fever 38.5 °C" in page and "floppy" in page
    assert "Room is cold" in page and "Sam" in page
    assert "A pattern is not a cause" in page
    assert "=HYPERLINK(&quot;x&quot;)" in page  # notes are text, never markup

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(render_pdf(report))).pages)
    assert "Episode log for the pediatrician" in text
    assert "Sun 22 Nov 2026" in text and "02:10:00" in text
    assert "cold alert open" in text
    assert "1 min 15 s" in text
    assert "Room is cold" in text

    rows = list(csv.DictReader(io.StringIO("".join(episodes_csv(report.episodes, BERLIN)))))
    assert rows[0]["started_at_utc"] == "2026-11-22T01:10:00.000Z"
    assert rows[0]["started_local"] == "2026-11-22 02:10:00"
    assert rows[0]["duration_s"] == "75.0"
    assert rows[0]["limb_whole_body"] == "yes" and rows[0]["limb_left_leg"] == "no"
    assert rows[0]["floppy"] == "yes"
    assert rows[0]["notes"].startswith("'=")  # a spreadsheet shows it, never runs it
    assert rows[0]["cold_alert_open"] == "yes"

    readings = list(
        csv.DictReader(
            io.StringIO(
                "".join(
                    readings_csv(
                        iter_readings(
                            settings.hub.db, onset - timedelta(minutes=5), onset, "nursery"
                        ),
                        BERLIN,
                    )
                )
            )
        )
    )
    assert len(readings) == 6
    assert readings[-1]["ts_utc"] == "2026-11-22T01:10:00.000Z"
    assert float(readings[-1]["temperature_c"]) == pytest.approx(15.3)
