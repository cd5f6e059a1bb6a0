"""Channel health from real results, and the watch's rules: told once per failing streak,
only after the grace time, never to the failing caregiver; a quiet check after a silence."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.messages import Message
from hub.notify.channel_health import ChannelHealth
from hub.notify.channel_watch import CaregiverChannel, ChannelWatch, plan
from tests.support.wait import wait_until

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)  # a Tuesday
ALEX = CaregiverChannel(1, "Alex", "My phone", "ntfy://h/alex")
SAM = CaregiverChannel(2, "Sam", "Phone", "ntfy://h/sam")
GRACE = timedelta(minutes=15)
WEEK = timedelta(days=7)


def health(tmp_path: Path) -> ChannelHealth:
    return ChannelHealth(tmp_path / "hub.db")


def test_a_delivery_ends_a_failing_streak_and_its_start_is_kept(tmp_path: Path) -> None:
    h = health(tmp_path)
    h.failed(ALEX.url, T0, "ntfy://h #1: boom")
    h.failed(ALEX.url, T0 + timedelta(hours=1), "ntfy://h #1: boom")
    state = h.state(ALEX.url)
    assert state.failing and state.failing_since == T0
    assert state.failed_at == T0 + timedelta(hours=1)
    h.delivered(ALEX.url, T0 + timedelta(hours=2))
    assert not h.state(ALEX.url).failing
    assert h.state(ALEX.url).tested_at is None  # a real push is not a passed test
    h.delivered(ALEX.url, T0 + timedelta(hours=3), test=True)
    assert h.state(ALEX.url).tested_at == T0 + timedelta(hours=3)
    h.untested(ALEX.url)  # "No, help me"
    assert h.state(ALEX.url).tested_at is None
    h.close()


def test_the_others_are_told_after_the_grace_time_and_only_once(tmp_path: Path) -> None:
    h = health(tmp_path)
    sent: list[tuple[str, Message]] = []
    watch = ChannelWatch(
        h,
        lambda: [ALEX, SAM],
        lambda url, message: sent.append((url, message)),
        lambda: T0,
        failing_after=GRACE,
        check_every=None,
    )
    h.delivered(SAM.url, T0)
    h.failed(ALEX.url, T0, "boom")
    assert watch.check(T0 + timedelta(minutes=5)).tell == []  # maybe a blip
    watch.check(T0 + timedelta(days=1))
    assert [url for url, _ in sent] == [SAM.url]  # never to Alex's own failing phone
    assert sent[0][1].title == "Alex's phone is not getting alerts"
    assert sent[0][1].body.startswith("Alex's phone has not received pushes since yesterday.")
    h.failed(ALEX.url, T0 + timedelta(days=2), "boom")
    watch.check(T0 + timedelta(days=2))
    assert len(sent) == 1
    # Working again, then failing again: a new streak, told again.
    h.delivered(ALEX.url, T0 + timedelta(days=3))
    h.failed(ALEX.url, T0 + timedelta(days=4), "boom")
    watch.check(T0 + timedelta(days=4, hours=1))
    assert len(sent) == 2
    h.close()


def test_nobody_is_told_when_no_other_caregiver_has_a_working_channel(tmp_path: Path) -> None:
    h = health(tmp_path)
    h.failed(ALEX.url, T0, "boom")
    h.failed(SAM.url, T0, "boom")
    states = h.states([ALEX.url, SAM.url])
    assert plan([ALEX, SAM], states, T0 + timedelta(days=1), GRACE, None).tell == []
    # Not marked told either: Sam hears of it once Sam's phone works.
    h.delivered(SAM.url, T0 + timedelta(days=1))
    states = h.states([ALEX.url, SAM.url])
    decided = plan([ALEX, SAM], states, T0 + timedelta(days=1), GRACE, None)
    assert [(c.caregiver, to) for c, _, to in decided.tell] == [("Alex", [SAM.url])]
    h.close()


def test_a_channel_silent_for_the_check_period_gets_one_quiet_check(tmp_path: Path) -> None:
    h = health(tmp_path)
    sent: list[tuple[str, Message]] = []
    watch = ChannelWatch(
        h,
        lambda: [ALEX, SAM],
        lambda url, message: sent.append((url, message)),
        lambda: T0,
        failing_after=GRACE,
        check_every=WEEK,
    )
    h.delivered(ALEX.url, T0)
    h.delivered(SAM.url, T0 + timedelta(days=3))
    watch.check(T0 + timedelta(days=6))
    assert sent == []
    watch.check(T0 + timedelta(days=7))
    watch.check(T0 + timedelta(days=7, hours=1))  # queued already: not again
    assert [(url, m.priority) for url, m in sent] == [(ALEX.url, "low")]
    assert "every 7 days" in sent[0][1].body
    h.close()


def test_the_running_watch_looks_at_once_when_a_channel_fails(tmp_path: Path) -> None:
    h = health(tmp_path)
    sent: list[tuple[str, Message]] = []
    watch = ChannelWatch(
        h,
        lambda: [ALEX, SAM],
        lambda url, message: sent.append((url, message)),
        lambda: T0 + timedelta(hours=1),
        failing_after=GRACE,
        check_every=None,
        interval_s=3600,  # only a failure can wake it within the test
    )
    h.delivered(SAM.url, T0)
    watch.start()
    try:
        h.failed(ALEX.url, T0, "boom")
        wait_until(lambda: sent, what="the others told")
        assert [url for url, _ in sent] == [SAM.url]
    finally:
        watch.stop()
        h.close()


def test_a_look_that_fails_is_tried_again_soon_not_at_the_next_interval(tmp_path: Path) -> None:
    """A database busy at the moment of a failure must not hold the others' news for an
    hour: the watch looks again within seconds."""
    h = health(tmp_path)
    sent: list[tuple[str, Message]] = []
    looks = [0]

    def channels() -> list[CaregiverChannel]:
        looks[0] += 1
        if looks[0] == 2:  # the look the failure woke
            raise RuntimeError("database is locked")
        return [ALEX, SAM]

    watch = ChannelWatch(
        h,
        channels,
        lambda url, message: sent.append((url, message)),
        lambda: T0 + timedelta(hours=1),
        failing_after=GRACE,
        check_every=None,
        interval_s=3600,
    )
    h.delivered(SAM.url, T0)
    watch.start()
    try:
        wait_until(lambda: looks[0] >= 1, what="the first look")
        h.failed(ALEX.url, T0, "boom")
        wait_until(lambda: sent, timeout=10, what="the others told after a failed look")
        assert looks[0] >= 3
    finally:
        watch.stop()
        h.close()


def test_a_look_says_when_the_next_tell_or_check_falls_due(tmp_path: Path) -> None:
    """So the running watch sleeps until then instead of reading the database every minute."""
    h = health(tmp_path)
    h.delivered(SAM.url, T0)
    h.failed(ALEX.url, T0, "boom")
    states = h.states([ALEX.url, SAM.url])
    soon = plan([ALEX, SAM], states, T0 + timedelta(minutes=5), GRACE, WEEK)
    assert soon.tell == [] and soon.due == T0 + GRACE  # the grace time ends first
    quiet = plan([SAM], h.states([SAM.url]), T0 + timedelta(days=1), GRACE, WEEK)
    assert quiet.due == T0 + WEEK  # Sam's phone is checked a week after its last push
    assert plan([SAM], h.states([SAM.url]), T0, GRACE, None).due is None
    h.close()


def test_a_failure_stamped_a_moment_ahead_of_the_look_is_told_when_its_time_comes(
    tmp_path: Path,
) -> None:
    """Times are kept to the millisecond: a failure can read a moment later than the look
    it woke. The watch looks again at that moment, not a minute later."""
    h = health(tmp_path)
    sent: list[tuple[str, Message]] = []
    watch = ChannelWatch(
        h,
        lambda: [ALEX, SAM],
        lambda url, message: sent.append((url, message)),
        lambda: datetime.now(UTC),
        failing_after=timedelta(0),
        check_every=None,
        interval_s=3600,
    )
    h.delivered(SAM.url, datetime.now(UTC))
    watch.start()
    try:
        h.failed(ALEX.url, datetime.now(UTC) + timedelta(milliseconds=50), "boom")
        wait_until(lambda: sent, timeout=10, what="the others told")
    finally:
        watch.stop()
        h.close()
