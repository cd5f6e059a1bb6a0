"""Every word a parent's phone shows, in one module, so it can be reviewed and translated.

The texts state what was measured, against which threshold, for how long, and what to
check. They never say how the baby is, never link the room to the baby's health, and never
diagnose: the monitor measures a room, not a child. Temperatures are stored in °C and
converted here for display.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from hub.conditions import Condition, Finding, Severity
from nursery.config import RulesSettings

Priority = Literal["low", "default", "high", "urgent"]
Unit = Literal["C", "F"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

TITLE_MAX = 60
BODY_MAX = 400
# DHT22 datasheet: ±0.5 °C; humidity up to ±5 %RH. A DHT11 is ±2 °C: pass accuracy_c.
SENSOR_ACCURACY_C = 0.5
HUMIDITY_ACCURACY_PCT = 5.0

ACK_LABEL = "I'm on it"
SNOOZE_LABEL = "Snooze 30 min"

_PRIORITY_BY_SEVERITY: dict[Severity, Priority] = {
    Severity.ALERT: "high",
    Severity.WARNING: "default",
    Severity.ADVISORY: "low",
}
# ntfy shows these emoji shortcodes as icons; other services ignore them.
_TAGS: dict[Condition, tuple[str, ...]] = {
    Condition.COLD: ("snowflake",),
    Condition.COOL: ("thermometer",),
    Condition.FAST_DROP: ("chart_with_downwards_trend",),
    Condition.WARM: ("thermometer",),
    Condition.HOT: ("thermometer", "sunny"),
    Condition.HUMIDITY: ("droplet",),
    Condition.NO_DATA: ("grey_question",),
    Condition.OFFLINE: ("electric_plug",),
    Condition.SENSOR_SUSPECT: ("wrench",),
    Condition.CLOCK_SKEW: ("clock3",),
}
_RESOLVED_TAGS = ("white_check_mark",)
_COLDER = {Condition.COLD, Condition.COOL, Condition.FAST_DROP}
_WARMER = {Condition.WARM, Condition.HOT}


@dataclass(frozen=True, slots=True)
class Message:
    """One push as the phone shows it; the priority decides sound and Do-Not-Disturb."""

    title: str
    body: str
    priority: Priority
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.title.strip():
            raise ValueError("a message needs a title")
        if self.priority not in PRIORITIES:
            raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")


# --- formatting ----------------------------------------------------------------------


def _temp(celsius: float, unit: Unit) -> str:
    """A reading, always with one decimal: `15.2 °C`."""
    value = celsius * 9 / 5 + 32 if unit == "F" else celsius
    return f"{value:.1f} °{unit}"


def _limit(celsius: float, unit: Unit) -> str:
    """A threshold, without a needless `.0`: `16 °C`, `60.8 °F`."""
    value = celsius * 9 / 5 + 32 if unit == "F" else celsius
    return f"{round(value, 1):g} °{unit}"


def _delta(celsius: float, unit: Unit) -> str:
    """A difference of temperatures: 2 °C is 3.6 °F (no 32 offset)."""
    value = celsius * 9 / 5 if unit == "F" else celsius
    return f"{round(value, 1):g} °{unit}"


def _span(seconds: float) -> str:
    """`40 s`, `25 min`, `1 h 5 min`: short enough for a lock screen."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def _room(room: str) -> str:
    """`baby-room` → `Baby room`: room names are slugs in topics, words on a phone."""
    words = room.replace("-", " ").replace("_", " ").strip() or room
    return words[:1].upper() + words[1:]


def _title(room: str, text: str) -> str:
    """`Room: text`, shortening the room name (never the text) to fit TITLE_MAX."""
    name = _room(room)
    room_max = TITLE_MAX - len(text) - 2
    if len(name) > room_max:
        name = name[: max(1, room_max - 1)] + "…"
    return f"{name}: {text}"


def _accuracy(unit: Unit, accuracy_c: float) -> str:
    return f"Sensor accuracy ±{_delta(accuracy_c, unit)}."


# --- the words for each condition ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Words:
    state: str  # the title after the room: "room is cold"
    short: str  # "cold", as in "cold, not acknowledged"
    still: str  # "still cold"
    facts: str  # what was measured, against what, for how long
    advice: str  # what to check
    reading: str = ""  # " (15.2 °C)" after the title, when there is a reading
    accuracy: str = ""  # the closing accuracy sentence of a reading reminder


