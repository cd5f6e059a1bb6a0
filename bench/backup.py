"""Does ingest keep going while `nursery backup` copies the hub's database?

Everything real, on 127.0.0.1: a Mosquitto, the hub as `nursery hub` runs it (its own
process) on a database prefilled with a long history, and a publisher sending readings at
a steady rate over QoS 1. The benchmark polls the hub's file read-only every few
milliseconds to see when each reading is stored, and compares the longest wait between
publishing a reading and finding it stored during `nursery backup` (plain, then
encrypted) with the same figure in an equal window just before it. It checks that no
reading is lost, and shows why the backup pins one snapshot: the same backup API without
it starts over each time the hub commits. Exits 0 whatever the verdicts (2 when it cannot
set itself up). Run `python bench/backup.py --help`.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
from _common import (
    LOOPBACK,
    BenchError,
    HubProcess,
    Mosquitto,
    machine,
    percentile,
    wait_until,
    write_summary,
)
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import reading_topic
from hub.store.database import Received, Store
from nursery.config import env_name

BASE = "bench"
ROOM = "nursery"
PAUSE_TARGET_S = 1.0  # the bound on any pause of ingest during a backup
POLL_S = 0.005


class Publisher:
    """One room's readings at `rate` a second, QoS 1, each one's send time kept."""

    def __init__(self, port: int, rate: float) -> None:
        self.boot = new_boot_id()
        self.rate = rate
        self.sent_at: list[float] = []
        self._stop = threading.Event()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self._client.max_inflight_messages_set(1000)
        self._client.max_queued_messages_set(0)
        self._client.connect(LOOPBACK, port)
        self._client.loop_start()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        topic, start = reading_topic(BASE, ROOM), time.monotonic()
        while not self._stop.is_set():
            seq = len(self.sent_at)
            due = start + seq / self.rate
            if (wait := due - time.monotonic()) > 0:
                time.sleep(wait)
            now = datetime.now(UTC)
            payload = ReadingMessage(ROOM, self.boot, seq, now, 21.0, 45.0).encode()
            self._client.publish(topic, payload, qos=1)
            self.sent_at.append(time.monotonic())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._client.disconnect()
        self._client.loop_stop()


class StoredWatch:
    """When each reading of `boot` is first seen in the hub's file (read-only polls)."""

    def __init__(self, db: Path, boot: str) -> None:
        self.seen: list[tuple[float, int]] = []  # (monotonic time, highest stored seq)
        self._db, self._boot = db, boot
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        con = sqlite3.connect(f"{self._db.resolve().as_uri()}?mode=ro", uri=True)
        query = (
            "SELECT max(seq) FROM readings WHERE boot = (SELECT id FROM boots WHERE boot_id = ?)"
        )
        last = -1
        while not self._stop.wait(POLL_S):
            top = con.execute(query, (self._boot,)).fetchone()[0]
            if top is not None and top > last:
                last = int(top)
                self.seen.append((time.monotonic(), last))
        con.close()

    @property
    def highest(self) -> int:
        return self.seen[-1][1] if self.seen else -1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def waits(sent_at: list[float], seen: list[tuple[float, int]], lo: float, hi: float) -> list[float]:
    """Seconds from sending to finding stored, for each reading sent in [lo, hi)."""
    out, i = [], 0
    for seq, sent in enumerate(sent_at):
        while i < len(seen) and seen[i][1] < seq:
            i += 1
        if i == len(seen):
            break
        if lo <= sent < hi:
            out.append(seen[i][0] - sent)
    return out


def prefill(db: Path, count: int) -> None:
    boot, start = new_boot_id(), datetime.now(UTC) - timedelta(seconds=10 * count)
    with Store(db) as store:
        for first in range(0, count, 20_000):
            store.add_readings(
                [
                    Received(ReadingMessage("archive", boot, s, at, 20.0, 45.0), at)
                    for s in range(first, min(count, first + 20_000))
                    for at in [start + timedelta(seconds=10 * s)]
                ]
            )


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float
    size: int
    output: str


