"""Sends the bedtime check-in and the morning summary, once a day each, to every caregiver."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime, timedelta
from typing import Protocol

from hub.comfort import ComfortBand
from hub.conditions import Condition
from hub.config import HubConfig
from hub.messages import Message
from hub.monitor import nightly, nightly_messages
from hub.notify.outbox import PushOutbox
from hub.notify.push import Committed, NewPush
from hub.preferences import Household
from hub.sources.settings import stale_after_s as source_stale_s
from hub.store.database import Store, from_ms
from hub.store.dbfile import connect_private, write_transaction
from hub.store.migrations import migrate

log = logging.getLogger("nursery.hub.nightly")

Clock = Callable[[], datetime]
MAX_SLEEP_S = 60.0
BUCKET_MS = 10_000  # the night's readings, averaged per 10 s: bounded work at any interval
_SILENCE = {Condition.OFFLINE, Condition.NO_DATA}


class _Caregiver(Protocol):
    @property
    def id(self) -> int: ...
    @property
    def name(self) -> str: ...


def paged_names(caregivers: Sequence[_Caregiver], has_channels: Callable[[int], bool]) -> list[str]:
    """The caregivers who get pushes, in paging order (the order of their accounts)."""
    return [c.name for c in caregivers if has_channels(c.id)]


class NightlyPushes:
    """The check-in and summary scheduler; `check(now)` does one round, for the thread."""

    def __init__(
        self,
        settings: HubConfig,
        store: Store,
        outbox: PushOutbox,
        clock: Clock,
        household: Callable[[], Household],
        names: Callable[[], list[str]],
        committed: Committed | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._outbox = outbox
        self._clock = clock
        self._household = household
        self._names = names
        self._committed = committed
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None  # opened by start(), only when enabled
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="nightly", daemon=True)

    @property
    def enabled(self) -> bool:
        alerts = self._settings.alerts
        return alerts.checkin_at is not None or alerts.summary_at is not None

    def start(self) -> None:
        """A round now (a time slept through may still be within its grace), then the
        thread; nothing at all when neither time is set."""
        if not self.enabled:
            return
        self._db = connect_private(self._settings.hub.db)
        migrate(self._db)
        self._round()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def _run(self) -> None:
        while not self._stop.is_set():
            now = self._clock()
            local = now.astimezone()
            alerts = self._settings.alerts
            wait_s = MAX_SLEEP_S
            for at in (alerts.checkin_at, alerts.summary_at):
                when = nightly.next_time(at, local)
                if when is not None:
                    wait_s = min(wait_s, (when - local).total_seconds())
            if self._stop.wait(max(wait_s, 0.05)):
                return
            self._round()

    def _round(self) -> None:
        try:
            self.check(self._clock())
        except Exception:  # the next round tries again; the alerts are not affected
            log.exception("check-in or summary failed")

    # --- the sent marks ---------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the nightly pushes are not started")
        return self._db

    def _tx(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self._open(), self._lock)

    def last_sent(self, kind: nightly.Kind) -> date | None:
        with self._lock:
            row = (
                self._open()
                .execute("SELECT day FROM nightly_sent WHERE kind = ?", (kind,))
                .fetchone()
            )
        return None if row is None else date.fromisoformat(str(row[0]))

    def _claim(self, kind: nightly.Kind, day: date) -> bool:
        """Mark the day sent before queueing: after a crash in between, one is missed,
        never sent twice. False when it was marked already."""
        with self._tx() as db:
            row = db.execute("SELECT day FROM nightly_sent WHERE kind = ?", (kind,)).fetchone()
            if row is not None and date.fromisoformat(str(row[0])) >= day:
                return False
            db.execute(
                "INSERT INTO nightly_sent (kind, day) VALUES (?, ?)"
                " ON CONFLICT (kind) DO UPDATE SET day = excluded.day",
                (kind, day.isoformat()),
            )
        return True

    # --- one round ----------------------------------------------------------------------

    def check(self, now: datetime) -> list[nightly.Kind]:
        """Queue whatever is due now; returns what was queued."""
        local = now.astimezone()
        alerts = self._settings.alerts
        sent: list[nightly.Kind] = []
        kinds: tuple[tuple[nightly.Kind, str | None], ...] = (
            ("summary", alerts.summary_at),
            ("checkin", alerts.checkin_at),
        )
        for kind, at in kinds:
            day = nightly.due(at, local, self.last_sent(kind))
            if day is None or not self._claim(kind, day):
                continue
            message = self.checkin(now) if kind == "checkin" else self.summary(now)
            urls = self._urls()
            if not urls:
                log.warning("%s not sent: no notify.urls and no caregiver channels", kind)
                continue
            pushes = [NewPush(url, message) for url in urls]
            self._outbox.enqueue_many(pushes, now=now, committed=self._committed)
            log.info("%s queued for %d channel(s)", kind, len(urls))
            sent.append(kind)
        return sent

    def _urls(self) -> list[str]:
        """Every channel of every caregiver (the dashboard's, else notify.caregivers),
        and notify.urls: everyone should know the monitor is watching."""
        notify = self._settings.notify
        groups = self._household().caregiver_channels or tuple(map(tuple, notify.caregivers))
        return list(dict.fromkeys([*notify.urls, *(url for group in groups for url in group)]))

    def checkin(self, now: datetime) -> Message:
        local = now.astimezone()
        household = self._household()
        rules, alerts = household.rules, self._settings.alerts
        silent = {i.room for i in self._store.open_incidents() if i.condition in _SILENCE}
        sources = self._settings.hub.sources
        rooms: list[nightly.RoomNow] = []
        reminders: list[nightly.ColdNights] = []
        nights = [
            n
            for n in (
                nightly.night(
                    local.date() - timedelta(days=back),
                    local.tzinfo,
                    alerts.checkin_at,
                    alerts.summary_at,
                )
                for back in range(nightly.LOOK_BACK + 1)
            )
            if n.end <= local
        ][: nightly.LOOK_BACK]
        edge = ComfortBand.from_rules(rules).cool_below_c
        for room in self._store.rooms():
            latest = room.latest
            live = (
                latest is not None
                and now - latest.received_at
                <= timedelta(seconds=source_stale_s(sources, room.name, rules.stale_after_s))
                and room.status != "offline"
                and room.name not in silent
            )
            rooms.append(nightly.RoomNow(room.name, latest.temperature_c if latest else None, live))
            if not nights:
                continue
            hours = [
                nightly.HourLow(from_ms(b.start_ms), b.temperature_min)
                for b in self._store.hourly(room.name, nights[-1].start, nights[0].end)
                if b.count
            ]
            cold = nightly.cold_nights(room.name, nightly.night_lows(hours, nights), edge)
            if cold is not None:
                reminders.append(cold)
        return nightly_messages.checkin(rooms, self._names(), reminders, household.unit)

    def summary(self, now: datetime) -> Message:
        local = now.astimezone()
        household = self._household()
        alerts = self._settings.alerts
        last = nightly.night(local.date(), local.tzinfo, alerts.checkin_at, alerts.summary_at)
        band = ComfortBand.from_rules(household.rules)
        nights = []
        for room in self._store.rooms():
            samples = [
                (from_ms(b.start_ms), b.temperature_sum / b.count)
                for b in self._store.buckets(room.name, last.start, last.end, BUCKET_MS)
                if b.count
            ]
            incidents = self._store.incidents_between(room.name, last.start, last.end)
            nights.append(
                nightly.summarize(
                    room.name,
                    last,
                    samples,
                    incidents,
                    band,
                    source_stale_s(
                        self._settings.hub.sources, room.name, household.rules.stale_after_s
                    ),
                )
            )
        return nightly_messages.summary(nights, household.unit)
