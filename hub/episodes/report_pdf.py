"""The pediatrician report as a PDF, built in memory from hub/episodes/report.py with the
system's DejaVu font when installed, else a built-in Latin-1 font."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import MethodReturnValue
from fpdf.fonts import FontFace

from hub import messages
from hub.episodes.model import BAND_WORDS, PATTERN_CAVEAT
from hub.episodes.report import Report
from hub.episodes.report_render import (
    FONT_DIRS,
    HEADINGS,
    alert_cells,
    period_words,
    row_cells,
    sign_counts,
    summary_lines,
    when,
)

# fpdf2 is pure Python and works offline on a Pi Zero, but it and Pillow take about 30 MiB:
# this module is imported only when a caregiver asks for a PDF, so the hub stays small the
# rest of the time.
GRID_LINE_MM = 3.6
# 36 lines of 3.6 mm: any row fits on a page below the repeated headings.
GRID_ROW_LINES = 36
CONTINUED = "(continued)"


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
        widths = tuple(widths)
        scale = self.epw / sum(widths)
        with self.table(
            col_widths=widths,
            text_align="LEFT",
            line_height=GRID_LINE_MM,
            headings_style=FontFace(emphasis="BOLD", fill_color=(235, 235, 235)),
            width=self.epw,
        ) as table:
            head = table.row()
            for h in headings:
                head.cell(self.text_of(h))
            for values in rows:
                cells = [self.text_of(value) for value in values]
                for part in self._page_sized(cells, [w * scale for w in widths]):
                    row = table.row()
                    for value in part:
                        row.cell(value)

    def _page_sized(self, cells: list[str], widths_mm: list[float]) -> list[list[str]]:
        """A row as one or more rows, none taller than GRID_ROW_LINES lines.

        fpdf2 cannot break a table row across pages and refuses a taller one (a 2,000-
        character note was a 500 for every report that held it). A long cell goes on in
        the rows below, wrapped as the table would wrap it, under "(continued)".
        """
        wrapped = [
            self._lines(text, width) if text else []
            for text, width in zip(cells, widths_mm, strict=True)
        ]
        tallest = max((len(lines) for lines in wrapped), default=0)
        if tallest <= GRID_ROW_LINES:
            return [cells]
        parts: list[list[str]] = []
        for start in range(0, tallest, GRID_ROW_LINES):
            part = ["\n".join(lines[start : start + GRID_ROW_LINES]) for lines in wrapped]
            if start and not part[0]:
                part[0] = self.text_of(CONTINUED)
            parts.append(part)
        return parts

    def _lines(self, text: str, width: float) -> list[str]:
        """`text` as the table wraps it in a column `width` mm wide."""
        lines = self.multi_cell(
            # the table's cell is this wide less its margins; a hair less for rounding
            width - 2 * self.c_margin - 0.2,
            GRID_LINE_MM,
            text,
            dry_run=True,
            output=MethodReturnValue.LINES,
        )
        assert isinstance(lines, list)
        return [str(line) for line in lines]


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