def nursery_backup(workdir: Path, db: Path, *extra: str) -> Run:
    env = {**os.environ, env_name("hub", "db"): str(db)}
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "nursery", "backup", "--to", str(workdir / "backups"), *extra],
        env=env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    took = time.monotonic() - started
    if result.returncode != 0:
        raise BenchError(f"nursery backup failed: {result.stderr.strip()}")
    path = Path(result.stdout.split("backup written: ", 1)[1].split(" (", 1)[0])
    return Run(took, path.stat().st_size, result.stdout.splitlines()[0])


def unpinned_restarts(db: Path, target: Path, limit_s: float) -> tuple[int, bool, float]:
    """SQLite's backup API in the same steps but without a pinned read transaction:
    (restarts, finished, seconds). Given up after `limit_s`."""
    source = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    dest = sqlite3.connect(target)
    restarts, last, last_total, started = 0, -1, 0, time.monotonic()

    class GiveUp(Exception):
        pass

    def step(status: int, remaining: int, total: int) -> None:
        # Pages still to copy grow by as much as the file grew; more is a start over.
        nonlocal restarts, last, last_total
        if last >= 0 and remaining - last > total - last_total:
            restarts += 1
        last, last_total = remaining, total
        if time.monotonic() - started > limit_s:
            raise GiveUp

    try:
        source.backup(dest, pages=256, progress=step)
        finished = True
    except GiveUp:
        finished = False
    finally:
        source.close()
        dest.close()
    return restarts, finished, time.monotonic() - started


