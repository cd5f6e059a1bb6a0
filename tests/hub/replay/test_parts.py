"""A long file replayed in parts at once gives exactly what one process gives: every alert,
push and word, the summary, and the same error naming the same line."""

from __future__ import annotations

import json
from datetime import UTC
from pathlib import Path
from typing import Any

import pytest

from hub.replay.parts import ReplaySetup, replay_file
from hub.replay.report import replay_json, summarize
from hub.replay.sources import ReplayFileError, in_parts
from nursery.config import Settings
from tests.support.cli import nursery
from tests.support.replay import REPLAY_DATA

SETUP = ReplaySetup(Settings().rules, Settings().alerts, local_tz=UTC)


def _document(path: Path, jobs: int, part_bytes: int = 1, check_every: int = 20) -> Any:
    replay = replay_file(path, SETUP, jobs=jobs, min_part_bytes=part_bytes, check_every=check_every)
    return replay_json(replay, summarize(replay)), replay.joined


@pytest.mark.parametrize(
    "trace",
    ["three-nights.csv", "cold-night.csv", "heater-cycling.csv", "window-open.csv",
     "flaky-sensor.csv", "pi-clock-behind.jsonl"],
)  # fmt: skip
@pytest.mark.parametrize("jobs", [2, 3, 4])
def test_a_file_in_parts_gives_exactly_the_one_process_replay(trace: str, jobs: int) -> None:
    path = REPLAY_DATA / trace
    whole, _ = _document(path, 1)
    parts, _ = _document(path, jobs, path.stat().st_size // 5)
    assert parts == whole


def test_the_parts_of_a_multi_night_recording_are_joined_not_replayed_again() -> None:
    path = REPLAY_DATA / "three-nights.csv"
    whole, _ = _document(path, 1)
    parts, joined = _document(path, 3, path.stat().st_size // 4)
    assert parts == whole
    assert joined == 2  # each later part's own replay was taken on, not done twice


def test_an_error_in_a_later_part_names_the_same_line_as_one_process(tmp_path: Path) -> None:
    lines = (REPLAY_DATA / "three-nights.csv").read_text().splitlines(keepends=True)
    lines[-40] = lines[-40].replace(",", ",warm", 1)
    path = tmp_path / "bad.csv"
    path.write_text("".join(lines))
    with pytest.raises(ReplayFileError) as one:
        _document(path, 1)
    with pytest.raises(ReplayFileError) as parts:
        _document(path, 4, path.stat().st_size // 5)
    assert str(parts.value) == str(one.value)
    assert f"line {len(lines) - 39}: temperature_c" in str(parts.value)


def test_readings_out_of_order_in_a_later_part_stop_it_as_one_process_does(
    tmp_path: Path,
) -> None:
    lines = (REPLAY_DATA / "three-nights.csv").read_text().splitlines(keepends=True)
    lines[-30], lines[-20] = lines[-20], lines[-30]
    path = tmp_path / "shuffled.csv"
    path.write_text("".join(lines))
    with pytest.raises(ValueError, match="out of order") as one:
        _document(path, 1)
    with pytest.raises(ValueError, match="out of order") as parts:
        _document(path, 4, path.stat().st_size // 5)
    assert str(parts.value) == str(one.value)


def test_only_files_that_can_be_cut_at_any_line_are_read_in_parts(tmp_path: Path) -> None:
    assert in_parts(REPLAY_DATA / "pi-clock-behind.jsonl") == 0
    plain = REPLAY_DATA / "three-nights.csv"
    assert in_parts(plain) == len(plain.read_bytes().split(b"\n")[0]) + 1
    quoted = tmp_path / "export.csv"
    quoted.write_text('ts,temperature_c,humidity_pct,note\n2026-01-01T00:00:00Z,18,50,"a\nb"\n')
    assert in_parts(quoted) is None  # a quoted field may hold a line break
    history = tmp_path / "history.csv"
    history.write_text("entity_id,state,last_changed\nsensor.temp,18,2026-01-01T00:00:00Z\n")
    assert in_parts(history) is None  # sorted whole before it is replayed


@pytest.mark.slow
def test_nursery_replay_in_parts_prints_what_one_process_prints(tmp_path: Path) -> None:
    """A recording long enough to be cut (two weeks at 10 s), through the command."""
    rows = (REPLAY_DATA / "three-nights.csv").read_text().splitlines()
    header, body = rows[0], rows[1:]
    path = tmp_path / "weeks.csv"
    with path.open("w") as out:
        out.write(header + "\n")
        from datetime import datetime, timedelta

        start = datetime.fromisoformat(body[0].split(",")[0])
        for i in range(150_000):
            _, t, h = body[i % len(body)].split(",")
            out.write(f"{(start + timedelta(seconds=10 * i)).isoformat()},{t},{h}\n")
    one = nursery(tmp_path, "replay", str(path), "--json", "--jobs", "1")
    two = nursery(tmp_path, "replay", str(path), "--json", "--jobs", "2")
    assert one.returncode == 0 and two.returncode == 0, one.stderr + two.stderr
    assert json.loads(two.stdout) == json.loads(one.stdout)
    assert json.loads(one.stdout)["summary"]["readings"] == 150_000
    bad = nursery(tmp_path, "replay", str(path), "--jobs", "0")
    assert bad.returncode == 2 and "--jobs" in bad.stderr