def _threshold(finding: Finding, rules: RulesSettings, key: str) -> float:
    return finding.threshold if finding.threshold is not None else rules.effective(key)


def _lasted(finding: Finding, now: datetime) -> str:
    return _span((now - finding.since).total_seconds())


def _temperature_words(
    finding: Finding, rules: RulesSettings, now: datetime, unit: Unit, accuracy_c: float
) -> _Words:
    condition, value = finding.condition, finding.value
    reading = f" ({_temp(value, unit)})" if value is not None else ""
    at = f"The room is at {_temp(value, unit)}, " if value is not None else "The room has been "
    lasted = _lasted(finding, now)
    warm_max = _limit(rules.effective("warm_above_c"), unit)

    def words(state: str, short: str, facts: str, advice: str) -> _Words:
        accuracy = _accuracy(unit, accuracy_c)
        return _Words(state, short, f"still {short}", facts, advice, reading, accuracy)

    if condition == Condition.COLD:
        threshold = _limit(_threshold(finding, rules, "cold_below_c"), unit)
        facts = f"{at}below {threshold} for {lasted}."
        if finding.worst is not None and value is not None and finding.worst < value - 0.05:
            facts += f" Lowest {_temp(finding.worst, unit)}."
        advice = (
            "Please check: feel the baby's chest or back; add a layer or a warmer sleep bag; "
            "close a window; adjust the heating. No hot-water bottles or heaters near the cot. "
            f"Keep the room no warmer than {warm_max}."
        )
        return words("room is cold", "cold", facts, advice)
    if condition == Condition.COOL:
        threshold = _limit(_threshold(finding, rules, "cool_below_c"), unit)
        advice = (
            "Nothing urgent. If it keeps cooling: add a layer or a warmer sleep bag, close a "
            f"window or adjust the heating (no warmer than {warm_max})."
        )
        return words("room is cool", "cool", f"{at}below {threshold} for {lasted}.", advice)
    if condition == Condition.FAST_DROP:
        now_at = f" and is now {_temp(value, unit)}" if value is not None else ""
        facts = (
            f"The room temperature has fallen by {_delta(rules.drop_c, unit)} or more within "
            f"{_span(rules.drop_window_s)}{now_at} (falling for {lasted})."
        )
        if finding.minutes_to_cold is not None and finding.minutes_to_cold > 0:
            cold = _limit(rules.effective("cold_below_c"), unit)
            eta = _span(finding.minutes_to_cold * 60)
            facts += f" At this rate the room reaches {cold} in about {eta}."
        advice = (
            "Check for an open window or door and the heating, and have a layer or a warmer "
            "sleep bag ready."
        )
        return words("temperature falling fast", "falling fast", facts, advice)
    if condition == Condition.WARM:
        threshold = _limit(_threshold(finding, rules, "warm_above_c"), unit)
        advice = (
            "Nothing urgent. If it stays warm: remove a layer, open a door or turn the "
            "heating down."
        )
        return words("room is warm", "warm", f"{at}above {threshold} for {lasted}.", advice)
    hot = finding.threshold if finding.threshold is not None else rules.hot_above_c
    facts = f"{at}above {_limit(hot, unit)} for {lasted}."
    if finding.worst is not None and value is not None and finding.worst > value + 0.05:
        facts += f" Highest {_temp(finding.worst, unit)}."
    advice = (
        "Please check: feel the baby's chest or back; remove a layer; open a door; turn the "
        "heating down. Keep the cot away from radiators and heaters."
    )
    return words("room is hot", "hot", facts, advice)


def _humidity_words(finding: Finding, rules: RulesSettings, now: datetime) -> _Words:
    value, lasted = finding.value, _lasted(finding, now)
    accuracy = f"Humidity accuracy about ±{HUMIDITY_ACCURACY_PCT:g} %."
    if value is None:
        band = f"{rules.humidity_low_pct:g}–{rules.humidity_high_pct:g} %"
        return _Words(
            state="humidity out of range",
            short="humidity out of range",
            still="humidity still out of range",
            facts=f"Humidity has been outside {band} for {lasted}.",
            advice="Nothing urgent. Air the room when you can.",
            accuracy=accuracy,
        )
    if finding.threshold is not None:
        low = value <= finding.threshold
    else:
        low = value < rules.humidity_low_pct
    edge = finding.threshold
    if edge is None:
        edge = rules.humidity_low_pct if low else rules.humidity_high_pct
    if low:
        side, level = "below", "low"
        advice = "Nothing urgent: heating often dries the air. Airing the room in the day can help."
    else:
        side, level = "above", "high"
        advice = "Nothing urgent. Air the room when you can and check for damp or drying laundry."
    return _Words(
        state=f"humidity {level}",
        short=f"humidity {level}",
        still=f"humidity still {level}",
        facts=f"Humidity is {value:.0f} %, {side} {edge:g} % for {lasted}.",
        advice=advice,
        reading=f" ({value:.0f} %)",
        accuracy=accuracy,
    )


