"""How fast the dashboard's charts come out of a year of readings.

One room, one year of 10-second readings (about 3.2 million rows) stored through the
hub's own `Store.add_readings`, so the hourly rollup is exactly what the hub keeps. Then,
in the same run:

1. the 1-year chart (`hub.history.history`, days folded from the hourly rollup) next to
   the same days computed on the fly by a GROUP BY over the raw rows, which must agree;
2. the 24 h chart through the real endpoint (`GET /api/rooms/{room}/history?range=24h`
   on the hub's app served by uvicorn in its own process): time and JSON size.

The database is built once and cached under the temporary directory, keyed by the store's
schema version, so a re-run takes seconds. It prints one table with a verdict per target
and exits 0 whatever they say (2 when it cannot set itself up). Run
`python bench/history.py --help`.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import random
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TypeVar

import httpx
from _common import (
    LOOPBACK,
    BenchError,
    free_port,
    machine,
    percentile,
    wait_until,
    write_summary,
)

from contract.messages import ReadingMessage, new_boot_id
from hub.store.database import SCHEMA_VERSION, Bucket, Received, Store
from hub.store.history import DAY_S, History, history, window
from nursery.config import is_setting_variable

T = TypeVar("T")
ROOM = "nursery"
INTERVAL_S = 10
YEAR_RATIO = 1 / 50  # the 1-year chart at most this × the raw GROUP BY
DAY_CHART_MS = 50.0  # the 24 h chart through HTTP, p50
DAY_CHART_BYTES = 150 * 1024
BUILD_BATCH = 20_000
RECIPE = 1  # bump when the generated readings change, so the cache is rebuilt
CAREGIVER = "bench"


# --- the year of readings ------------------------------------------------------------


def climate(ts: float, rng: random.Random) -> tuple[float, float]:
    """A plausible nursery: cooler in winter and at night, some noise, 0.1 °C steps."""
    year = 2 * math.pi * ts / (365.25 * 86400)
    day = 2 * math.pi * ts / 86400
    temperature = 19.0 - 2.5 * math.cos(year) + 1.2 * math.sin(day) + rng.gauss(0, 0.15)
    humidity = 50.0 + 8.0 * math.sin(year) - 3.0 * math.sin(day) + rng.gauss(0, 0.8)
    return round(temperature, 1), round(min(100.0, max(0.0, humidity)), 1)


def year_of_readings(end: datetime, days: int) -> Iterator[list[Received]]:
    """Batches of `BUILD_BATCH` readings every INTERVAL_S seconds for `days` up to `end`;
    a new boot (seq from 0) every 30 days, as a Pi restarted now and then would."""
    rng = random.Random(RECIPE)
    start = end - timedelta(days=days)
    count = days * 86400 // INTERVAL_S
    step = timedelta(seconds=INTERVAL_S)
    boot, seq = new_boot_id(), 0
    batch: list[Received] = []
    for i in range(count):
        if i and i % (30 * 86400 // INTERVAL_S) == 0:
            boot, seq = new_boot_id(), 0
        ts = start + i * step
        temperature, humidity = climate(ts.timestamp(), rng)
        batch.append(Received(ReadingMessage(ROOM, boot, seq, ts, temperature, humidity), ts))
        seq += 1
        if len(batch) == BUILD_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def cached_database(days: int, rebuild: bool) -> tuple[Path, float | None]:
    """The year's database (built when missing): (path, seconds it took to build or None
    when it came from the cache)."""
    cache = Path(tempfile.gettempdir()) / f"nursery-bench-history-schema{SCHEMA_VERSION}"
    path = cache / f"{ROOM}-{days}d-{INTERVAL_S}s-r{RECIPE}.db"
    if path.exists() and not rebuild:
        return path, None
    cache.mkdir(parents=True, exist_ok=True)
    for old in cache.glob(f"{path.name}*"):
        old.unlink()
    building = cache / f"building-{os.getpid()}.db"
    total = days * 86400 // INTERVAL_S
    # Whole hours, so the last hour of the data is a full one.
    end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    started = time.monotonic()
    print(f"building {total:,} readings through Store.add_readings into {path}", file=sys.stderr)
    try:
        with Store(building) as store:
            done = 0
            for batch in year_of_readings(end, days):
                done += len(store.add_readings(batch))
                if done % (10 * BUILD_BATCH) == 0 or done == total:
                    rate = done / (time.monotonic() - started)
                    print(f"  {done:>10,} of {total:,} ({rate:,.0f}/s)", file=sys.stderr)
        building.rename(path)
    finally:
        for side in cache.glob(f"{building.name}*"):
            side.unlink()
    return path, time.monotonic() - started


def data_end(path: Path) -> datetime:
    """The newest reading's time: the bench's "now", whenever the cache was built."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT max(ts_ms) FROM readings").fetchone()
    if row[0] is None:
        raise BenchError(f"{path} holds no readings; run with --rebuild")
    return datetime.fromtimestamp(row[0] / 1000, tz=UTC) + timedelta(seconds=INTERVAL_S)


