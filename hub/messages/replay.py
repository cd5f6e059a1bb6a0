"""The words of `nursery replay`: each alert that would have opened, its pushes, and the
nights in numbers, for a parent tuning thresholds."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol

from hub.conditions import Condition
from hub.messages.condition_words import label


class PushLike(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def at(self) -> datetime: ...
    @property
    def title(self) -> str: ...
    @property
    def body(self) -> str: ...


class ReplayedAlert(Protocol):
    """hub.replay.engine.ReplayedAlert, as these words read it."""

    @property
    def room(self) -> str: ...
    @property
    def condition(self) -> Condition: ...
    @property
    def opened_at(self) -> datetime: ...
    @property
    def resolved_at(self) -> datetime | None: ...
    @property
    def held(self) -> bool: ...
    @property
    def pushes(self) -> Sequence[PushLike]: ...


class Night(Protocol):
    @property
    def night(self) -> date: ...
    @property
    def pushes(self) -> int: ...
    @property
    def minutes_cold(self) -> float: ...


class Summary(Protocol):
    """hub.replay.report.Summary, as these words read it."""

    @property
    def readings(self) -> int: ...
    @property
    def first_at(self) -> datetime | None: ...
    @property
    def last_at(self) -> datetime | None: ...
    @property
    def alerts(self) -> int: ...
    @property
    def pushes(self) -> int: ...
    @property
    def minutes_cold(self) -> float: ...
    @property
    def nights(self) -> Sequence[Night]: ...


_KIND = {
    "first": "sent",
    "repeat": "repeated",
    "worse": "worse",
    "escalation": "escalated",
    "resolved": "all clear",
}


def _at(at: datetime | None) -> str:
    return "-" if at is None else at.astimezone().strftime("%a %d %b %H:%M:%S")


def alert_lines(alert: ReplayedAlert) -> list[str]:
    """One alert: when it opened and ended, then each push with its words."""
    end = f"until {_at(alert.resolved_at)}" if alert.resolved_at else "still open at the end"
    held = " (held for quiet hours, never sent)" if alert.held else ""
    lines = [f"{_at(alert.opened_at)}  {label(alert.condition)} in {alert.room}, {end}{held}"]
    for push in alert.pushes:
        lines.append(f"    {_at(push.at)}  {_KIND[push.kind]:<10} {push.title}")
        lines += [f"{'':32}{line}" for line in push.body.splitlines() if line.strip()]
    return lines


def summary_lines(summary: Summary) -> list[str]:
    if summary.readings == 0:
        return ["No readings in this file."]
    lines = [
        f"{summary.readings:,} readings from {_at(summary.first_at)} to {_at(summary.last_at)}:"
        f" {summary.alerts} alerts, {summary.pushes} pushes, "
        f"{summary.minutes_cold:g} minutes with a cold alert open.",
        "Night of      pushes  minutes cold",
    ]
    lines += [f"{n.night:%a %d %b}  {n.pushes:>6}  {n.minutes_cold:>12g}" for n in summary.nights]
    return lines


def compare_lines(
    names: tuple[str, str], summaries: tuple[Summary, Summary], changes: Sequence[str]
) -> list[str]:
    """Two settings side by side, night by night."""
    left, right = summaries
    lines = [
        f"With {names[1]} ({', '.join(changes)}) instead of {names[0]}:",
        f"{'':14}{'pushes':>16}  {'minutes cold':>24}",
        f"{'Night of':<14}{names[0]:>8}{names[1]:>8}  {names[0]:>12}{names[1]:>12}",
    ]
    a = {n.night: n for n in left.nights}
    b = {n.night: n for n in right.nights}
    for night in sorted(set(a) | set(b)):
        pa, pb = (a[night].pushes if night in a else 0), (b[night].pushes if night in b else 0)
        ca = a[night].minutes_cold if night in a else 0.0
        cb = b[night].minutes_cold if night in b else 0.0
        lines.append(f"{night:%a %d %b}    {pa:>8}{pb:>8}  {ca:>12g}{cb:>12g}")
    lines.append(
        f"{'In all':<14}{left.pushes:>8}{right.pushes:>8}  "
        f"{left.minutes_cold:>12g}{right.minutes_cold:>12g}"
    )
    return lines


def _pushes(count: int) -> str:
    return f"{count} push" if count == 1 else f"{count} pushes"


def preview_sentence(days: int, changed: int, now: int) -> str:
    """The settings page's answer before a threshold is saved."""
    if changed == now:
        return f"With these settings, the last {days} days would have sent the same {_pushes(now)}."
    return (
        f"With these settings, the last {days} days would have sent {_pushes(changed)} "
        f"instead of {now}."
    )
