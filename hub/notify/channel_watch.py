"""Watches the caregivers' own channels: a quiet check push to one that has been silent for
long, and, once per failing streak, a word to the other caregivers when one stops working."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from hub.messages import Message
from hub.messages import channels as words
from hub.notify.channel_health import ChannelHealth, ChannelState

log = logging.getLogger("nursery.hub.notify")


@dataclass(frozen=True, slots=True)
class CaregiverChannel:
    caregiver_id: int
    caregiver: str  # the name, as the others know them
    label: str
    url: str

    @property
    def who(self) -> str:
        return words.channel_name(self.caregiver, self.label)


@dataclass(frozen=True, slots=True)
class Plan:
    """What one look decides: whom to tell about which channel, which channels to check."""

    tell: list[tuple[CaregiverChannel, datetime, list[str]]] = field(default_factory=list)
    check: list[str] = field(default_factory=list)
    due: datetime | None = None  # when the next tell or check falls due, if any will


def plan(
    channels: Sequence[CaregiverChannel],
    states: Mapping[str, ChannelState],
    now: datetime,
    failing_after: timedelta,
    check_every: timedelta | None,
) -> Plan:
    """Pure: a channel failing for `failing_after`, not yet told about, is told to every
    other caregiver's working channels; a channel with a history but no result for
    `check_every` is due a check push. `due`: the earliest such moment still to come."""
    tell: list[tuple[CaregiverChannel, datetime, list[str]]] = []
    check: list[str] = []
    due: list[datetime] = []

    def working(url: str) -> bool:
        state = states.get(url)
        return state is None or not state.failing

    for channel in channels:
        state = states.get(channel.url)
        if state is None:
            continue
        since = state.failing_since
        if since is not None and state.told_at is None:
            if now - since < failing_after:
                due.append(since + failing_after)
            else:
                others = [
                    c.url
                    for c in channels
                    if c.caregiver_id != channel.caregiver_id and working(c.url)
                ]
                if others:
                    tell.append((channel, since, list(dict.fromkeys(others))))
                else:  # nobody to tell yet: look again in a while
                    due.append(now + timedelta(seconds=SOONEST_S))
        seen = [t for t in (state.delivered_at, state.failed_at) if t is not None]
        if check_every is not None and seen:
            if now - max(seen) >= check_every:
                check.append(channel.url)
            else:
                due.append(max(seen) + check_every)
    return Plan(tell, check, min(due, default=None))


RETRY_S = 2.0  # after a failed look, the next one comes this soon
SOONEST_S = 60.0  # someone must be told but nobody can be yet: look again after this
AGAIN_S = 0.01  # the shortest sleep, so a look due now never spins


class ChannelWatch:
    """Looks when a tell or a check falls due, at least every `interval_s`, and at once when
    a channel fails or recovers (so an idle hub does not read its database every minute)."""

    def __init__(
        self,
        health: ChannelHealth,
        channels: Callable[[], list[CaregiverChannel]],
        enqueue: Callable[[str, Message], object],
        clock: Callable[[], datetime],
        *,
        failing_after: timedelta,
        check_every: timedelta | None,
        interval_s: float = 3600.0,
    ) -> None:
        self._health = health
        self._channels = channels
        self._enqueue = enqueue
        self._clock = clock
        self.failing_after = failing_after
        self.check_every = check_every
        self.interval_s = interval_s
        self._checked: dict[str, datetime] = {}  # a check push queued, not yet answered
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        health.on_change = self.wake

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="channel-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(2.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            now = self._clock()
            try:
                decided = self.check(now)
            except Exception:  # a busy or failing database: look again soon, not in an hour
                log.exception("channel watch: cannot look at the channels; trying again")
                wait_s = min(self.interval_s, RETRY_S)
            else:
                wait_s = self.interval_s
                if decided.due is not None:  # at once when due (a time stored to the ms)
                    wait_s = min(wait_s, max((decided.due - now).total_seconds(), AGAIN_S))
            self._wake.wait(wait_s)

    def check(self, now: datetime) -> Plan:
        """One look: tell and check as `plan` decides."""
        channels = self._channels()
        states = self._health.states(c.url for c in channels)
        decided = plan(channels, states, now, self.failing_after, self.check_every)
        for channel, since, recipients in decided.tell:
            message = words.channel_down_push(channel.who, since, now)
            for url in recipients:
                self._enqueue(url, message)
            self._health.told(channel.url, now)
            log.warning(
                "told %d other channel(s) that a caregiver's channel fails", len(recipients)
            )
        for url in decided.check:
            queued = self._checked.get(url)
            if queued is not None and self.check_every and now - queued < self.check_every:
                continue
            self._checked[url] = now
            assert self.check_every is not None  # plan only checks with it
            self._enqueue(url, words.channel_check_push(self.check_every))
        return decided