def render(args: argparse.Namespace, info: dict[str, str], r: dict[str, object]) -> str:
    rows: list[tuple[str, ...]] = []

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

    base, plain, sealed = r["baseline"], r["plain"], r["sealed"]
    assert isinstance(base, list) and isinstance(plain, list) and isinstance(sealed, list)
    ref = max(base)
    runs = (("plain", plain, r["plain_run"]), ("encrypted", sealed, r["sealed_run"]))
    for name, got, run in runs:
        assert isinstance(run, Run)
        worst = max(got)
        row(
            f"longest wait to stored, {name} backup",
            f"{worst * 1000:,.0f} ms",
            f"no backup {ref * 1000:,.0f} ms",
            f"{worst / ref:.2f}×",
            f"≤ {PAUSE_TARGET_S * 1000:,.0f} ms",
            worst <= PAUSE_TARGET_S,
        )
        row(
            f"  p99 wait, {name} backup",
            f"{percentile(got, 99) * 1000:,.0f} ms",
            f"no backup {percentile(base, 99) * 1000:,.0f} ms",
        )
        row(f"  {name} backup took", f"{run.seconds:.2f} s", f"{run.size / 2**20:,.1f} MiB file")
    lost = int(r["lost"])  # type: ignore[call-overload]
    row("readings lost", f"{lost:,}", f"sent {r['sent']:,}", "", "0", lost == 0)
    restarts, finished, took = r["unpinned"]  # type: ignore[misc]
    row("same API, snapshot not pinned", f"{restarts} restarts", "pinned: 0", "", "", None)
    row("  …and it", "finished" if finished else "never finished", f"in {took:.1f} s")
    headers = ("metric", "value", "reference", "ratio", "target", "verdict")
    widths = [max(len(h), *(len(x[i]) for x in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join(
        [
            "nursery-monitor: backup benchmark",
            f"date    {info['date']}",
            f"machine {info['cpu']}, {info['os']}",
            f"python  {info['python']}; sqlite {info['sqlite']}; broker {info['broker']}",
            "",
            line(headers),
            line(tuple("-" * w for w in widths)),
            *(line(x) for x in rows),
            "",
            f"database: {args.history:,} readings of history ({r['db_mib']:.1f} MiB) before "
            f"the run; readings at {args.rate:g}/s over QoS 1 into `nursery hub`; waits "
            f"measured by read-only polls every {POLL_S * 1000:g} ms (that is their resolution)",
            f"windows: {args.window:g} s with no backup just before, then each backup's own run "
            f"(`nursery backup`, a process of its own, import time included)",
        ]
    )


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, object]:
    broker = Mosquitto(workdir)
    broker.start()
    hub = HubProcess(
        workdir, "hub", {"mqtt": {"host": LOOPBACK, "port": broker.port, "base_topic": BASE}}
    )
    db = workdir / "hub.db"
    print(f"prefilling {args.history:,} readings…", file=sys.stderr)
    prefill(db, args.history)
    (workdir / "pass").write_text("a long bench passphrase, not a secret\n")
    (workdir / "backups").mkdir()
    try:
        hub.start()
        pub = Publisher(broker.port, args.rate)
        watch = StoredWatch(db, pub.boot)
        try:
            wait_until(lambda: watch.highest >= 0, 30, "the first reading stored")
            time.sleep(2)  # let ingest settle before the reference window
            lo = time.monotonic()
            time.sleep(args.window)
            baseline = (lo, time.monotonic())
            print("nursery backup…", file=sys.stderr)
            t0 = time.monotonic()
            plain_run = nursery_backup(workdir, db)
            plain = (t0, time.monotonic())
            print("nursery backup --passphrase-file…", file=sys.stderr)
            t0 = time.monotonic()
            sealed_run = nursery_backup(workdir, db, "--passphrase-file", str(workdir / "pass"))
            sealed = (t0, time.monotonic())
            print("the backup API without a pinned snapshot…", file=sys.stderr)
            unpinned = unpinned_restarts(db, workdir / "unpinned.db", args.window * 3)
            time.sleep(1)
        finally:
            pub.stop()
        sent = len(pub.sent_at)
        wait_until(lambda: watch.highest == sent - 1, 60, "every reading sent stored")
        watch.stop()
        con = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        in_db = int(con.execute("SELECT count(*) FROM readings").fetchone()[0])
        con.close()
    finally:
        hub.stop()
        broker.stop()
    seen = watch.seen
    return {
        "baseline": waits(pub.sent_at, seen, *baseline),
        "plain": waits(pub.sent_at, seen, *plain),
        "sealed": waits(pub.sent_at, seen, *sealed),
        "plain_run": plain_run,
        "sealed_run": sealed_run,
        "sent": sent,
        "lost": args.history + sent - in_db,
        "unpinned": unpinned,
        "db_mib": db.stat().st_size / 2**20,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--history", type=int, default=1_000_000, help="readings before the run")
    parser.add_argument("--rate", type=float, default=200.0, help="readings a second (200)")
    parser.add_argument("--window", type=float, default=10.0, help="reference window, s (10)")
    parser.add_argument("--quick", action="store_true", help="100,000 readings of history")
    parser.add_argument("--record", type=Path, metavar="FILE", help="append the report to FILE")
    parser.add_argument("--json", type=Path, metavar="PATH", help="a machine-readable summary")
    args = parser.parse_args(argv)
    if args.quick:
        args.history, args.window = min(args.history, 100_000), min(args.window, 5.0)
    info = machine()
    try:
        with tempfile.TemporaryDirectory(prefix="nursery-bench-backup-") as tmp:
            results = measure(args, Path(tmp))
    except (BenchError, OSError, subprocess.SubprocessError) as exc:
        print(f"backup: cannot run: {exc}", file=sys.stderr)
        return 2
    report = render(args, info, results)
    print(report)
    if args.record:
        with args.record.open("a", encoding="utf-8") as out:
            out.write(f"\n## {info['date']}, {info['cpu']}: backup\n\n```\n{report}\n```\n")
    if args.json:
        write_summary(args.json, "backup", info, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
