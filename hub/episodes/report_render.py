"""The pediatrician report as a printable page (a Jinja2 template) and CSV files, built in
memory for the caregiver who asked: no file is written, nothing is logged."""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Final

import jinja2
from markupsafe import Markup

from dashboard import TEMPLATES_DIR
from hub import messages
from hub.episodes.doctor_card import emergency_text
from hub.episodes.model import (
    BAND_WORDS,
    LIMBS,
    PATTERN_CAVEAT,
    SIGNS,
    STATE_WORDS,
    Episode,
    Sign,
    duration_words,
    limbs_words,
    symptom_words,
)
from hub.episodes.report import CONDITION_WORDS, Around, Report, ReportRow
from hub.messages import Unit

TEMPLATES: Final = TEMPLATES_DIR
FONT_DIRS: Final = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu"),
)
SIGN_WORDS: Final[dict[Sign, str]] = {
    "long": "Longer than a minute",
    "whole_body": "Whole body",
    "not_alert": "Not alert and responsive",
    "floppy": "Floppy",
    "fever": "Fever",
    "vomiting": "Vomiting",
    "poor_feeding": "Poor feeding",
    "cluster": "Cluster of jerks",
}
HEADINGS: Final = (
    "When",
    "Room",
    "Lasted",
    "Body",
    "Alert",
    "Was",
    "Jerks",
    "Symptoms",
    "Room at onset",
    "Hour before",
    "Room ±1 h",
    "Notes",
)
ALERT_HEADINGS: Final = ("Alert", "Room", "From", "Until", "Worst", "Answered by")
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


# --- words ------------------------------------------------------------------------------


def when(ts: datetime, zone: tzinfo) -> str:
    return ts.astimezone(zone).strftime("%a %d %b %Y %H:%M:%S")


def day_words(day: date) -> str:
    return day.strftime("%a %d %b %Y")


def temp(value: float | None, unit: Unit = "C") -> str:
    return messages.temperature(value, unit)


def yes_no(value: bool | None) -> str:
    return "not said" if value is None else "yes" if value else "no"


def jerks_words(episode: Episode) -> str:
    details = episode.details
    if details.jerks is not None:
        return f"cluster of {details.jerks}" if details.jerks > 1 else "one"
    return "cluster" if details.is_cluster else "–"


def onset_words(episode: Episode, unit: Unit = "C") -> str:
    snap = episode.snapshot
    if snap is None or snap.temperature_c is None:
        return "no reading"
    humidity = f", {snap.humidity_pct:.0f} %RH" if snap.humidity_pct is not None else ""
    return f"{temp(snap.temperature_c, unit)}{humidity}"


def hour_before_words(episode: Episode, unit: Unit = "C") -> str:
    snap = episode.snapshot
    if snap is None or snap.readings == 0:
        return "no readings"
    parts = [f"lowest {temp(snap.lowest_c, unit)}"]
    if snap.trend is not None:
        parts.append(f"{snap.trend} ({messages.temperature_rate(snap.trend_c_per_h or 0, unit)})")
    if snap.minutes_below_cold:
        below = messages.threshold(snap.cold_below_c, unit)
        parts.append(f"{snap.minutes_below_cold:g} min below {below}")
    if snap.cold_alert_open:
        parts.append("cold alert open")
    return "; ".join(parts)


def around_words(value: Around, unit: Unit = "C") -> str:
    if value.low_c is None or value.high_c is None:
        return "no readings"
    if round(value.low_c, 1) == round(value.high_c, 1):
        return temp(value.low_c, unit)
    return messages.temperature_range(value.low_c, value.high_c, unit)


def period_words(report: Report) -> str:
    rooms = f"room {report.room}" if report.room else "all rooms"
    return (
        f"{day_words(report.first_day)} – {day_words(report.last_day)} "
        f"({report.zone_name}), {rooms}"
    )


def row_cells(row: ReportRow, zone: tzinfo, unit: Unit = "C") -> list[str]:
    e = row.episode
    lasted = "still running" if e.running else duration_words(e.duration_s)
    state = STATE_WORDS[e.details.state] if e.details.state else "not said"
    return [
        when(e.started_at, zone),
        e.room,
        lasted,
        limbs_words(e.details.limbs),
        yes_no(e.details.alert),
        state,
        jerks_words(e),
        ", ".join(symptom_words(e.details, unit)) or "none noted",
        onset_words(e, unit),
        hour_before_words(e, unit),
        around_words(row.around, unit),
        e.details.notes,
    ]


def summary_lines(report: Report) -> list[str]:
    d = report.durations
    total = d.timed + d.untimed
    lines = [
        f"{total} episode{'s' if total != 1 else ''} ({d.timed} timed, {d.untimed} not timed)."
    ]
    if d.timed:
        lines.append(
            f"Duration: median {duration_words(d.median_s)}, longest "
            f"{duration_words(d.longest_s)}, {duration_words(d.total_s)} in all."
        )
    weeks = ", ".join(f"week of {w.day:%d %b}: {w.count}" for w in report.patterns.per_week)
    if weeks:
        lines.append(f"Per week: {weeks}.")
    return lines


def sign_counts(report: Report) -> list[tuple[str, int]]:
    counts = dict(report.patterns.signs)
    return [(SIGN_WORDS[s], counts.get(s, 0)) for s in SIGNS]


def alert_cells(report: Report) -> list[list[str]]:
    rows = []
    for incident in report.alerts:
        worst = "" if incident.worst is None else f"{incident.worst:.1f}"
        if incident.condition.value in ("cold", "cool", "warm", "hot", "fast_drop") and worst:
            worst = temp(incident.worst, report.unit)
        acked = incident.acked_by or ""
        rows.append(
            [
                CONDITION_WORDS.get(incident.condition, incident.condition.value),
                incident.room,
                when(incident.since, report.zone),
                when(incident.resolved_at, report.zone) if incident.resolved_at else "still open",
                worst,
                acked,
            ]
        )
    return rows