# --- timing helpers --------------------------------------------------------------------


def timed(work: Callable[[], T], runs: int) -> tuple[list[float], T]:
    """Milliseconds of each run (after one untimed warm-up), and the last result."""
    result = work()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        result = work()
        times.append((time.perf_counter() - started) * 1000)
    return times, result


@dataclass(frozen=True, slots=True)
class YearCharts:
    rollup_ms: list[float]
    raw_ms: list[float]
    days: int
    readings: int
    mismatches: list[str]


def year_charts(path: Path, end: datetime, runs: int, raw_runs: int) -> YearCharts:
    """The 1-year chart from the rollup next to the same days by GROUP BY over raw rows
    (both in UTC days, so they must agree exactly, up to float rounding)."""
    since, until = window("1y", end, UTC)
    with Store(path) as store:
        rollup_ms, chart = timed(lambda: history(store, ROOM, "1y", end, UTC), runs)
        raw_ms, raw = timed(lambda: store.buckets(ROOM, since, until, DAY_S * 1000), raw_runs)
    return YearCharts(
        rollup_ms, raw_ms, len(chart.points), sum(p.count for p in chart.points), agree(chart, raw)
    )


def agree(chart: History, raw: list[Bucket]) -> list[str]:
    """Where the rollup's days differ from the raw GROUP BY's: should be nowhere."""
    problems = []
    if len(chart.points) != len(raw):
        problems.append(f"{len(chart.points)} days from the rollup, {len(raw)} from raw rows")
    for point, bucket in zip(chart.points, raw, strict=False):
        n = bucket.count
        expected = (
            round(bucket.temperature_sum / n, 2),
            bucket.temperature_min,
            bucket.temperature_max,
            round(bucket.humidity_sum / n, 2),
            bucket.humidity_min,
            bucket.humidity_max,
        )
        got = (
            point.temperature_c.mean,
            point.temperature_c.min,
            point.temperature_c.max,
            point.humidity_pct.mean,
            point.humidity_pct.min,
            point.humidity_pct.max,
        )
        same_day = int(point.ts.timestamp() * 1000) == bucket.start_ms
        if (
            not same_day
            or point.count != n
            or any(abs(a - b) > 0.011 for a, b in zip(got, expected, strict=True))
        ):
            problems.append(f"{point.ts:%Y-%m-%d}: rollup {point.count} {got}, raw {n} {expected}")
    return problems


