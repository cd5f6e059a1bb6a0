"""How fast `nursery replay` gets through a year of one room at 10 s (about 3.15 M readings).

The year is written once as a plain `ts,temperature_c,humidity_pct` CSV under the temporary
directory (a cold spell every night, noise, a few gaps), then read alone (one process), and
replayed through the same code as the command (`hub.replay.parts.replay_file`: in parts, one
process per core up to four, joined where they agree exactly; `--jobs 1` for one process).
Prints one table and exits 0 whatever the verdict. `python bench/replay.py --help`.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.replay.parts import ReplaySetup, default_jobs, replay_file
from hub.replay.sources import SourceOptions, read_readings
from nursery.config import Settings

TARGET_S = 60.0  # "a year of one room in seconds": under a minute on the machine it runs on
START = datetime(2026, 1, 1, tzinfo=UTC)


def trace(days: int) -> Path:
    """The CSV, made once per length and kept for re-runs."""
    path = Path(tempfile.gettempdir()) / f"nursery-bench-replay-{days}d.csv"
    if path.exists():
        return path
    rng = random.Random(days)
    part = path.with_suffix(".part")
    with part.open("w") as out:
        out.write("ts,temperature_c,humidity_pct\n")
        for i in range(days * 8640):
            if i % 50_000 < 40:  # a few minutes of silence now and then
                continue
            hour = (i % 8640) / 360
            cold = (
                2.5 * max(0.0, math.sin((hour - 22) / 8 * math.pi)) if hour >= 22 or hour < 6 else 0
            )
            t = 18.3 - cold + 0.6 * math.sin(i / 3000) + rng.gauss(0, 0.05)
            ts = START + timedelta(seconds=10 * i)
            out.write(f"{ts.isoformat()},{t:.2f},{50 + rng.gauss(0, 0.5):.1f}\n")
    part.rename(path)
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=365, help="length of the trace (default 365)")
    parser.add_argument(
        "--jobs", type=int, default=default_jobs(), help="processes, as `nursery replay --jobs`"
    )
    args = parser.parse_args()
    path = trace(args.days)
    started = time.perf_counter()
    rows = sum(1 for _ in read_readings(path, SourceOptions()))
    parse_s = time.perf_counter() - started
    settings = Settings()
    setup = ReplaySetup(settings.rules, settings.alerts)
    started = time.perf_counter()
    replay = replay_file(path, setup, jobs=args.jobs)
    total_s = time.perf_counter() - started
    pushes = sum(len(a.pushes) for a in replay.alerts)
    year_s = total_s * 365 / args.days
    cores = len(os.sched_getaffinity(0))
    print(f"{'readings':<34}{rows:>14,}")
    print(f"{'reading the file alone':<34}{parse_s:>13.1f} s  (one process)")
    print(
        f"{'reading and replaying':<34}{total_s:>13.1f} s  ({total_s / rows * 1e6:.0f} µs each; "
        f"{args.jobs} process{'es' if args.jobs > 1 else ''} on {cores} cores, "
        f"{replay.joined} parts joined)"
    )
    print(f"{'alerts / pushes':<34}{len(replay.alerts):>7,} / {pushes:,}")
    verdict = "PASS" if year_s <= TARGET_S else "FAIL"
    print(f"{'a year of one room (target 60 s)':<34}{year_s:>13.1f} s  {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
