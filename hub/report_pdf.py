"""The pediatrician report as a PDF, built in memory from hub/report.py.

fpdf2 is pure Python and works offline on a Pi Zero, but it and Pillow take about 30 MiB:
this module is imported only when a caregiver asks for a PDF, so the hub stays small the
rest of the time. It uses the system's DejaVu font when installed, else a built-in font
that shows only Latin-1 characters.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import FontFace

from hub import messages
from hub.episodes import BAND_WORDS, PATTERN_CAVEAT
from hub.report import Report
from hub.report_render import (
    FONT_DIRS,
    HEADINGS,
    alert_cells,
    period_words,
    row_cells,
    sign_counts,
    summary_lines,
    when,
)


def _font_file(name: str) -> Path | None:
    for folder in FONT_DIRS:
        path = folder / name
        if path.is_file():
            return path
    return None


class _Pdf(FPDF):
    def __init__(self, title: str) -> None:
        super().__init__(orientation="landscape", format="A4")
        self.title_text = title
        regular, bold = _font_file("DejaVuSans.ttf"), _font_file("DejaVuSans-Bold.ttf")
        if regular is not None and bold is not None:
            self.add_font("body", "", regular)
            self.add_font("body", "B", bold)
            self.family_name, self.unicode = "body", True
        else:
            self.family_name, self.unicode = "helvetica", False
        self.set_auto_page_break(auto=True, margin=14)
        self.set_margins(10, 10, 10)
        self.set_title(title)
        self.set_creator("nursery-monitor")

    def text_of(self, value: str) -> str:
        """The built-in font knows Latin-1 only: anything else becomes '?'."""
        if self.unicode:
            return value
        value = value.replace("–", "-").replace("“", '"').replace("”", '"').replace("±", "+/-")
        return value.encode("latin-1", "replace").decode("latin-1")

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(self.family_name, "", 7)
        self.cell(0, 5, self.text_of(f"{self.title_text} · page {self.page_no()}"), align="R")

    def heading(self, text: str, size: float = 11) -> None:
        self.ln(2)
        self.set_font(self.family_name, "B", size)
        self.multi_cell(0, size * 0.5, self.text_of(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font(self.family_name, "", 8)

    def para(self, text: str, size: float = 8) -> None:
        self.set_font(self.family_name, "", size)
        self.multi_cell(0, 4, self.text_of(text), new_x="LMARGIN", new_y="NEXT")

    def grid(
        self, headings: Iterable[str], rows: Iterable[Iterable[str]], widths: Iterable[float]
    ) -> None:
        self.set_font(self.family_name, "", 7)
        with self.table(
            col_widths=tuple(widths),
            text_align="LEFT",
            line_height=3.6,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            width=self.epw,
        ) as table:
            head = table.row()
            for h in headings:
                head.cell(self.text_of(h))
            for values in rows:
                row = table.row()
                for value in values:
                    row.cell(self.text_of(value))


def render_pdf(report: Report) -> bytes:
    """The report as a landscape A4 PDF."""
    title = f"Episode report {report.first_day} – {report.last_day}"
    pdf = _Pdf(title)
    pdf.add_page()
    pdf.heading("Episode log for the pediatrician", 15)
    pdf.para(period_words(report), 10)
    pdf.para(f"Made {when(report.generated_at, report.zone)} by the nursery monitor. {report.note}")
    pdf.heading("Summary")
    for line in summary_lines(report):
        pdf.para(line)
    pdf.heading("Signs noted")
    pdf.para(", ".join(f"{name}: {n}" for name, n in sign_counts(report)))
    pdf.heading("Episodes")
    if report.rows:
        pdf.grid(
            HEADINGS,
            [row_cells(row, report.zone, report.unit) for row in report.rows],
            (24, 14, 14, 20, 12, 14, 14, 20, 20, 34, 18, 40),
        )
        pdf.para(
            f"{messages.sensor_note(report.accuracy_c, report.unit)} Hour before: the lowest "
            "temperature, the trend and the minutes below the cold threshold in the hour before "
            "onset. Room ±1 h: lowest to highest from an hour before to an hour after.",
            7,
        )
    else:
        pdf.para("No episodes logged in this period.")
    pdf.heading("Patterns")
    p = report.patterns
    pdf.para("Time of day: " + ", ".join(f"{name}: {n}" for name, n in p.by_part_of_day))
    pdf.para("Room at onset: " + ", ".join(f"{BAND_WORDS[band]}: {n}" for band, n in p.by_band))
    pdf.para("Durations: " + ", ".join(f"{name}: {n}" for name, n in p.durations.buckets))
    pdf.para(PATTERN_CAVEAT)
    pdf.heading("Room alerts in this period")
    alerts = alert_cells(report)
    if alerts:
        pdf.grid(
            ("Alert", "Room", "From", "Until", "Worst", "Answered by"),
            alerts,
            (40, 20, 40, 40, 20, 30),
        )
    else:
        pdf.para("No room alerts in this period.")
    return bytes(pdf.output())


# --- CSV --------------------------------------------------------------------------------
