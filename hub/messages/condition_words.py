"""What each condition is called, what was measured and what to check (pushes and pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from hub.conditions import Condition, Finding
from hub.messages.formatting import (
    HUMIDITY_ACCURACY_PCT,
    SENSOR_ACCURACY_C,
    Unit,
    accuracy_text,
    delta_text,
    limit_text,
    span_text,
    temp_text,
)
from mqttlink.rules_settings import RulesSettings

# How to check the baby rather than the room: hands and feet mislead.
FEEL_CHECK = (
    "Please check: feel the baby's chest or the back of the neck; cool hands and feet are normal."
)
COLDER = {Condition.COLD, Condition.COOL, Condition.FAST_DROP}
WARMER = {Condition.WARM, Condition.HOT}

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
    Condition.LOW_BATTERY: "Sensor battery low",
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
class Words:
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
    return span_text((now - finding.since).total_seconds())


def _time_to_cold(finding: Finding, rules: RulesSettings, unit: Unit) -> str:
    """` At this rate the room reaches 16 °C (cold) in about 40 min.`, when predicted."""
    if finding.minutes_to_cold is None or finding.minutes_to_cold <= 0:
        return ""
    cold = limit_text(rules.effective("cold_below_c"), unit)
    eta = span_text(finding.minutes_to_cold * 60)
    return f" At this rate the room reaches {cold} (cold) in about {eta}."


def _temperature_words(
    finding: Finding, rules: RulesSettings, now: datetime, unit: Unit, accuracy_c: float | None
) -> Words:
    condition, value = finding.condition, finding.value
    reading = f" ({temp_text(value, unit)})" if value is not None else ""
    at = f"The room is at {temp_text(value, unit)}, " if value is not None else "The room has been "
    lasted = _lasted(finding, now)
    warm_max = limit_text(rules.effective("warm_above_c"), unit)

    def words(state: str, short: str, facts: str, advice: str) -> Words:
        accuracy = accuracy_text(unit, accuracy_c)
        return Words(state, short, f"still {short}", facts, advice, reading, accuracy)

    if condition == Condition.COLD:
        threshold = limit_text(_threshold(finding, rules, "cold_below_c"), unit)
        facts = f"{at}below {threshold} for {lasted}."
        if finding.worst is not None and value is not None and finding.worst < value - 0.05:
            facts += f" Lowest {temp_text(finding.worst, unit)}."
        advice = (
            f"{FEEL_CHECK} Then add a layer or a warmer sleep bag, close a window, adjust the "
            "heating. No hot-water bottles or heaters near the cot. "
            f"Keep the room no warmer than {warm_max}."
        )
        return words(_state(Condition.COLD), "cold", facts, advice)
    if condition == Condition.COOL:
        threshold = limit_text(_threshold(finding, rules, "cool_below_c"), unit)
        facts = f"{at}below {threshold} for {lasted}."
        facts += _time_to_cold(finding, rules, unit)
        advice = (
            "Nothing urgent. If it keeps cooling: add a layer or a warmer sleep bag, close a "
            f"window or adjust the heating (no warmer than {warm_max})."
        )
        return words(_state(Condition.COOL), "cool", facts, advice)
    if condition == Condition.FAST_DROP:
        now_at = f" and is now {temp_text(value, unit)}" if value is not None else ""
        facts = (
            f"The room temperature has fallen by {delta_text(rules.drop_c, unit)} or more within "
            f"{span_text(rules.drop_window_s)}{now_at} (falling for {lasted})."
        )
        facts += _time_to_cold(finding, rules, unit)
        advice = (
            "Check for an open window or door and the heating, and have a layer or a warmer "
            "sleep bag ready."
        )
        return words(_state(Condition.FAST_DROP), "falling fast", facts, advice)
    if condition == Condition.WARM:
        threshold = limit_text(_threshold(finding, rules, "warm_above_c"), unit)
        advice = (
            "Nothing urgent. If it stays warm: remove a layer, open a door or turn the "
            "heating down."
        )
        return words(_state(Condition.WARM), "warm", f"{at}above {threshold} for {lasted}.", advice)
    hot = finding.threshold if finding.threshold is not None else rules.hot_above_c
    facts = f"{at}above {limit_text(hot, unit)} for {lasted}."
    if finding.worst is not None and value is not None and finding.worst > value + 0.05:
        facts += f" Highest {temp_text(finding.worst, unit)}."
    advice = (
        f"{FEEL_CHECK} Then remove a layer, open a door, turn the heating down. Keep the cot "
        "away from radiators and heaters."
    )
    return words(_state(Condition.HOT), "hot", facts, advice)


def _humidity_words(
    finding: Finding, rules: RulesSettings, now: datetime, accuracy_pct: float | None
) -> Words:
    value, lasted = finding.value, _lasted(finding, now)
    # The room's own sensor's; an unknown sensor gets no claim.
    known = accuracy_pct is not None
    accuracy = f"Humidity accuracy about ±{accuracy_pct:g} %." if known else ""
    if value is None:
        band = f"{rules.humidity_low_pct:g}–{rules.humidity_high_pct:g} %"
        return Words(
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
    return Words(
        state=_state(Condition.HUMIDITY, low),
        short=f"humidity {level}",
        still=f"humidity still {level}",
        facts=f"Humidity is {value:.0f} %, {side} {edge:g} % for {lasted}.",
        advice=advice,
        reading=f" ({value:.0f} %)",
        accuracy=accuracy,
    )


def _silence_words(finding: Finding, rules: RulesSettings, now: datetime) -> Words:
    silent_s = finding.value if finding.value is not None else (now - finding.since).total_seconds()
    advice = "Please check the room yourself, then the monitor: its power and Wi-Fi."
    unknown = "The room temperature is now unknown."
    if finding.condition == Condition.OFFLINE:
        return Words(
            state=_state(Condition.OFFLINE),
            short="monitor offline",
            still="monitor still offline",
            facts=f"The monitor has been offline for {span_text(silent_s)}. {unknown}",
            advice=advice,
        )
    limit = finding.threshold if finding.threshold is not None else rules.stale_after_s
    return Words(
        state=f"{_state(Condition.NO_DATA)} for {span_text(silent_s)}",
        short="no readings",
        still="still no readings",
        facts=f"No reading from the monitor for {span_text(silent_s)} (the limit is "
        f"{span_text(limit)}). {unknown}",
        advice=advice,
    )


def _suspect_words(finding: Finding, rules: RulesSettings, now: datetime) -> Words:
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
    return Words(
        state=_state(Condition.SENSOR_SUSPECT),
        short="sensor unreliable",
        still="sensor still unreliable",
        facts=facts,
        advice="Check the sensor's wiring and placement: away from heaters, windows and direct "
        "sun. Until then its readings may be wrong, so check the room yourself.",
    )


def _skew_words(finding: Finding, rules: RulesSettings, now: datetime) -> Words:
    limit = finding.threshold if finding.threshold is not None else rules.clock_skew_s
    if finding.value is None:
        off = f"off by more than {span_text(limit)}"
    else:
        side = "behind" if finding.value < 0 else "ahead of"
        off = f"{span_text(abs(finding.value))} {side} the hub's (the limit is {span_text(limit)})"
    return Words(
        state=_state(Condition.CLOCK_SKEW),
        short="clock off",
        still="clock still off",
        facts=f"The monitor's clock is {off}, for {_lasted(finding, now)}.",
        advice="Readings still arrive. Check the monitor's network and time settings when you can.",
    )


def battery_words(finding: Finding, now: datetime) -> Words:
    """Before a flat battery becomes silence: calm, with time to act."""
    level = f" is at {finding.value:.0f} %" if finding.value is not None else " is low"
    limit = f" (the limit is {finding.threshold:.0f} %)" if finding.threshold is not None else ""
    return Words(
        state=_state(Condition.LOW_BATTERY),
        short="sensor battery low",
        still="sensor battery still low",
        facts=f"The room sensor's battery{level}{limit}, for {_lasted(finding, now)}.",
        advice="Nothing urgent. Please change or charge it in the next few days: when it "
        "runs out the readings stop, and the monitor will tell you it hears nothing.",
    )


def words_for(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit,
    accuracy_c: float | None,
    accuracy_pct: float | None = HUMIDITY_ACCURACY_PCT,
) -> Words:
    """`accuracy_c` and `accuracy_pct` are the room's sensor's (None: unknown, no claim)."""
    condition = finding.condition
    if condition in COLDER or condition in WARMER:
        return _temperature_words(finding, rules, now, unit, accuracy_c)
    if condition == Condition.HUMIDITY:
        known = accuracy_c is not None
        return _humidity_words(finding, rules, now, accuracy_pct if known else None)
    if condition in (Condition.NO_DATA, Condition.OFFLINE):
        return _silence_words(finding, rules, now)
    if condition == Condition.SENSOR_SUSPECT:
        return _suspect_words(finding, rules, now)
    if condition == Condition.LOW_BATTERY:
        return battery_words(finding, now)
    return _skew_words(finding, rules, now)


def guidance(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    accuracy_c: float | None = SENSOR_ACCURACY_C,
    accuracy_pct: float | None = HUMIDITY_ACCURACY_PCT,
) -> tuple[str, str]:
    """The advice and the accuracy sentence ("" when none) the push gives for this
    finding, for the dashboard's alert row: the same words on the phone and on the page."""
    words = words_for(finding, rules, now, unit, accuracy_c, accuracy_pct)
    return words.advice, words.accuracy
