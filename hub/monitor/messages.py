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

from hub.monitor.conditions import Condition, Finding, Severity
from mqttlink.rules_settings import RulesSettings

Priority = Literal["low", "default", "high", "urgent"]
Unit = Literal["C", "F"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

TITLE_MAX = 60
BODY_MAX = 400


@dataclass(frozen=True, slots=True)
class Accuracy:
    """What a sensor model's datasheet promises: temperature in °C, humidity in %RH."""

    temperature_c: float
    humidity_pct: float


# By the model the firmware names in its health message (firmware.sensor). Datasheets:
# DHT22/AM2302 ±0.5 °C and ±2–5 %RH; DHT11 ±2 °C and ±5 %RH. A simulated sensor, or a
# model not listed, gets no accuracy sentence rather than a borrowed one; firmware too old
# to name its model is taken as firmware.sensor's default, the DHT22.
SENSOR_ACCURACY: dict[str, Accuracy] = {
    "dht22": Accuracy(0.5, 5.0),
    "am2302": Accuracy(0.5, 5.0),
    "dht11": Accuracy(2.0, 5.0),
}
DEFAULT_SENSOR = "dht22"
SENSOR_ACCURACY_C = SENSOR_ACCURACY[DEFAULT_SENSOR].temperature_c
HUMIDITY_ACCURACY_PCT = SENSOR_ACCURACY[DEFAULT_SENSOR].humidity_pct


def sensor_accuracy(model: str | None) -> Accuracy | None:
    """The accuracy of the sensor model a room reports (None: not said, the default
    model), or None for a model without a datasheet here."""
    return SENSOR_ACCURACY.get((model or DEFAULT_SENSOR).strip().lower())


def accuracy_c(model: str | None) -> float | None:
    """The temperature accuracy (°C) of a sensor model, for the messages' `accuracy_c`."""
    accuracy = sensor_accuracy(model)
    return accuracy.temperature_c if accuracy else None


ACK_LABEL = "I'm on it"
SNOOZE_LABEL = "Snooze 30 min"
NO_ANSWER_YET = f"Nobody has tapped “{ACK_LABEL}” yet."

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
# How to check the baby rather than the room: hands and feet mislead.
FEEL_CHECK = (
    "Please check: feel the baby's chest or the back of the neck; cool hands and feet are normal."
)
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


def temperature(celsius: float | None, unit: Unit = "C") -> str:
    """A temperature for a page or the report, `15.2 °C` or `59.4 °F`; `–` when unknown."""
    return "–" if celsius is None else _temp(celsius, unit)


def temperature_range(low_c: float, high_c: float, unit: Unit = "C") -> str:
    """`15.2–17.0 °C`, one unit sign for both ends."""
    low, high = (_temp(value, unit).split(" ")[0] for value in (low_c, high_c))
    return f"{low}–{high} °{unit}"


def temperature_rate(c_per_h: float, unit: Unit = "C") -> str:
    """A trend, `+0.6 °C/h` or `+1.1 °F/h` (a rate has no 32 offset)."""
    value = c_per_h * 9 / 5 if unit == "F" else c_per_h
    return f"{value:+.1f} °{unit}/h"


def threshold(celsius: float, unit: Unit = "C") -> str:
    """A threshold as the pushes write it: `16 °C`, `60.8 °F`."""
    return _limit(celsius, unit)


def sensor_note(accuracy_c: float | None, unit: Unit = "C") -> str:
    """Where the report's room values come from, with the sensor's accuracy if known."""
    if accuracy_c is None:
        return "Room values come from the monitor's sensor."
    return f"Room values come from the monitor's sensor (about ±{_delta(accuracy_c, unit)})."


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


def _accuracy(unit: Unit, accuracy_c: float | None) -> str:
    return "" if accuracy_c is None else f"Sensor accuracy ±{_delta(accuracy_c, unit)}."


# --- the words for each condition ----------------------------------------------------

# The one name of each condition, for pushes, the dashboard (through GET /api/settings)
# and the report: a parent sees the same words wherever an alert shows up.
CONDITION_LABELS: dict[Condition, str] = {
    Condition.COLD: "Room is cold",
    Condition.COOL: "Room is a little cool",
    Condition.FAST_DROP: "Temperature falling fast",
    Condition.WARM: "Room is a little warm",
    Condition.HOT: "Room is hot",
    Condition.HUMIDITY: "Humidity out of range",
    Condition.NO_DATA: "No readings",
    Condition.OFFLINE: "Monitor offline",
    Condition.SENSOR_SUSPECT: "Sensor readings look unreliable",
    Condition.CLOCK_SKEW: "Monitor clock is off",
}
HUMIDITY_LOW_LABEL = "Humidity is low"
HUMIDITY_HIGH_LABEL = "Humidity is high"


def label(condition: Condition, humidity_low: bool | None = None) -> str:
    """The condition's name as a heading: `Room is cold`; humidity says low or high when
    `humidity_low` is known."""
    if condition == Condition.HUMIDITY and humidity_low is not None:
        return HUMIDITY_LOW_LABEL if humidity_low else HUMIDITY_HIGH_LABEL
    return CONDITION_LABELS[condition]


def labels() -> dict[str, str]:
    """Every label by condition name (and `humidity_low`/`humidity_high`), for the page."""
    out = {condition.value: text for condition, text in CONDITION_LABELS.items()}
    out["humidity_low"], out["humidity_high"] = HUMIDITY_LOW_LABEL, HUMIDITY_HIGH_LABEL
    return out


def _state(condition: Condition, humidity_low: bool | None = None) -> str:
    """The label after `Room: ` in a title: `room is cold`."""
    text = label(condition, humidity_low)
    return text[:1].lower() + text[1:]


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


def _time_to_cold(finding: Finding, rules: RulesSettings, unit: Unit) -> str:
    """` At this rate the room reaches 16 °C (cold) in about 40 min.`, when predicted."""
    if finding.minutes_to_cold is None or finding.minutes_to_cold <= 0:
        return ""
    cold = _limit(rules.effective("cold_below_c"), unit)
    eta = _span(finding.minutes_to_cold * 60)
    return f" At this rate the room reaches {cold} (cold) in about {eta}."


def _temperature_words(
    finding: Finding, rules: RulesSettings, now: datetime, unit: Unit, accuracy_c: float | None
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
            f"{FEEL_CHECK} Then add a layer or a warmer sleep bag, close a window, adjust the "
            "heating. No hot-water bottles or heaters near the cot. "
            f"Keep the room no warmer than {warm_max}."
        )
        return words(_state(Condition.COLD), "cold", facts, advice)
    if condition == Condition.COOL:
        threshold = _limit(_threshold(finding, rules, "cool_below_c"), unit)
        facts = f"{at}below {threshold} for {lasted}."
        facts += _time_to_cold(finding, rules, unit)
        advice = (
            "Nothing urgent. If it keeps cooling: add a layer or a warmer sleep bag, close a "
            f"window or adjust the heating (no warmer than {warm_max})."
        )
        return words(_state(Condition.COOL), "cool", facts, advice)
    if condition == Condition.FAST_DROP:
        now_at = f" and is now {_temp(value, unit)}" if value is not None else ""
        facts = (
            f"The room temperature has fallen by {_delta(rules.drop_c, unit)} or more within "
            f"{_span(rules.drop_window_s)}{now_at} (falling for {lasted})."
        )
        facts += _time_to_cold(finding, rules, unit)
        advice = (
            "Check for an open window or door and the heating, and have a layer or a warmer "
            "sleep bag ready."
        )
        return words(_state(Condition.FAST_DROP), "falling fast", facts, advice)
    if condition == Condition.WARM:
        threshold = _limit(_threshold(finding, rules, "warm_above_c"), unit)
        advice = (
            "Nothing urgent. If it stays warm: remove a layer, open a door or turn the "
            "heating down."
        )
        return words(_state(Condition.WARM), "warm", f"{at}above {threshold} for {lasted}.", advice)
    hot = finding.threshold if finding.threshold is not None else rules.hot_above_c
    facts = f"{at}above {_limit(hot, unit)} for {lasted}."
    if finding.worst is not None and value is not None and finding.worst > value + 0.05:
        facts += f" Highest {_temp(finding.worst, unit)}."
    advice = (
        f"{FEEL_CHECK} Then remove a layer, open a door, turn the heating down. Keep the cot "
        "away from radiators and heaters."
    )
    return words(_state(Condition.HOT), "hot", facts, advice)


def _humidity_words(
    finding: Finding, rules: RulesSettings, now: datetime, accuracy_c: float | None
) -> _Words:
    value, lasted = finding.value, _lasted(finding, now)
    # Every listed model is ±5 %RH at worst; an unknown sensor gets no claim.
    known = accuracy_c is not None
    accuracy = f"Humidity accuracy about ±{HUMIDITY_ACCURACY_PCT:g} %." if known else ""
    if value is None:
        band = f"{rules.humidity_low_pct:g}–{rules.humidity_high_pct:g} %"
        return _Words(
            state=_state(Condition.HUMIDITY),
            short="humidity out of range",
            still="humidity still out of range",
            facts=f"Humidity has been outside {band} for {lasted}.",
            advice="Nothing urgent. Check the room's heating and for damp when you can.",
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
        # Not "air the room": in winter that lets in cold air and dries it further.
        advice = (
            "Nothing urgent: heating often dries the air. Keep the heating no higher than "
            "needed; a humidifier out of the baby's reach can help."
        )
    else:
        side, level = "above", "high"
        advice = "Nothing urgent. Air the room when you can and check for damp or drying laundry."
    return _Words(
        state=_state(Condition.HUMIDITY, low),
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
            state=_state(Condition.OFFLINE),
            short="monitor offline",
            still="monitor still offline",
            facts=f"The monitor has been offline for {_span(silent_s)}. {unknown}",
            advice=advice,
        )
    limit = finding.threshold if finding.threshold is not None else rules.stale_after_s
    return _Words(
        state=f"{_state(Condition.NO_DATA)} for {_span(silent_s)}",
        short="no readings",
        still="still no readings",
        facts=f"No reading from the monitor for {_span(silent_s)} (the limit is "
        f"{_span(limit)}). {unknown}",
        advice=advice,
    )


def _suspect_words(finding: Finding, rules: RulesSettings, now: datetime) -> _Words:
    limit = finding.threshold if finding.threshold is not None else rules.suspect_error_ratio
    # The rules flag a sensor for failed reads or for readings frozen in place; a share of
    # failures under the limit can only mean the second.
    stuck = finding.detail == "readings unchanged" or (
        finding.value is not None and finding.value < limit
    )
    if stuck:
        facts = (
            f"Temperature and humidity have not changed for {_lasted(finding, now)}: the "
            "sensor may be stuck."
        )
    elif finding.value is not None:
        facts = (
            f"{finding.value * 100:.0f} % of the sensor's readings in the last 30 min failed or "
            f"were impossible (the limit is {limit * 100:.0f} %), for {_lasted(finding, now)}."
        )
    else:
        facts = f"The sensor's readings have looked wrong for {_lasted(finding, now)}."
    return _Words(
        state=_state(Condition.SENSOR_SUSPECT),
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
        state=_state(Condition.CLOCK_SKEW),
        short="clock off",
        still="clock still off",
        facts=f"The monitor's clock is {off}, for {_lasted(finding, now)}.",
        advice="Readings still arrive. Check the monitor's network and time settings when you can.",
    )


def _words(
    finding: Finding, rules: RulesSettings, now: datetime, unit: Unit, accuracy_c: float | None
) -> _Words:
    condition = finding.condition
    if condition in _COLDER or condition in _WARMER:
        return _temperature_words(finding, rules, now, unit, accuracy_c)
    if condition == Condition.HUMIDITY:
        return _humidity_words(finding, rules, now, accuracy_c)
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
    accuracy_c: float | None = SENSOR_ACCURACY_C,
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
    accuracy_c: float | None = SENSOR_ACCURACY_C,
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
    accuracy_c: float | None = SENSOR_ACCURACY_C,
) -> Message:
    """The same incident again: nobody has answered it yet."""
    words = _words(finding, rules, now, unit, accuracy_c)
    return Message(
        title=_title(finding.room, words.still + words.reading),
        body=_body(NO_ANSWER_YET, words.facts, words.advice, words.accuracy),
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
    accuracy_c: float | None = SENSOR_ACCURACY_C,
) -> Message:
    """Paged again after someone answered ("I'm on it" or a snooze): the room moved further
    out. `previous` is the temperature (°C) when it was answered, shown next to today's.
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
    reading = words.reading
    since_ack = f"{(change or 'worse').capitalize()} than when someone answered"
    if previous is not None and change:
        since_ack += f" (then {_temp(previous, unit)})"
        if finding.value is not None:
            reading = f" ({_temp(finding.value, unit)}, was {_temp(previous, unit)})"
    return Message(
        title=_title(finding.room, state + reading),
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
    accuracy_c: float | None = SENSOR_ACCURACY_C,
) -> Message:
    """To the next caregiver: nobody has answered the alert."""
    words = _words(finding, rules, now, unit, accuracy_c)
    if unacknowledged_for is not None:
        waited = _span(unacknowledged_for.total_seconds())
        lead = f"Nobody has tapped “{ACK_LABEL}” for {waited}."
    else:
        lead = NO_ANSWER_YET
    return Message(
        title=_title(finding.room, f"{words.short}, no answer yet{words.reading}"),
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
    body = f"This lasted {_span(open_for.total_seconds())}."
    if value is not None:
        body += f" The room is at {_temp(value, unit)} now."
    return Message(
        title=_title(room, _RESOLVED_TITLES[condition]),
        body=body,
        priority="low",
        tags=_RESOLVED_TAGS,
    )


# --- the settings page's refusals ---------------------------------------------------

# As the settings page names its fields ("Cold alert below", "Cool note below"…).
_THRESHOLD_NAMES: dict[str, str] = {
    "cold_below_c": "the cold alert threshold",
    "cool_below_c": "the cool note threshold",
    "warm_above_c": "the warm note threshold",
    "hot_above_c": "the hot alert threshold",
    "cold_clear_c": "the temperature at which a cold alert clears",
}


def _threshold_name(key: str) -> str:
    return _THRESHOLD_NAMES.get(key, key.replace("_", " "))


def threshold_order(blamed: str, value_c: float, other: str, other_c: float, unit: Unit) -> str:
    """Two thresholds that contradict each other, with both values, in the page's unit."""
    side = "above" if value_c > other_c else "below"
    name = _threshold_name(blamed)
    return (
        f"{name[:1].upper()}{name[1:]} ({_limit(value_c, unit)}) cannot be {side} "
        f"{_threshold_name(other)} ({_limit(other_c, unit)}). From low to high: cold, cool, "
        "warm, hot."
    )


def threshold_range(key: str, low_c: float, high_c: float, unit: Unit) -> str:
    """A threshold outside what the monitor can use, in the page's unit."""
    name = _threshold_name(key)
    return (
        f"{name[:1].upper()}{name[1:]} must be between {_limit(low_c, unit)} and "
        f"{_limit(high_c, unit)}."
    )


def threshold_number(key: str) -> str:
    name = _threshold_name(key)
    return f"{name[:1].upper()}{name[1:]} must be a number."


# --- the episode form's refusals ------------------------------------------------------

# By the error's code (hub/episodes/model.py, hub/api/episodes.py): what the form shows next to
# the field, in words a parent logging at 3 a.m. reads without knowing the API's names.
_EPISODE_PROBLEMS: dict[str, str] = {
    "episode.naive_time": "Give the time with its time zone, like 2026-11-23T02:10:00Z.",
    "episode.future": "That time has not come yet: check the date and the time.",
    "episode.end_before_start": "The end must be after the start.",
    "episode.untimed_end": "An episode you did not time has no end.",
    "episode.end_twice": "Give the end time or how long it lasted, not both.",
    "episode.bad_duration": "How long it lasted must be more than 0 and at most a day.",
    "episode.missing_end": "A timed episode needs its end time or how long it lasted; untick "
    "“timed” if you do not know.",
    "episode.cluster_of_one": "A cluster has at least 2 jerks.",
}


def episode_problem(
    code: str,
    said: str,
    unit: Unit = "C",
    *,
    fever_range_c: tuple[float, float] | None = None,
    max_jerks: int | None = None,
) -> str:
    """The plain words for an episode the hub refused (`said`: the checker's own words,
    kept for a code not listed); a fever's range in the caregivers' unit."""
    if code == "episode.bad_fever" and fever_range_c is not None:
        low, high = (_limit(value, unit) for value in fever_range_c)
        return f"A baby's temperature is between {low} and {high}: check the value."
    if code == "episode.bad_jerks" and max_jerks is not None:
        return f"The number of jerks must be from 1 to {max_jerks}."
    return _EPISODE_PROBLEMS.get(code, said)


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


def sent_late(message: Message, age: timedelta) -> Message:
    """A push that could only go out late says so first, in its title (`Sent late (7 min):
    Nursery: room is cold`), and at the end of its body: old numbers are not current."""
    title = f"Sent late ({_span(age.total_seconds())}): {message.title}"
    return Message(
        title=title,
        body=f"{message.body} {late_note(age)}",
        priority=message.priority,
        tags=message.tags,
    )


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


# --- the monitor watching itself (heartbeat pings, `nursery status`) -----------------------

MONITOR_HEALTHY = "Watching every room: broker, database and pushes working."
MONITOR_STARTING = "The nursery monitor hub is starting."


def monitor_problems(
    *,
    broker_connected: bool,
    database_ok: bool,
    alerts_ok: bool,
    push_failing: bool,
    no_rooms: bool,
    offline_rooms: Iterable[str],
    silent_rooms: Iterable[tuple[str, float | None]],
) -> str:
    """What keeps the monitor from watching, in one line (empty when nothing does). It goes
    to an outside uptime service, so it names rooms and parts, never a reading."""
    problems: list[str] = []
    if not broker_connected:
        problems.append("the hub cannot reach the MQTT broker")
    if not database_ok:
        problems.append("the hub cannot save to its database")
    if not alerts_ok:
        problems.append("the hub's alert checks have stopped")
    if push_failing:
        problems.append("pushes to phones are failing")
    if no_rooms:
        problems.append("no room has sent a reading yet")
    problems += [f"{_room(room)}: monitor offline" for room in offline_rooms]
    problems += [
        f"{_room(room)}: no reading for {_span(since)}"
        if since is not None
        else f"{_room(room)}: no reading yet"
        for room, since in silent_rooms
    ]
    if not problems:
        return ""
    text = "; ".join(problems)
    return text[:1].upper() + text[1:] + "."


def monitor_check_failed(error: str) -> str:
    return f"The hub could not check its own health ({error}); see its log."
