"""bench/run's one table, without running a benchmark: the command answers --help, a
benchmark's printed table reads back as its summary, and the summaries render as one table."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from types import ModuleType

import pytest

from tests.support.paths import ROOT

BENCH = ROOT / "bench"

# A benchmark's table as the benchmarks print it: header, dashes, rows to a blank line.
PRINTED = """nursery-monitor: footprint benchmark
date    2026-11-30T00:00:00+00:00

metric                              value      reference           ratio  target  verdict
----------------------------------  ---------  ------------------  -----  ------  -------
hub RSS, idle after the feed        111.6 MiB  bare paho 22.0 MiB  5.1×   ≤ 3×    FAIL
  anonymous memory only (RssAnon)   86.3 MiB   bare paho 11.5 MiB  7.5×
bare paho drain rate                44,546/s
readings stored (the hub's count)   100,000    published 100,000          all     PASS

feed: 100,000 QoS 1 readings
"""


@pytest.fixture
def bench(monkeypatch: pytest.MonkeyPatch) -> tuple[ModuleType, ModuleType]:
    """bench/_common.py and bench/report.py, imported as the benchmarks import them."""
    monkeypatch.syspath_prepend(str(BENCH))
    return importlib.import_module("_common"), importlib.import_module("report")


def test_bench_run_help_names_every_benchmark_without_running_one() -> None:
    env = {**os.environ, "PYTHON": sys.executable}
    done = subprocess.run(
        [str(BENCH / "run"), "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "--quick" in done.stdout
    for name in ("ingest", "alert_latency", "footprint", "history"):
        assert name in done.stdout


def test_a_printed_table_reads_back_cell_for_cell(bench: tuple[ModuleType, ModuleType]) -> None:
    common, _ = bench
    rows = common.table_rows(PRINTED)
    assert [r["metric"] for r in rows] == [
        "hub RSS, idle after the feed",
        "  anonymous memory only (RssAnon)",
        "bare paho drain rate",
        "readings stored (the hub's count)",
    ]
    assert rows[0] == {
        "metric": "hub RSS, idle after the feed",
        "value": "111.6 MiB",
        "reference": "bare paho 22.0 MiB",
        "ratio": "5.1×",
        "target": "≤ 3×",
        "verdict": "FAIL",
    }
    assert rows[3]["target"] == "all" and rows[3]["verdict"] == "PASS"
    assert rows[3]["ratio"] == ""


def test_a_report_without_a_table_is_refused(bench: tuple[ModuleType, ModuleType]) -> None:
    common, _ = bench
    with pytest.raises(common.BenchError, match="no table"):
        common.table_rows("nursery-monitor: something\nno table here\n")


def test_the_one_table_keeps_figures_with_a_reference_or_target_and_says_what_failed(
    bench: tuple[ModuleType, ModuleType],
) -> None:
    common, report = bench
    footprint = report.Benchmark("footprint", "footprint")
    history = report.Benchmark("history", "history")
    outcomes = [
        report.Outcome(footprint, 130.0, summary={"rows": common.table_rows(PRINTED)}),
        report.Outcome(history, 2.0, error="history: cannot run: no space left on device"),
    ]
    info = {
        "date": "2026-11-30T00:00:00+00:00",
        "cpu": "Raspberry Pi Zero 2 W Rev 1.0 (4 cores)",
        "ram": "420 MiB",
        "os": "Linux-6.6-aarch64",
        "python": "CPython 3.11.2",
        "broker": "mosquitto version 2.0.11",
        "sqlite": "3.40.1",
    }
    text = report.render(info, outcomes, quick=True, took_s=132.0, load=(0.5, 0.25, 0.1))
    lines = text.splitlines()

    assert lines[0] == "nursery-monitor: benchmark report (bench/run --quick)"
    assert "Raspberry Pi Zero 2 W Rev 1.0 (4 cores), 420 MiB RAM" in lines[2]
    assert "mosquitto version 2.0.11" in lines[3] and "SQLite 3.40.1" in lines[3]
    header = next(line for line in lines if line.startswith("benchmark"))
    assert header.split() == [
        "benchmark",
        "what",
        "figure",
        "reference",
        "ratio",
        "target",
        "verdict",
    ]
    body = lines[lines.index(header) + 2 :]
    table = body[: body.index("")]
    assert len(table) == 4  # the bare drain rate is left to the benchmark's own report
    assert table[0].startswith("footprint  hub RSS, idle after the feed")
    assert table[0].endswith("FAIL")
    assert table[1].startswith("             anonymous memory only")  # name only on the first
    assert not any("drain rate" in line for line in table)
    assert table[3].startswith("history    could not run: history: cannot run: no space left")
    assert table[3].endswith("ERROR")
    assert "verdicts: 1 PASS, 1 FAIL, 1 could not run" in text
    assert "run took 2.2 min (footprint 130 s, history 2 s)" in text


def test_every_benchmark_in_bench_is_run(bench: tuple[ModuleType, ModuleType]) -> None:
    _, report = bench
    stems = [b.stem for b in report.benchmarks()]
    on_disk = {p.stem for p in BENCH.glob("*.py") if not p.stem.startswith("_")} - {"report"}
    assert set(stems) == on_disk
    assert stems[:4] == ["ingest", "alert_latency", "footprint", "history"]
