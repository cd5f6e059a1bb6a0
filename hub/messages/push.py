"""The pushes a parent's phone shows: first, repeat, worse, escalation, back to normal, late."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from hub.conditions import Condition, Finding, Severity
from hub.messages.condition_words import COLDER, Words, words_for
from hub.messages.formatting import (
    HUMIDITY_ACCURACY_PCT,
    SENSOR_ACCURACY_C,
    Unit,
    room_words,
    span_text,
    temp_text,
)
from mqttlink.rules_settings import RulesSettings

Priority = Literal["low", "default", "high", "urgent"]
PRIORITIES: tuple[Priority, ...] = get_args(Priority)

TITLE_MAX = 60
BODY_MAX = 400

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
    Condition.LOW_BATTERY: ("battery",),
}
_RESOLVED_TAGS = ("white_check_mark",)


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


def _title(room: str, text: str) -> str:
    """`Room: text`, shortening the room name (never the text) to fit TITLE_MAX."""
    name = room_words(room)
    room_max = TITLE_MAX - len(text) - 2
    if len(name) > room_max:
        name = name[: max(1, room_max - 1)] + "…"
    return f"{name}: {text}"


def _body(*parts: str) -> str:
    return " ".join(part for part in parts if part)


def _page(
    finding: Finding, title: str, words: Words, lead: str = "", priority: Priority | None = None
) -> Message:
    """A push on `finding`: `title` after the room; `lead`, then the facts, the advice and
    the accuracy; the severity's priority unless another is given."""
    return Message(
        title=_title(finding.room, title),
        body=_body(lead, words.facts, words.advice, words.accuracy),
        priority=priority or _PRIORITY_BY_SEVERITY[finding.severity],
        tags=_TAGS[finding.condition],
    )


# --- the messages --------------------------------------------------------------------


def first_page(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    accuracy_c: float | None = SENSOR_ACCURACY_C,
    accuracy_pct: float | None = HUMIDITY_ACCURACY_PCT,
) -> Message:
    """The first push of an incident."""
    words = words_for(finding, rules, now, unit, accuracy_c, accuracy_pct)
    return _page(finding, words.state + words.reading, words)


def repeat(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    accuracy_c: float | None = SENSOR_ACCURACY_C,
    accuracy_pct: float | None = HUMIDITY_ACCURACY_PCT,
) -> Message:
    """The same incident again: nobody has answered it yet."""
    words = words_for(finding, rules, now, unit, accuracy_c, accuracy_pct)
    return _page(finding, words.still + words.reading, words, NO_ANSWER_YET)


def worse(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    previous: float | None = None,
    accuracy_c: float | None = SENSOR_ACCURACY_C,
    accuracy_pct: float | None = HUMIDITY_ACCURACY_PCT,
) -> Message:
    """Paged again after someone answered ("I'm on it" or a snooze): the room moved further
    out. `previous` is the temperature (°C) when it was answered, shown next to today's.
    """
    words = words_for(finding, rules, now, unit, accuracy_c, accuracy_pct)
    condition = finding.condition
    if condition in COLDER:
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
        since_ack += f" (then {temp_text(previous, unit)})"
        if finding.value is not None:
            reading = f" ({temp_text(finding.value, unit)}, was {temp_text(previous, unit)})"
    return _page(finding, state + reading, words, since_ack + ".")


def escalation(
    finding: Finding,
    rules: RulesSettings,
    now: datetime,
    unit: Unit = "C",
    *,
    unacknowledged_for: timedelta | None = None,
    accuracy_c: float | None = SENSOR_ACCURACY_C,
    accuracy_pct: float | None = HUMIDITY_ACCURACY_PCT,
) -> Message:
    """To the next caregiver: nobody has answered the alert."""
    words = words_for(finding, rules, now, unit, accuracy_c, accuracy_pct)
    if unacknowledged_for is not None:
        waited = span_text(unacknowledged_for.total_seconds())
        lead = f"Nobody has tapped “{ACK_LABEL}” for {waited}."
    else:
        lead = NO_ANSWER_YET
    return _page(finding, f"{words.short}, no answer yet{words.reading}", words, lead, "urgent")


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
    Condition.LOW_BATTERY: "sensor battery fine again",
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
    body = f"This lasted {span_text(open_for.total_seconds())}."
    if value is not None:
        body += f" The room is at {temp_text(value, unit)} now."
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
    return f"Sent late: this was raised {span_text(age.total_seconds())} ago."


def sent_late(message: Message, age: timedelta) -> Message:
    """A push that could only go out late says so first, in its title (`Sent late (7 min):
    Nursery: room is cold`), and at the end of its body: old numbers are not current."""
    title = f"Sent late ({span_text(age.total_seconds())}): {message.title}"
    return Message(
        title=title,
        body=f"{message.body} {late_note(age)}",
        priority=message.priority,
        tags=message.tags,
    )
