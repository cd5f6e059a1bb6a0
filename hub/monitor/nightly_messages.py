"""The words of the bedtime check-in and the morning summary, beside the messages package."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from hub.conditions import Condition
from hub.messages.formatting import Unit, limit_text, span_text, temp_text
from hub.messages.push import Message
from hub.monitor.nightly import Answer, ColdNights, Gap, NightSummary, RoomNow

CHECKIN_TITLE = "Nursery monitor: watching tonight"
CHECKIN_PROBLEM_TITLE = "Nursery monitor: please check the monitor"
SUMMARY_TITLE = "Nursery monitor: last night"

_ALERT_NAMES: dict[Condition, str] = {
    Condition.COLD: "cold",
    Condition.COOL: "cool",
    Condition.FAST_DROP: "falling fast",
    Condition.WARM: "warm",
    Condition.HOT: "hot",
    Condition.HUMIDITY: "humidity",
    Condition.NO_DATA: "no readings",
    Condition.OFFLINE: "monitor offline",
    Condition.SENSOR_SUSPECT: "sensor check",
    Condition.CLOCK_SKEW: "monitor clock",
    Condition.LOW_BATTERY: "sensor battery",
}
# Per room; the rest are counted, so a busy night still fits a lock screen (BODY_MAX).
_LISTED_ALERTS = 3
_LISTED_GAPS = 1


def _the(room: str) -> str:
    """`baby-room` → `the baby room`, for the middle of a sentence."""
    words = room.replace("-", " ").replace("_", " ").strip() or room
    return f"the {words}"


def _clock(at: datetime) -> str:
    return at.strftime("%H:%M")


def _names(caregivers: Sequence[str]) -> str:
    if not caregivers:
        return "alerts go to every configured notification channel"
    return "alerts go to " + ", then ".join(caregivers)


def _room_now(room: RoomNow, unit: Unit) -> str:
    assert room.temperature_c is not None
    return f"{_the(room.room)}: {temp_text(room.temperature_c, unit)}, online"


def _silent(room: RoomNow) -> str:
    return (
        f"No recent reading from {_the(room.room)}: please check the room yourself, then "
        "the monitor's power and Wi-Fi."
    )


def _reminder(cold: ColdNights, unit: Unit) -> str:
    where, low, hour = _the(cold.room), temp_text(cold.low_c, unit), _clock(cold.low_at)
    if cold.dipped == cold.nights:
        facts = f"The last {cold.nights} nights {where} fell to {low} around {hour}"
    else:
        facts = (
            f"{cold.dipped} of the last {cold.nights} nights {where} fell below "
            f"{limit_text(cold.edge_c, unit)}, lowest {low} around {hour}"
        )
    return f"{facts}: a warmer sleep bag or a layer may help."


def checkin(
    rooms: Sequence[RoomNow],
    caregivers: Sequence[str],
    reminders: Sequence[ColdNights],
    unit: Unit = "C",
) -> Message:
    """The bedtime push: each room's reading and whether it is live, who is paged in
    which order, and the warming reminder when recent nights back it."""
    live = [r for r in rooms if r.live and r.temperature_c is not None]
    paged = _names(caregivers)
    parts = [_silent(r) for r in rooms if r not in live]
    if not rooms:
        parts.append("No room has sent a reading yet: please check the monitor.")
    if live:
        parts.append("Watching " + "; ".join(_room_now(r, unit) for r in live) + f"; {paged}.")
    else:
        parts.append(paged[:1].upper() + paged[1:] + ".")
    parts += [_reminder(c, unit) for c in reminders]
    all_live = bool(rooms) and len(live) == len(rooms)
    body = " ".join(parts)
    return Message(
        title=CHECKIN_TITLE if all_live else CHECKIN_PROBLEM_TITLE,
        body=body,
        priority="default",
        tags=("crescent_moon",),
    )


def _answer(alert: Answer) -> str:
    what = f"{_ALERT_NAMES.get(alert.condition, str(alert.condition))} at {_clock(alert.opened_at)}"
    if alert.acked_via == "push":
        return f"{what}, answered from a push"
    if alert.acked_via == "mqtt":
        return f"{what}, answered from home automation"
    if alert.acked_by:
        return f"{what}, answered by {alert.acked_by}"
    return f"{what}, not answered"


def _gap(gap: Gap) -> str:
    lasted = span_text((gap.end - gap.start).total_seconds())
    span = f"{_clock(gap.start)}–{_clock(gap.end)} ({lasted})"
    if gap.alerted:
        return f"the room's monitor was silent {span}; its alert went out"
    return f"no readings were stored {span}: the hub was not running, so no alert could go out"


def _sentences(parts: Sequence[str]) -> str:
    return " ".join(p[:1].upper() + p[1:] + "." for p in parts)


def _room_night(summary: NightSummary, unit: Unit) -> str:
    band = summary.band
    name = _the(summary.room)
    if summary.low_c is None or summary.high_c is None:
        parts = [f"{name}: no readings were stored"]
    else:
        low, high = temp_text(summary.low_c, unit), temp_text(summary.high_c, unit)
        lower = limit_text(band.cool_below_c, unit).removesuffix(f" °{unit}")
        comfortable = f"{lower}–{limit_text(band.warm_above_c, unit)}"
        parts = [f"{name}: {low} to {high}, {summary.minutes_outside} min outside {comfortable}"]
    if summary.alerts:
        listed = [_answer(a) for a in summary.alerts[:_LISTED_ALERTS]]
        more = len(summary.alerts) - len(listed)
        if more:
            listed.append(f"{more} more on the dashboard")
        parts.append("alerts: " + "; ".join(listed))
    else:
        parts.append("no alerts")
    parts += [_gap(g) for g in summary.gaps[:_LISTED_GAPS]] or ["every part stayed up"]
    if len(summary.gaps) > _LISTED_GAPS:
        more = len(summary.gaps) - _LISTED_GAPS
        parts.append(f"{more} more gap{'s' if more > 1 else ''} on the dashboard's chart")
    return _sentences(parts)


def summary(nights: Sequence[NightSummary], unit: Unit = "C") -> Message:
    """The morning push: each room's range, minutes outside the comfortable band, the
    alerts and who answered them, and whether every part stayed up (and if not, which)."""
    if not nights:
        body = "No room has sent a reading yet: please check the monitor."
    else:
        first = nights[0].night
        nightly = " ".join(_room_night(n, unit) for n in nights)
        body = f"{_clock(first.start)}–{_clock(first.end)}. {nightly}"
    return Message(title=SUMMARY_TITLE, body=body, priority="default", tags=("sunrise",))
