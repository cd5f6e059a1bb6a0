"""The pediatrician report as a printable page and CSV files, from hub/episodes/report.py (the PDF
is hub/episodes/report_pdf.py).

Everything is built in memory and streamed to the caregiver who asked: no file is written
and nothing of it is logged.
"""

from __future__ import annotations

import csv
import html
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, tzinfo
from pathlib import Path
from typing import Final

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

TEMPLATE: Final = Path(__file__).resolve().parents[2] / "dashboard" / "templates" / "report.html"
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


def _table(
    headings: Sequence[str], rows: Iterable[Iterable[str]], css: str, *, stack: bool = False
) -> str:
    """A table; `stack` makes each row a card of "heading: value" lines on a phone (the
    first cell heads the card), so no column is cut off (episodes.css)."""
    head = "".join(f"<th scope='col'>{html.escape(h)}</th>" for h in headings)
    if not stack:
        body = "".join(
            "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows
        )
        return f"<table class='{css}'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    lines = []
    for row in rows:
        first, *rest = row
        cells = [f"<th scope='row'>{html.escape(first)}</th>"]
        cells += [
            f"<td data-label='{html.escape(h)}'>{html.escape(c)}</td>"
            for h, c in zip(headings[1:], rest, strict=True)
        ]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f"<table class='{css} stack'><thead><tr>{head}</tr></thead>"
        f"<tbody>{''.join(lines)}</tbody></table>"
    )


def _bars(items: Iterable[tuple[str, int]], css: str) -> str:
    items = list(items)
    top = max((n for _, n in items), default=0) or 1
    rows = "".join(
        f"<li><span class='bar-label'>{html.escape(label)}</span>"
        f"<span class='bar' data-share='{n / top:.3f}'></span>"
        f"<span class='bar-count'>{n}</span></li>"
        for label, n in items
    )
    return f"<ul class='bars {css}'>{rows}</ul>"


def _emergency_html(number: str) -> str:
    """The one emergency sentence (as on the card and the episode page), its number a call
    link."""
    before, _, after = emergency_text(number).partition(number)
    link = f"<a href='tel:{html.escape(number)}'>{html.escape(number)}</a>"
    return f"<p class='report-emergency'>{html.escape(before)}{link}{html.escape(after)}</p>"


def render_html(report: Report, query: str, *, emergency_number: str) -> str:
    """The report as one HTML page; `query` (already URL-encoded) repeats the period in the
    links to the PDF and CSV downloads."""
    e = html.escape
    zone = report.zone
    rows = [row_cells(row, zone, report.unit) for row in report.rows]
    episodes = (
        _table(HEADINGS, rows, "report-table episodes-table", stack=True)
        if rows
        else "<p class='empty'>No episodes logged in this period.</p>"
    )
    symptoms = _table(
        ("Sign", "Episodes"), [(name, str(n)) for name, n in sign_counts(report)], "report-table"
    )
    alerts_rows = alert_cells(report)
    alerts = (
        _table(
            ("Alert", "Room", "From", "Until", "Worst", "Answered by"),
            alerts_rows,
            "report-table",
            stack=True,
        )
        if alerts_rows
        else "<p class='empty'>No room alerts in this period.</p>"
    )
    p = report.patterns
    patterns = (
        "<div class='pattern-grid'>"
        f"<div><h3>Time of day</h3>{_bars(p.by_part_of_day, 'tod')}</div>"
        "<div><h3>Room at onset</h3>"
        f"{_bars(((BAND_WORDS[b], n) for b, n in p.by_band), 'band')}</div>"
        f"<div><h3>Durations</h3>{_bars(p.durations.buckets, 'dur')}</div>"
        "</div>"
        f"<p class='caveat'>{e(PATTERN_CAVEAT)}</p>"
    )
    body = (
        "<header class='report-head'>"
        "<h1>Episode log for the pediatrician</h1>"
        f"<p class='period'>{e(period_words(report))}</p>"
        f"<p class='generated'>Made {e(when(report.generated_at, zone))} by the nursery "
        f"monitor. {e(report.note)}</p>"
        f"{_emergency_html(emergency_number)}"
        "<nav class='report-actions no-print'>"
        "<button type='button' id='print-report'>Print</button>"
        f"<a href='/api/episodes/report.pdf?{e(query)}' download>Download PDF</a>"
        f"<a href='/api/episodes/report/episodes.csv?{e(query)}' download>Episodes CSV</a>"
        f"<a href='/api/episodes/report/readings.csv?{e(query)}' download>Readings CSV</a>"
        "<a href='/episodes'>Back to the log</a>"
        "</nav></header>"
        "<section><h2>Summary</h2>"
        + "".join(f"<p>{e(line)}</p>" for line in summary_lines(report))
        + f"</section><section><h2>Signs noted</h2>{symptoms}</section>"
        f"<section><h2>Episodes</h2>{episodes}"
        f"<p class='small'>{e(messages.sensor_note(report.accuracy_c, report.unit))} "
        "“Hour before”: the lowest temperature, the trend and the minutes below the cold "
        "threshold in the hour before onset. “Room ±1 h”: lowest to highest from an hour "
        "before to an hour after.</p></section>"
        f"<section><h2>Patterns</h2>{patterns}</section>"
        f"<section><h2>Room alerts in this period</h2>{alerts}</section>"
    )
    return (
        TEMPLATE.read_text(encoding="utf-8")
        .replace("{{ title }}", e(f"Episode report {report.first_day} – {report.last_day}"))
        .replace("{{ body }}", body)
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
