"""The "hub cannot save" alarm: every caregiver's channel, straight from memory, repeated
while it lasts, and an all-clear once a write works again."""

from __future__ import annotations

import errno
from datetime import UTC, datetime, timedelta

from hub.config import HubConfig
from hub.messages import BODY_MAX, cannot_save, save_banner, saving_again, still_cannot_save
from hub.monitor.save_alarm import SaveAlarm
from hub.notify.testing import RecordingSender
from hub.store.disk_health import SaveHealth


class Disk:
    """The probe's disk: full until space is freed."""

    def __init__(self) -> None:
        self.full = True

    def write(self) -> None:
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")


def test_the_alarm_reaches_everyone_repeats_and_clears() -> None:
    now = [datetime(2026, 12, 5, 3, 0, tzinfo=UTC)]
    settings = HubConfig(
        notify={"urls": ["json://house/hook"], "caregivers": [["json://a/1"], ["json://b/2"]]},
        alerts={"repeat_every_s": 1800},
    )
    health = SaveHealth(lambda: now[0])
    sender, disk = RecordingSender(), Disk()
    alarm = SaveAlarm(settings, health, sender, disk.write, lambda: now[0])

    assert alarm.look() is None  # all well: nothing said
    assert sender.sent == []
    health.check(OSError(errno.ENOSPC, "No space left on device"))
    alarm.look()
    first = sender.sent
    assert sorted(p.url for p in first) == ["json://a/1", "json://b/2", "json://house/hook"]
    assert {p.message.title for p in first} == {"The hub cannot save"}
    assert {p.message.priority for p in first} == {"urgent"}
    assert len(first[0].message.body) <= BODY_MAX

    now[0] += timedelta(minutes=29)
    alarm.look()
    assert len(sender.sent) == 3  # no repeat before alerts.repeat_every_s
    now[0] += timedelta(minutes=1)
    alarm.look()
    assert [p.message.title for p in sender.sent[3:]] == ["The hub still cannot save"] * 3
    assert "30 min" in sender.sent[3].message.body

    disk.full = False  # space freed: the probe finds out, no reading needed
    alarm.look()
    assert not health.failing
    assert [p.message.title for p in sender.sent[6:]] == ["The hub is saving again"] * 3
    assert sender.sent[6].message.priority == "default"
    alarm.look()
    assert len(sender.sent) == 9


def test_a_failed_channel_is_tried_again_with_the_newest_words() -> None:
    now = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
    settings = HubConfig(notify={"urls": ["json://house/hook"]})
    health = SaveHealth(lambda: now)
    sender, disk = RecordingSender(), Disk()
    alarm = SaveAlarm(settings, health, sender, disk.write, lambda: now)
    health.check(OSError(errno.EROFS, "Read-only file system"))
    sender.fail_with = "service down"
    alarm.look()
    assert sender.sent == []
    sender.fail_with = None
    alarm.look()
    assert [p.message.title for p in sender.sent] == ["The hub cannot save"]
    assert "read-only" in sender.sent[0].message.body


def test_every_save_message_fits_a_lock_screen_and_says_what_to_do() -> None:
    for problem in ("full", "read_only", "io"):
        for message in (cannot_save(problem), still_cannot_save(problem, 7200)):
            assert len(message.body) <= BODY_MAX and message.priority == "urgent"
            assert "check on your baby in person" in message.body
            assert "SD card" in message.body
        assert "SD card" in save_banner(problem)
    assert len(saving_again(timedelta(hours=3)).body) <= BODY_MAX
