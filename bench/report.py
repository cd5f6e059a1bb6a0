"""`bench/run`: every benchmark in bench/, one after the other, and one table of them all.

Each benchmark measures itself next to its reference in its own run and writes its table
as JSON (`--json PATH`); this gathers those tables into one, beside the machine it all ran
on. The rendering is a pure function of the summaries, so a test can check it without
running a benchmark. Run `bench/run --help`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import machine

HERE = Path(__file__).resolve().parent
# The order they run in and the names they go by; a new bench/*.py runs too, after these.
KNOWN = {
    "ingest": "ingest",
    "alert_latency": "alert latency",
    "footprint": "footprint",
    "history": "history",
    "sd_wear": "SD wear",
}
NOT_BENCHMARKS = {"report"}
COLUMNS = ("benchmark", "what", "figure", "reference", "ratio", "target", "verdict")


@dataclass(frozen=True, slots=True)
class Benchmark:
    stem: str  # bench/<stem>.py
    name: str

    @property
    def script(self) -> Path:
        return HERE / f"{self.stem}.py"


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one benchmark left behind: its summary, or why there is none."""

    bench: Benchmark
    seconds: float
    summary: dict[str, Any] | None = None
    error: str | None = None


def benchmarks(directory: Path = HERE) -> list[Benchmark]:
    """Every bench/*.py that is a benchmark: the known ones in order, then any other."""
    stems = {p.stem for p in directory.glob("*.py") if not p.stem.startswith("_")} - NOT_BENCHMARKS
    known = [Benchmark(stem, name) for stem, name in KNOWN.items() if stem in stems]
    others = [Benchmark(stem, stem.replace("_", " ")) for stem in sorted(stems - set(KNOWN))]
    return known + others


# --- the one table: pure ---------------------------------------------------------------


def table_rows(outcomes: Sequence[Outcome]) -> list[tuple[str, ...]]:
    """One row per figure that has a reference or a target; bare figures (the references
    themselves) stay in each benchmark's own report. A benchmark that could not run gets
    one ERROR row saying why."""
    rows: list[tuple[str, ...]] = []
    for outcome in outcomes:
        name = outcome.bench.name
        if outcome.summary is None:
            why = f"could not run: {outcome.error or 'no summary'}"
            rows.append((name, why, "", "", "", "", "ERROR"))
            continue
        first = True
        for row in outcome.summary.get("rows", []):
            if not (row.get("reference") or row.get("target")):
                continue
            rows.append(
                (
                    name if first else "",
                    row.get("metric", ""),
                    row.get("value", ""),
                    row.get("reference", ""),
                    row.get("ratio", ""),
                    row.get("target", ""),
                    row.get("verdict", ""),
                )
            )
            first = False
    return rows


def render(
    info: dict[str, str],
    outcomes: Sequence[Outcome],
    *,
    quick: bool,
    took_s: float,
    load: tuple[float, float, float] | None = None,
) -> str:
    """The report: the machine, the one table, and a line of totals."""
    rows = table_rows(outcomes)
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(COLUMNS)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    verdicts = [r[-1] for r in rows]
    timing = ", ".join(f"{o.bench.name} {o.seconds:.0f} s" for o in outcomes)
    out = [
        f"nursery-monitor: benchmark report (bench/run{' --quick' if quick else ''})",
        f"date     {info.get('date', '?')}",
        f"machine  {info.get('cpu', '?')}, {info.get('ram', '?')} RAM, {info.get('os', '?')}",
        f"software {info.get('python', '?')}; {info.get('broker', '?')}; "
        f"SQLite {info.get('sqlite', '?')}; everything on 127.0.0.1",
    ]
    if load is not None:
        out.append(
            f"load     {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the start "
            "(other work on the machine moves every figure)"
        )
    out += [
        "",
        line(COLUMNS),
        line(["-" * w for w in widths]),
        *(line(r) for r in rows),
        "",
        f"verdicts: {verdicts.count('PASS')} PASS, {verdicts.count('FAIL')} FAIL"
        + (f", {verdicts.count('ERROR')} could not run" if "ERROR" in verdicts else ""),
        f"run took {took_s / 60:.1f} min ({timing})",
    ]
    return "\n".join(out)


# --- running them ----------------------------------------------------------------------


def run_one(bench: Benchmark, quick: bool, workdir: Path) -> Outcome:
    """Run one benchmark in its own process, its progress passed through line by line."""
    summary_path = workdir / f"{bench.stem}.json"
    report_path = workdir / f"{bench.stem}.txt"
    argv = [sys.executable, str(bench.script), "--json", str(summary_path)]
    if quick:
        argv.append("--quick")
    started = time.monotonic()
    last = ""
    with report_path.open("w", encoding="utf-8") as report:
        proc = subprocess.Popen(
            argv, cwd=HERE.parent, stdout=report, stderr=subprocess.PIPE, text=True
        )
        assert proc.stderr is not None
        try:
            for text in proc.stderr:
                text = text.rstrip()
                if text:
                    last = text
                    print(f"  {bench.name}: {text.strip()}", file=sys.stderr, flush=True)
            proc.wait()
        finally:
            if proc.poll() is None:  # interrupted: let it stop its broker and hub
                proc.terminate()
                proc.wait(30)
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not summary_path.exists():
        why = last or f"exit status {proc.returncode}"
        return Outcome(bench, seconds, error=why)
    summary: dict[str, Any] = json.loads(summary_path.read_text(encoding="utf-8"))
    return Outcome(bench, seconds, summary=summary)


def build_parser(names: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bench/run",
        description="Run every benchmark in bench/, each next to its reference, one after "
        "the other, and print one table of every figure with a target or a reference, "
        "with the machine it ran on. Needs Mosquitto; starts everything it measures on "
        "127.0.0.1. Exits 0 once every benchmark ran, whatever the verdicts (2 when one "
        "could not).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="each benchmark's smoke run (a few minutes in all): figures to check the "
        "benchmarks work, not to quote",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=names,
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(names)}",
    )
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="keep each benchmark's full report (NAME.txt), its summary (NAME.json) and "
        "this table (report.txt) in DIR",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    found = benchmarks()
    args = build_parser([b.stem for b in found]).parse_args(argv)
    chosen = [b for b in found if not args.only or b.stem in args.only]
    # A plain SIGTERM would skip the `finally` that stops the running benchmark.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    info = machine()
    load = os.getloadavg()
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="nursery-bench-run-") as tmp:
        workdir = args.save or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        for n, bench in enumerate(chosen, 1):
            print(
                f"[{n}/{len(chosen)}] {bench.name}: python bench/{bench.stem}.py"
                f"{' --quick' if args.quick else ''}…",
                file=sys.stderr,
                flush=True,
            )
            outcome = run_one(bench, args.quick, workdir)
            outcomes.append(outcome)
            state = "done" if outcome.error is None else f"could not run ({outcome.error})"
            print(
                f"[{n}/{len(chosen)}] {bench.name}: {state} in {outcome.seconds:.0f} s",
                file=sys.stderr,
                flush=True,
            )
        report = render(
            info, outcomes, quick=args.quick, took_s=time.monotonic() - started, load=load
        )
        (workdir / "report.txt").write_text(report + "\n", encoding="utf-8")
    print(report)
    if args.save:
        print(f"\nfull reports in {args.save}/", file=sys.stderr)
    return 2 if any(o.error for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())
