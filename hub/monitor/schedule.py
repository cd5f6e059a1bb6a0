"""When time alone may change a room, and the ticker that sleeps until then."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from hub.conditions import Condition, Incident
from hub.config import AlertsSettings
from hub.monitor.alerts import next_due, quiet_hours_end
from hub.monitor.rules import Policy, RoomRules, silence_due_at

log = logging.getLogger("nursery.hub.monitor")

Clock = Callable[[], datetime]
TICK_S = 1.0  # the pace while a room is silent (its silence grows by the second)
# The longest the ticker sleeps: a heartbeat for the systemd watchdog, and a bound on
# how late a deadline is seen after the wall clock jumps (NTP on a Pi without a clock).
MAX_SLEEP_S = 30.0
# A heartbeat with nothing due only looks at the deadlines again; the rooms are judged
# anyway at least this often, in case a deadline was missed (`due` should name them all).
FULL_TICK_S = 300.0
_PAST_DUE = timedelta(milliseconds=10)  # the rules see silence strictly after stale_after_s
SILENCE = (Condition.NO_DATA, Condition.OFFLINE)


def room_due(
    now: datetime,
    rules: RoomRules,
    policy: Policy,
    alerts: AlertsSettings,
    *,
    incidents: Iterable[Incident],
    silent: bool,
    held_back: datetime | None,
    horizon_s: float = MAX_SLEEP_S,
) -> datetime:
    """The next moment time alone may change this room: going stale, a repeat, an
    escalation, a snooze or quiet hours ending, a backlog count to publish (`held_back`);
    every second while it is `silent`. At the latest `horizon_s` from now (the replay
    looks further ahead than the ticker sleeps)."""
    due = now + timedelta(seconds=horizon_s)
    if held_back is not None:
        due = min(due, held_back)
    if silent:
        due = min(due, now + timedelta(seconds=TICK_S))
    stale_at = silence_due_at(rules, policy)
    if stale_at is not None:
        due = min(due, stale_at + _PAST_DUE)
    for incident in incidents:
        when: datetime | None
        if incident.held:
            when = quiet_hours_end(alerts.quiet_hours, now.astimezone()) or now
        else:
            when = next_due(incident, alerts, now)
        if when is not None:
            due = min(due, when)
    return due


class Ticker:
    """A thread that calls `tick` when `due` says, at least every MAX_SLEEP_S, and every
    TICK_S while still due after a tick; `nudge` makes it plan again at once."""

    def __init__(
        self,
        lock: threading.RLock,
        clock: Clock,
        due: Callable[[datetime], datetime],
        tick: Callable[[], None],
    ) -> None:
        self._lock = lock
        self._clock = clock
        self._due = due
        self._tick = tick
        self._stop = threading.Event()
        self._nudge = threading.Event()  # an input brought the next tick closer, or stop
        self.planned_at: datetime | None = None  # when the ticker means to tick next
        self.last_tick = time.monotonic()  # the last tick or heartbeat: the loop is alive
        self._last_full = self.last_tick
        self._thread = threading.Thread(target=self._loop, name="monitor-tick", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._nudge.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def nudge(self) -> None:
        """A deadline came closer than `planned_at`: plan again."""
        self._nudge.set()

    def watching(self, within_s: float) -> bool:
        """True while a tick completed within the last `within_s` seconds."""
        return time.monotonic() - self.last_tick < within_s

    def _loop(self) -> None:
        ticked = True  # the monitor ticked when it restored
        while not self._stop.is_set():
            with self._lock:
                self._nudge.clear()
                now = self._clock()
                wait_s = (self._due(now) - now).total_seconds()
                heartbeat = wait_s >= MAX_SLEEP_S  # nothing due sooner than the heartbeat
                if wait_s <= 0 and ticked:
                    wait_s = TICK_S  # still due after a tick: never spin, keep the old pace
                wait_s = min(wait_s, MAX_SLEEP_S)
                self.planned_at = now + timedelta(seconds=wait_s)
            if wait_s > 0 and self._nudge.wait(wait_s):
                ticked = False
                continue  # stopping, or an input moved a deadline closer: plan again
            if heartbeat and self._nothing_due():
                self.last_tick = time.monotonic()
                continue
            try:
                self._tick()
                self.last_tick = self._last_full = time.monotonic()
            except Exception:  # the watch must go on; the next tick tries again
                log.exception("monitor tick failed")
            ticked = True

    def _nothing_due(self) -> bool:
        """After a heartbeat's sleep, still nothing due (looked at again: the wall clock
        may have jumped): tick no room, though all are judged every FULL_TICK_S."""
        if time.monotonic() - self._last_full >= FULL_TICK_S:
            return False
        with self._lock:
            now = self._clock()
            return self._due(now) > now