def _silence_words(finding: Finding, rules: RulesSettings, now: datetime) -> _Words:
    silent_s = finding.value if finding.value is not None else (now - finding.since).total_seconds()
    advice = "Please check the room yourself, then the monitor: its power and Wi-Fi."
    unknown = "The room temperature is now unknown."
    if finding.condition == Condition.OFFLINE:
        return _Words(
            state="monitor offline",
            short="monitor offline",
            still="monitor still offline",
            facts=f"The monitor has been offline for {_span(silent_s)}. {unknown}",
            advice=advice,
        )
    limit = finding.threshold if finding.threshold is not None else rules.stale_after_s
    return _Words(
        state=f"no readings for {_span(silent_s)}",
        short="no readings",
        still="still no readings",
        facts=f"No reading from the monitor for {_span(silent_s)} (the limit is "
        f"{_span(limit)}). {unknown}",
        advice=advice,
    )


def _suspect_words(finding: Finding, rules: RulesSettings, now: datetime) -> _Words:
    if finding.value is not None:
        limit = finding.threshold if finding.threshold is not None else rules.suspect_error_ratio
        facts = (
            f"{finding.value * 100:.0f} % of the sensor's readings in the last 30 min failed or "
            f"were impossible (the limit is {limit * 100:.0f} %), for {_lasted(finding, now)}."
        )
    else:
        facts = f"The sensor's readings have looked wrong or stuck for {_lasted(finding, now)}."
    return _Words(
        state="sensor readings look unreliable",
        short="sensor unreliable",
        still="sensor still unreliable",
        facts=facts,
        advice="Check the sensor's wiring and placement: away from heaters, windows and direct "
        "sun. Until then its readings may be wrong, so check the room yourself.",
    )


def _skew_words(finding: Finding, rules: RulesSettings, now: datetime) -> _Words:
    limit = finding.threshold if finding.threshold is not None else rules.clock_skew_s
    if finding.value is None:
        off = f"off by more than {_span(limit)}"
    else:
        side = "behind" if finding.value < 0 else "ahead of"
        off = f"{_span(abs(finding.value))} {side} the hub's (the limit is {_span(limit)})"
    return _Words(
        state="monitor clock is off",
        short="clock off",
        still="clock still off",
        facts=f"The monitor's clock is {off}, for {_lasted(finding, now)}.",
        advice="Readings still arrive. Check the monitor's network and time settings when you can.",
    )


def _words(
    finding: Finding, rules: RulesSettings, now: datetime, unit: Unit, accuracy_c: float
) -> _Words:
    condition = finding.condition
    if condition in _COLDER or condition in _WARMER:
        return _temperature_words(finding, rules, now, unit, accuracy_c)
    if condition == Condition.HUMIDITY:
        return _humidity_words(finding, rules, now)
    if condition in (Condition.NO_DATA, Condition.OFFLINE):
        return _silence_words(finding, rules, now)
    if condition == Condition.SENSOR_SUSPECT:
        return _suspect_words(finding, rules, now)
    return _skew_words(finding, rules, now)