# --- the printable page -----------------------------------------------------------------


def _escaped(value: object) -> object:
    """Text escaped as html.escape does it (`&quot;`, `&#x27;`), so the page reads as it
    always has; markup the template made itself stays as it is."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return Markup(html.escape(value))  # noqa: S704  # nosec B704 - escaped just now
    return value


_PAGES: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    undefined=jinja2.StrictUndefined,
    finalize=_escaped,
)


# What base.html's head links to: the episode page's looks and the Print button's script.
PAGE_HEAD: Final = {
    "styles": ("app.css", "episodes.css", "patterns.css", "report.css"),
    "scripts": ("report.js",),
    "asset": lambda name: f"/static/{name}",
    "private": True,
    "description": "",
    "body_class": "report",
}


def _bars(items: Iterable[tuple[str, int]]) -> list[tuple[str, int, str]]:
    """(label, count, share of the largest count) for a row of bars."""
    items = list(items)
    top = max((n for _, n in items), default=0) or 1
    return [(label, n, f"{n / top:.3f}") for label, n in items]


def render_html(report: Report, query: str, *, emergency_number: str) -> str:
    """The report as one HTML page (dashboard/templates/report.html); `query` (already
    URL-encoded) repeats the period in the links to the PDF and CSV downloads."""
    zone = report.zone
    p = report.patterns
    before, _, after = emergency_text(emergency_number).partition(emergency_number)
    return _PAGES.get_template("report.html").render(
        **PAGE_HEAD,
        title=f"Episode report {report.first_day} – {report.last_day}",
        period=period_words(report),
        generated=when(report.generated_at, zone),
        note=report.note,
        emergency=(before, emergency_number, after),
        query=query,
        summary=summary_lines(report),
        signs=[(name, str(n)) for name, n in sign_counts(report)],
        episode_headings=HEADINGS,
        episodes=[row_cells(row, zone, report.unit) for row in report.rows],
        sensor_note=messages.sensor_note(report.accuracy_c, report.unit),
        patterns=[
            ("Time of day", _bars(p.by_part_of_day), "tod"),
            ("Room at onset", _bars((BAND_WORDS[b], n) for b, n in p.by_band), "band"),
            ("Durations", _bars(p.durations.buckets), "dur"),
        ],
        caveat=PATTERN_CAVEAT,
        alert_headings=ALERT_HEADINGS,
        alerts=alert_cells(report),
    )


# --- the PDF -------------------------------------------------------------------------------


EPISODE_COLUMNS: Final = (
    "id",
    "room",
    "started_at_utc",
    "ended_at_utc",
    "started_local",
    "duration_s",
    "timed",
    *(f"limb_{limb}" for limb in LIMBS),
    "alert_and_responsive",
    "floppy",
    "state",
    "cluster",
    "jerks",
    "fever",
    "fever_c",
    "vomiting",
    "poor_feeding",
    "notes",
    "source",
    "onset_temperature_c",
    "onset_humidity_pct",
    "hour_before_lowest_c",
    "hour_before_trend_c_per_h",
    "hour_before_minutes_below_cold",
    "cold_threshold_c",
    "cold_alert_open",
)


def _safe(value: object) -> str:
    """A cell as text that a spreadsheet shows and never runs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, str):  # typed by someone: never a formula
        return "'" + value if value.startswith(_FORMULA_START) else value
    return str(value)


def _utc(ts: datetime | None) -> str:
    if ts is None:
        return ""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds")[:23] + "Z"


def _local(ts: datetime, zone: tzinfo) -> str:
    return ts.astimezone(zone).isoformat(" ", "seconds")[:19]


def _csv_line(values: Iterable[object]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow([_safe(v) for v in values])
    return buffer.getvalue()


def episodes_csv(episodes: Iterable[Episode], zone: tzinfo) -> Iterator[str]:
    yield _csv_line(EPISODE_COLUMNS)
    for e in episodes:
        d, s = e.details, e.snapshot
        duration = e.duration_s
        yield _csv_line(
            (
                e.id,
                e.room,
                _utc(e.started_at),
                _utc(e.ended_at),
                _local(e.started_at, zone),
                None if duration is None else round(duration, 1),
                e.timing.timed,
                *(limb in d.limbs for limb in LIMBS),
                d.alert,
                d.floppy,
                d.state,
                d.is_cluster,
                d.jerks,
                d.has_fever,
                d.fever_c,
                d.vomiting,
                d.poor_feeding,
                d.notes,
                e.source,
                s.temperature_c if s else None,
                s.humidity_pct if s else None,
                s.lowest_c if s else None,
                s.trend_c_per_h if s else None,
                s.minutes_below_cold if s else None,
                s.cold_below_c if s else None,
                s.cold_alert_open if s else None,
            )
        )


READING_COLUMNS: Final = ("room", "ts_utc", "local_time", "temperature_c", "humidity_pct")


def readings_csv(rows: Iterable[tuple[str, datetime, float, float]], zone: tzinfo) -> Iterator[str]:
    """The readings as CSV, in chunks of a few thousand lines (a year is millions)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(READING_COLUMNS)
    names: dict[str, str] = {}
    for count, (room, ts, temperature, humidity) in enumerate(rows, 1):
        name = names.get(room)
        if name is None:
            name = names[room] = _safe(room)
        writer.writerow(
            (name, _utc(ts), _local(ts, zone), round(temperature, 2), round(humidity, 2))
        )
        if count % 2000 == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
