"""The doctor's PDF with the longest notes the form allows: every report that held one was
a 500 (fpdf2 cannot break a table row across pages). Long cells now go on in the rows
below; the whole note reads back from the PDF, in order."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from hub.episodes.log import EpisodeLog
from hub.episodes.model import MAX_NOTES, Details, NewEpisode, Timing
from hub.episodes.report import build_report
from hub.episodes.report_pdf import render_pdf
from hub.episodes.storage import EpisodeStore
from hub.store.database import Store
from nursery.config import Settings
from tests.support.episodes import add_readings

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture
def log(tmp_path: Path) -> Iterator[tuple[EpisodeLog, Store]]:
    settings = Settings(hub={"db": tmp_path / "hub.db"})
    store = Store(settings.hub.db)
    episodes = EpisodeStore(settings.hub.db)
    yield EpisodeLog(settings, store, episodes, NOW), store
    episodes.close()
    store.close()


def _pdf_text(log: EpisodeLog, store: Store, notes: list[str]) -> str:
    onset = datetime(2026, 11, 22, 1, 10, tzinfo=UTC)
    add_readings(store, "nursery", onset - timedelta(hours=1), [17.0] * 200)
    for i, note in enumerate(notes):
        start = onset + timedelta(minutes=10 * i)
        log.create(
            NewEpisode(Timing("nursery", start, start + timedelta(seconds=40)), Details(notes=note))
        )
    report = build_report(
        log, store, date(2026, 11, 16), date(2026, 11, 23), BERLIN, "Europe/Berlin"
    )
    pdf = PdfReader(io.BytesIO(render_pdf(report)))
    return "\n".join(page.extract_text() for page in pdf.pages)


@pytest.mark.slow
def test_the_longest_notes_read_back_whole_and_in_order(
    log: tuple[EpisodeLog, Store],
) -> None:
    words = " ".join(f"n{i:03d}" for i in range(MAX_NOTES // 5)) + "."
    assert len(words) == MAX_NOTES == 2000
    text = _pdf_text(*log, [words, words.replace("n", "m")])
    found = re.findall(r"n\d{3}", text)
    assert found == re.findall(r"n\d{3}", words), "a note's words went missing or out of order"
    assert re.findall(r"m\d{3}", text) == re.findall(r"m\d{3}", words.replace("n", "m"))
    assert "(continued)" in text


def test_a_note_without_a_space_is_broken_and_kept(log: tuple[EpisodeLog, Store]) -> None:
    text = _pdf_text(*log, ["Z" * MAX_NOTES])
    assert text.count("Z") == MAX_NOTES  # no other text on the report has a capital Z