def _body(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def guidance(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    accuracy_c: float = SENSOR_ACCURACY_C,
) -> tuple[str, str]:
    """The advice and the accuracy sentence ("" when none) the push gives for this
    finding, for the dashboard's alert row: the same words on the phone and on the page."""
    words = _words(finding, rules, now, unit, accuracy_c)
    return words.advice, words.accuracy


# --- the messages --------------------------------------------------------------------


def first_page(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    accuracy_c: float = SENSOR_ACCURACY_C,
) -> Message:
    """The first push of an incident."""
    words = _words(finding, rules, now, unit, accuracy_c)
    return Message(
        title=_title(finding.room, words.state + words.reading),
        body=_body(words.facts, words.advice, words.accuracy),
        priority=_PRIORITY_BY_SEVERITY[finding.severity],
        tags=_TAGS[finding.condition],
    )


def repeat(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    accuracy_c: float = SENSOR_ACCURACY_C,
) -> Message:
    """The same incident again: nobody has acknowledged it yet."""
    words = _words(finding, rules, now, unit, accuracy_c)
    return Message(
        title=_title(finding.room, words.still + words.reading),
        body=_body("Not acknowledged yet.", words.facts, words.advice, words.accuracy),
        priority=_PRIORITY_BY_SEVERITY[finding.severity],
        tags=_TAGS[finding.condition],
    )


def worse(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    previous: float | None = None,
    accuracy_c: float = SENSOR_ACCURACY_C,
) -> Message:
    """Paged again after an acknowledgement or snooze: the room moved further out.

    `previous` is the temperature (°C) when it was acknowledged, if known.
    """
    words = _words(finding, rules, now, unit, accuracy_c)
    condition = finding.condition
    if condition in _COLDER:
        change = "colder"
    elif condition == Condition.WARM:
        change = "warmer"
    elif condition == Condition.HOT:
        change = "hotter"
    else:
        change = ""
    state = f"{change} now" if change else words.still
    since_ack = f"{(change or 'worse').capitalize()} than when it was acknowledged"
    if previous is not None and change:
        since_ack += f" (then {_temp(previous, unit)})"
    return Message(
        title=_title(finding.room, state + words.reading),
        body=_body(since_ack + ".", words.facts, words.advice, words.accuracy),
        priority=_PRIORITY_BY_SEVERITY[finding.severity],
        tags=_TAGS[finding.condition],
    )


def escalation(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    unacknowledged_for: timedelta | None = None,
    accuracy_c: float = SENSOR_ACCURACY_C,
) -> Message:
    """To the next caregiver: the first one has not acknowledged the alert."""
    words = _words(finding, rules, now, unit, accuracy_c)
    if unacknowledged_for is not None:
        lead = f"Not acknowledged for {_span(unacknowledged_for.total_seconds())}."
    else:
        lead = "Not acknowledged yet."
    return Message(
        title=_title(finding.room, f"{words.short}, not acknowledged{words.reading}"),
        body=_body(lead, words.facts, words.advice, words.accuracy),
        priority="urgent",
        tags=_TAGS[finding.condition],
    )


_RESOLVED_TITLES: dict[Condition, str] = {
    Condition.COLD: "temperature back to normal",
    Condition.COOL: "temperature back to normal",
    Condition.FAST_DROP: "temperature steady again",
    Condition.WARM: "temperature back to normal",
    Condition.HOT: "temperature back to normal",
    Condition.HUMIDITY: "humidity back in range",
    Condition.NO_DATA: "readings arriving again",
    Condition.OFFLINE: "monitor back online",
    Condition.SENSOR_SUSPECT: "sensor readings look normal",
    Condition.CLOCK_SKEW: "monitor clock back in step",
}


def resolved(
    finding: Finding | Condition,
    open_for: timedelta,
    *,
    room: str | None = None,
    value: float | None = None,
    unit: Unit = "C",
) -> Message:
    """Back to normal: short and quiet, it needs no action.

    Pass the incident's Finding, or its Condition with `room=`. `value` is the room's
    current temperature (°C), shown when given.
    """
    if isinstance(finding, Finding):
        condition, room = finding.condition, finding.room
    else:
        condition = finding
    if room is None:
        raise ValueError("resolved() needs room= when given a Condition")
    body = f"Cleared after {_span(open_for.total_seconds())}."
    if value is not None:
        body += f" The room is at {_temp(value, unit)}."
    return Message(
        title=_title(room, _RESOLVED_TITLES[condition]),
        body=body,
        priority="low",
        tags=_RESOLVED_TAGS,
    )


def test_message() -> Message:
    """For `nursery notify-test`: proves a channel works, without sounding like an alert."""
    return Message(
        title="Nursery monitor: test notification",
        body="This is a test from your nursery monitor. If you can read this, its alerts "
        "can reach you here.",
        priority="default",
        tags=("bell",),
    )


# --- additions made at delivery time -------------------------------------------------


def with_links(body: str, links: Iterable[tuple[str, str]]) -> str:
    """The push's buttons as text lines, for services that cannot show buttons."""
    lines = [f"{label}: {url}" for label, url in links]
    return body + "\n\n" + "\n".join(lines) if lines else body


def late_note(age: timedelta) -> str:
    """Said when a push could only go out late, so old numbers are not read as current."""
    return f"Sent late: this was raised {_span(age.total_seconds())} ago."


# --- the pages a push's links open, and the Host check (hub/api/alerts.py) -------------

# Who answered, as the dashboard shows it, when a push link was tapped on a phone that is
# not signed in to the dashboard.
PUSH_BY = "push button"
LINK_NOT_VALID = (
    "This link was not made by this hub, or it was changed after it was sent. "
    "Open the dashboard to answer the alert."
)
LINK_EXPIRED = "This link has expired. Open the dashboard to answer the alert."
LINK_OFF = (
    "Links in pushes are turned off on this hub (notify.public_url is not set). "
    "Open the dashboard to answer the alert."
)
LINK_UNKNOWN = "This alert is no longer on the hub. Open the dashboard to see the rooms."
LINK_BAD_TITLE = "This link does not work"
LINK_DASHBOARD = "Open the dashboard"


@dataclass(frozen=True, slots=True)
class LinkPage:
    """A short page for a parent who opened a push's link: a title, one or two sentences,
    and on the page before anything happens, the label of the button that acts."""

    title: str
    text: str
    button: str | None = None


def _at(ts: datetime, now: datetime) -> str:
    """A time on the hub's clock: `03:12` today, `Fri 4 Dec 23:50` another day."""
    local, today = ts.astimezone(), now.astimezone()
    if local.date() == today.date():
        return f"{local:%H:%M}"
    return f"{local:%a} {local.day} {local:%b %H:%M}"


def _answered(
    by: str | None, acked_at: datetime | None, snoozed_until: datetime | None, now: datetime
) -> str:
    who = "from a push" if by in (None, PUSH_BY) else f"by {by}"
    if snoozed_until is not None and snoozed_until > now:
        return f"snoozed {who} until {_at(snoozed_until, now)}"
    if acked_at is not None:
        return f"acknowledged {who} at {_at(acked_at, now)}"
    return f"snoozed {who}"


def link_confirm(room: str, since: datetime, snooze_minutes: int | None, now: datetime) -> LinkPage:
    """Before acting: a link opened in a browser (a GET changes nothing)."""
    where = f"{_room(room)}: alert since {_at(since, now)}."
    if snooze_minutes is None:
        text = f"{where} Tap to let the hub know you are on it; its reminders for this alert stop."
        return LinkPage(ACK_LABEL, text, ACK_LABEL)
    label = f"Snooze {snooze_minutes} min"
    text = (
        f"{where} Tap to quiet this alert for {snooze_minutes} minutes; if it has not "
        "cleared by then, you get a reminder."
    )
    return LinkPage(label, text, label)


def link_done(
    by: str | None, acked_at: datetime | None, snoozed_until: datetime | None, now: datetime
) -> LinkPage:
    """The link acted."""
    return LinkPage("Done", f"Done: {_answered(by, acked_at, snoozed_until, now)}.")


def link_already_done(
    by: str | None, acked_at: datetime | None, snoozed_until: datetime | None, now: datetime
) -> LinkPage:
    """The link was used before, or someone already answered: nothing changed now."""
    if acked_at is None and (snoozed_until is None or snoozed_until <= now):
        # Used, and the alert is back (worse, or its snooze ran out): say so.
        text = (
            "Already done: this link was used before. The alert is open again; answer it "
            "from its newest push or the dashboard."
        )
        return LinkPage("Already done", text)
    answer = _answered(by, acked_at, snoozed_until, now)
    return LinkPage("Already done", f"Already done: {answer}. Nothing more to do here.")


def link_already_resolved(room: str, resolved_at: datetime, now: datetime) -> LinkPage:
    """The alert ended before the link was opened."""
    text = f"Already resolved at {_at(resolved_at, now)}: the {_room(room)} alert has ended."
    return LinkPage("Already resolved", text)


def host_refused(host: str) -> str:
    """A request under a name the hub is not served as (DNS rebinding, or a new name)."""
    return (
        f"This hub does not answer to the name {host!r}. If it is yours, add it to "
        "hub.allowed_hosts (NURSERY_HUB__ALLOWED_HOSTS)."
    )