def backfill_seconds(path: Path, workdir: Path) -> tuple[float, int]:
    """Open a copy of the year as a database from before rollups: (seconds, progress lines)."""
    copy = workdir / "pre-rollup.db"
    with sqlite3.connect(path) as src, sqlite3.connect(copy) as dst:
        src.backup(dst)
    with sqlite3.connect(copy) as conn:
        conn.execute("DROP TABLE hourly")
        conn.execute("DELETE FROM meta WHERE key = 'rollup.hourly'")
    lines: list[str] = []

    class Count(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    logger = logging.getLogger("nursery.hub.store")
    handler = Count()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        started = time.perf_counter()
        Store(copy).close()
        took = time.perf_counter() - started
    finally:
        logger.removeHandler(handler)
    return took, sum(line.startswith("hourly rollups: ") for line in lines)


# --- the hub over HTTP -------------------------------------------------------------------

# The hub's app as `nursery hub` builds and serves it, without MQTT ingest (this measures
# reads), with its clock set to the end of the cached data.
_SERVE = """
import sys
from datetime import datetime
import uvicorn
from hub.app import create_app
from hub.service import server_config
from nursery.config import load_settings
end = datetime.fromisoformat(sys.argv[1])
app = create_app(load_settings(), clock=lambda: end, ingest=False)
uvicorn.Server(server_config(app, sys.argv[2], int(sys.argv[3]))).run()
"""


class ReadOnlyHub:
    """The hub's web app in its own process on the year's database, ingest off."""

    def __init__(self, db: Path, workdir: Path, end: datetime) -> None:
        self.db = db
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log = workdir / "hub.log"
        self.env = {k: v for k, v in os.environ.items() if not is_setting_variable(k)}
        self.env["NURSERY_HUB__DB"] = str(db)
        self.workdir = workdir
        self.end = end
        self.http = httpx.Client(base_url=self.url, timeout=30)
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [sys.executable, "-c", _SERVE, self.end.isoformat(), LOOPBACK, str(self.port)]
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                argv, cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._answering, timeout=60, what="the hub's HTTP server", every=0.05)
        if self.get("/api/rooms").status_code == 401:
            self.http.headers["Authorization"] = f"Bearer {self._token()}"

    def _answering(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise BenchError(f"the hub exited: {self.log.read_text()[-800:]}")
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=0.2):
                return self.http.get("/healthz").status_code == 200
        except (OSError, httpx.HTTPError):
            return False

    def _token(self) -> str:
        """The API needs a login: an API token of a bench caregiver, made through the
        hub's own accounts (what `nursery adduser` and `nursery token` do)."""
        from hub.accounts import Accounts

        accounts = Accounts(self.db)
        try:
            if accounts.find(CAREGIVER) is None:
                accounts.add(CAREGIVER, "bench password, not a secret")
            return accounts.new_token(CAREGIVER, "bench/history.py")
        finally:
            accounts.close()

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get(path, params=params)

    def stop(self) -> None:
        self.http.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None


@dataclass(frozen=True, slots=True)
class Fetched:
    span: str
    ms: list[float]
    size: int
    points: int
    source: str


def fetch_charts(hub: ReadOnlyHub, runs: int) -> dict[str, Fetched]:
    """Each range through HTTP, as the dashboard asks for it: ms per request, JSON bytes."""
    out = {}
    for span in ("24h", "7d", "1y"):

        def one(span: str = span) -> httpx.Response:
            response = hub.get(f"/api/rooms/{ROOM}/history", range=span)
            if response.status_code != 200:
                raise BenchError(f"history?range={span}: HTTP {response.status_code}")
            return response

        ms, response = timed(one, runs)
        body = response.json()
        out[span] = Fetched(span, ms, len(response.content), len(body["points"]), body["source"])
    return out


# --- the report --------------------------------------------------------------------------


