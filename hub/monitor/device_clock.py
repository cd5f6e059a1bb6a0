"""Whether a reading is the room now or history, and how far off the device's clock is."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

from hub.monitor.frozen import replace

if TYPE_CHECKING:
    from hub.monitor.rules import Policy, ReadingSeen

# A delay above the estimated clock offset is taken as the device clock going back (rather
# than a backlog) only after this many readings over this many seconds of the hub's time,
# with delays that agree within CLOCK_BAND_S: a backlog arrives in a burst, delays falling.
CLOCK_CONFIRM_READINGS: Final = 3
CLOCK_CONFIRM_S: Final = 20.0
CLOCK_BAND_S: Final = 10.0
# Stamps may be whole seconds: two stamps a second apart may be a moment apart.
COARSE_STAMP_S: Final = 0.5
# Boots whose newest reading is remembered for pacing (a reboot leaves an old boot's
# backlog in the outbox, drained alongside the new boot's live readings).
MAX_BOOTS: Final = 4


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


@dataclass(frozen=True, slots=True)
class DelayRun:
    """Recent readings, all delayed more than the estimated offset, whose delays agree.

    `first_at`/`last_at` are the hub's times of arrival; `low_s`/`high_s` bound the delays.
    """

    first_at: datetime
    last_at: datetime
    low_s: float
    high_s: float
    count: int


@dataclass(frozen=True, slots=True)
class DeviceClock:
    """The device clock's offset from the hub's, estimated from the readings alone.

    A reading's delay (received_at - ts) is the offset plus however long it was held up on
    the way, so the offset is at most the smallest delay: a smaller one lowers the estimate
    at once (the clock jumped forward, NTP at last). A larger delay is either a backlog or a
    clock that went back; a backlog drains in a burst with delays falling, a clock that went
    back keeps a steady delay as readings trickle in. So the estimate rises only to the
    lowest delay of a `rising` run long enough in the hub's time (CLOCK_CONFIRM_*). Until
    the readings say otherwise the device clock is taken to agree with the hub's. The
    estimate says CLOCK_SKEW and places history; it never times a live reading.
    """

    # received_at - ts of a reading that was not held up: positive when the device is behind.
    offset_s: float = 0.0
    # Added to device times to put replayed readings on the hub's clock. It follows
    # offset_s only when the two differ by more than clock_skew_s, so a clock that agrees
    # keeps its own times and a wobble of the network delay never moves them.
    shift_s: float = 0.0
    rising: DelayRun | None = None


@dataclass(frozen=True, slots=True)
class BootMark:
    """The newest reading (by seq) the hub has seen of one firmware boot."""

    boot_id: str
    seq: int
    ts: datetime
    received_at: datetime
    live: bool


def track_clock(c: DeviceClock, r: ReadingSeen, p: Policy) -> DeviceClock:
    """The next estimate after a reading. A reading the firmware says it re-sends from its
    outbox says nothing about the clock (it waited there for as long as it did)."""
    if r.live is False:
        return c
    delay_s = _seconds(r.received_at, r.ts)
    if delay_s <= c.offset_s:
        if delay_s != c.offset_s or c.rising is not None:  # else nothing changes
            c = replace(c, offset_s=delay_s, rising=None)
    else:
        run = _extend_run(c.rising, delay_s, r.received_at, p)
        confirmed = (
            run.count >= CLOCK_CONFIRM_READINGS
            and _seconds(run.last_at, run.first_at) >= CLOCK_CONFIRM_S
        )
        c = replace(c, offset_s=run.low_s, rising=None) if confirmed else replace(c, rising=run)
    if abs(c.offset_s - c.shift_s) > p.clock_skew_s:
        c = replace(c, shift_s=c.offset_s)
    return c


def _extend_run(run: DelayRun | None, delay_s: float, at: datetime, p: Policy) -> DelayRun:
    """Add a delay to the run if it agrees and the run was not broken by a silence."""
    if run is not None and abs(_seconds(at, run.last_at)) <= p.stale_after_s:
        low, high = min(run.low_s, delay_s), max(run.high_s, delay_s)
        if high - low <= min(CLOCK_BAND_S, p.replay_after_s):
            return DelayRun(min(run.first_at, at), max(run.last_at, at), low, high, run.count + 1)
    return DelayRun(at, at, delay_s, delay_s, 1)


def is_live(c: DeviceClock, boots: tuple[BootMark, ...], r: ReadingSeen, p: Policy) -> bool:
    """Is this reading the room now (True) or history arriving late (False)?

    `c` is the estimate after this reading. The firmware's own word decides when it gave
    one. Otherwise: live when it arrived within replay_after_s of when an unqueued reading
    would have, or when it is a later reading of a boot, arriving within stale_after_s of
    the newest one before it, and that one was live, or this one is paced: it arrived at
    least half as long after that one as it was measured after it (less a second when
    both are stamped on whole seconds). A clock that went back, or was wrong from the start, is then
    understood from the second reading on: its readings keep their pace, a backlog does
    not; and what a boot measures after a live reading is no older than that one.
    """
    if r.live is not None:
        return r.live
    if _seconds(r.received_at, r.ts) <= c.offset_s + p.replay_after_s:
        return True
    mark = _mark(boots, r.boot_id)
    if mark is None or r.seq is None or r.seq <= mark.seq:
        return False
    waited = _seconds(r.received_at, mark.received_at)
    if not 0 <= waited <= p.stale_after_s:
        return False
    coarse = r.ts.microsecond == 0 and mark.ts.microsecond == 0
    measured = _seconds(r.ts, mark.ts) - (COARSE_STAMP_S if coarse else 0.0)
    return mark.live or waited >= measured / 2


def _mark(boots: tuple[BootMark, ...], boot_id: str | None) -> BootMark | None:
    return next((b for b in boots if b.boot_id == boot_id), None) if boot_id else None


def mark_boot(boots: tuple[BootMark, ...], r: ReadingSeen, live: bool) -> tuple[BootMark, ...]:
    """Remember the reading if it is the newest of its boot; the MAX_BOOTS boots heard from
    most recently are kept."""
    if r.boot_id is None or r.seq is None:
        return boots
    mark = _mark(boots, r.boot_id)
    if mark is not None and r.seq <= mark.seq:
        return boots
    others = tuple(b for b in boots if b.boot_id != r.boot_id)
    return (*others, BootMark(r.boot_id, r.seq, r.ts, r.received_at, live))[-MAX_BOOTS:]