def render(
    info: dict[str, str],
    args: argparse.Namespace,
    db: Path,
    built_s: float | None,
    year: YearCharts,
    charts: dict[str, Fetched],
    day_fn_ms: list[float],
    backfill: tuple[float, int] | None,
    took_s: float,
) -> str:
    rows: list[tuple[str, str, str, str, str, str]] = []

    def row(
        metric: str,
        value: str,
        ref: str = "",
        ratio: str = "",
        target: str = "",
        ok: bool | None = None,
    ) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        rows.append((metric, value, ref, ratio, target, verdict))

    rollup, raw = percentile(year.rollup_ms, 50), percentile(year.raw_ms, 50)
    row(
        "1-year chart from the rollup, p50",
        f"{rollup:.2f} ms",
        f"raw GROUP BY {raw:,.0f} ms",
        f"1/{raw / rollup:,.0f}",
        f"≤ 1/{1 / YEAR_RATIO:.0f}",
        rollup <= YEAR_RATIO * raw,
    )
    row(
        "  its days equal the raw GROUP BY's",
        f"{year.days - len(year.mismatches)} of {year.days}",
        "",
        "",
        "all",
        not year.mismatches,
    )
    day = charts["24h"]
    day_p50 = percentile(day.ms, 50)
    row(
        "24 h chart over HTTP, p50",
        f"{day_p50:.1f} ms",
        "",
        "",
        f"< {DAY_CHART_MS:.0f} ms",
        day_p50 < DAY_CHART_MS,
    )
    row("24 h chart over HTTP, p99", f"{percentile(day.ms, 99):.1f} ms")
    row(
        "24 h chart JSON",
        f"{day.size / 1024:,.1f} KiB",
        f"{day.points} points",
        "",
        f"< {DAY_CHART_BYTES // 1024} KiB",
        day.size < DAY_CHART_BYTES,
    )
    row("  the same without HTTP, p50", f"{percentile(day_fn_ms, 50):.1f} ms")
    for span, label in (("7d", "7-day"), ("1y", "1-year")):
        chart = charts[span]
        row(
            f"{label} chart over HTTP, p50",
            f"{percentile(chart.ms, 50):.1f} ms",
            f"{chart.points} points, {chart.source}",
            "",
            "",
        )
        row("  its JSON", f"{chart.size / 1024:,.1f} KiB")
    if backfill is not None:
        row(
            "rollup backfill of this year on open",
            f"{backfill[0]:.1f} s",
            f"{backfill[1]} progress lines",
        )
    headers = ("metric", "value", "reference", "ratio", "target", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    size = db.stat().st_size
    built = "from the cache" if built_s is None else f"built in {built_s:.0f} s"
    out = [
        "nursery-monitor: history benchmark",
        f"date    {info['date']}",
        f"machine {info['cpu']}, {info['os']}",
        f"python  {info['python']}; SQLite {sqlite3.sqlite_version}; all on 127.0.0.1",
        "",
        line(headers),
        line(tuple("-" * w for w in widths)),
        *(line(r) for r in rows),
        "",
        f"database: {year.readings:,} readings of one room over {args.days} days every "
        f"{INTERVAL_S} s, {size / 2**20:,.0f} MiB, {built} ({db})",
        f"timing: 1-year chart {len(year.rollup_ms)} runs (hub.store.history.history: "
        f"hourly rollup summed into {year.days} UTC days, plus the alerts); raw GROUP BY "
        f"{len(year.raw_ms)} runs over the same window; each after one untimed run "
        "(warm page cache)",
        f"HTTP: {len(day.ms)} requests per range to the hub's app in its own process (uvicorn, "
        "ingest off), one at a time, httpx keep-alive",
        f"run took {took_s:.0f} s",
    ]
    if year.mismatches:
        out += ["", "days that differ:", *(f"  {m}" for m in year.mismatches[:10])]
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="The 1-year chart from the hourly rollup next to a GROUP BY over a year "
        "of raw 10-second readings, and the 24 h chart's time and size through HTTP."
    )
    parser.add_argument("--days", type=int, default=365, help="days of readings (default: 365)")
    parser.add_argument("--runs", type=int, default=50, help="timed runs per chart (default: 50)")
    parser.add_argument(
        "--raw-runs", type=int, default=5, help="timed runs of the raw GROUP BY (default: 5)"
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached database")
    parser.add_argument(
        "--no-backfill", action="store_true", help="skip timing the rollup backfill on open"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 30 days, 10 runs, 2 raw runs, no backfill",
    )
    parser.add_argument(
        "--record", type=Path, metavar="FILE", help="append the report to FILE (RESULTS.md)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="PATH", help="also write a machine-readable summary"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.quick:
        args.days, args.runs, args.raw_runs, args.no_backfill = 30, 10, 2, True
    info = machine()
    started = time.monotonic()
    try:
        db, built_s = cached_database(args.days, args.rebuild)
        end = data_end(db)
        print("timing the 1-year chart and the raw GROUP BY…", file=sys.stderr)
        year = year_charts(db, end, args.runs, args.raw_runs)
        with Store(db) as store:
            day_fn_ms, _ = timed(lambda: history(store, ROOM, "24h", end), args.runs)
        with tempfile.TemporaryDirectory(prefix="nursery-bench-history-") as tmp:
            workdir = Path(tmp)
            backfill = None
            if not args.no_backfill:
                print("timing the rollup backfill of a copy…", file=sys.stderr)
                backfill = backfill_seconds(db, workdir)
            print("timing the charts over HTTP…", file=sys.stderr)
            hub = ReadOnlyHub(db, workdir, end)
            try:
                hub.start()
                charts = fetch_charts(hub, args.runs)
            finally:
                hub.stop()
    except (BenchError, OSError, sqlite3.Error, subprocess.SubprocessError) as exc:
        print(f"history: cannot run: {exc}", file=sys.stderr)
        return 2
    report = render(
        info, args, db, built_s, year, charts, day_fn_ms, backfill, time.monotonic() - started
    )
    print(report)
    if args.record:
        with args.record.open("a", encoding="utf-8") as out:
            out.write(f"\n## {info['date']}, {info['cpu']}: history\n\n```\n{report}\n```\n")
    if args.json:
        write_summary(args.json, "history", info, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
