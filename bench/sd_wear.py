"""SD wear: the bytes the hub writes to its card per day for one room at the default
interval, from the kernel's count of the real `nursery hub`'s writes. bench/README.md says more.
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
from datetime import UTC, datetime
from pathlib import Path

from _common import (
    BenchError,
    HubProcess,
    Mosquitto,
    machine,
    wait_until,
    write_summary,
)

from firmware.config import FirmwareSettings
from hub.store.sd_wear import BYTES_PER_READING

DAY_S = 86_400
INTERVAL_S = FirmwareSettings().interval_s  # the default the bench keeps
ROOM = "nursery"


def write_bytes(pid: int | str) -> int:
    """The bytes the kernel has counted as written to storage for the process: page-cache
    pages it dirtied (each counted again once written back and dirtied anew) and direct
    writes (man 5 proc, /proc/pid/io)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    raise BenchError("/proc/<pid>/io has no write_bytes (a kernel without task I/O accounting)")


def stored(db: Path) -> int:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM readings").fetchone()[0])
    finally:
        conn.close()


def checkpoint_bytes(db: Path) -> int:
    """Copy the WAL's frames into the database file, as the hub's own checkpoint does once
    the WAL reaches 1000 pages, and return the bytes that took (counted on this process)."""
    before = write_bytes("self")
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        busy, _frames, _done = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if busy:
            raise BenchError("the checkpoint found the database busy")
        os.sync()  # the checkpoint's pages counted once dirtied; written before we look
    finally:
        conn.close()
    return write_bytes("self") - before


class QuietHub(HubProcess):
    """`nursery hub` as installed, its log thrown away: on a Pi it goes to journald, whose
    writes are journald's, not the hub's, and a log file here would count as the hub's."""

    def start(self) -> None:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "nursery", "hub"],
            cwd=self.workdir,
            env=self._env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._mqtt_connected, timeout=60, what="the hub up on MQTT", every=0.05)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid


def firmware(workdir: Path, broker: Mosquitto) -> subprocess.Popen[bytes]:
    """`nursery firmware` with the simulated sensor at the default interval: one room."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
    env |= {
        "NURSERY_MQTT__HOST": "127.0.0.1",
        "NURSERY_MQTT__PORT": str(broker.port),
        "NURSERY_FIRMWARE__ROOM": ROOM,
        "NURSERY_FIRMWARE__SENSOR": "simulated",
        "NURSERY_FIRMWARE__OUTBOX": str(workdir / "outbox.db"),
    }
    with (workdir / "firmware.log").open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "nursery", "firmware"],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def run(minutes: float, workdir: Path) -> str:
    broker = Mosquitto(workdir)
    broker.start()
    hub = QuietHub(workdir, "hub", {"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    db = workdir / "hub.db"
    pi: subprocess.Popen[bytes] | None = None
    try:
        hub.start()
        pi = firmware(workdir, broker)
        # Past the start's own writes (the schema, the first room, discovery).
        wait_until(lambda: stored(db) >= 2, timeout=60, what="two readings stored")
        checkpoint_bytes(db)  # the window starts with an empty WAL
        readings0, hub0, started = stored(db), write_bytes(hub.pid), time.monotonic()
        threading.Event().wait(minutes * 60)
        hub_bytes, took = write_bytes(hub.pid) - hub0, time.monotonic() - started
        readings = stored(db) - readings0
        ckpt = checkpoint_bytes(db)
    finally:
        if pi is not None:
            pi.terminate()
            pi.wait(15)
        hub.stop()
        broker.stop()
    if readings <= 0:
        raise BenchError("no reading was stored in the window")
    per_day = (hub_bytes + ckpt) * DAY_S / took
    per_reading = (hub_bytes + ckpt) / readings
    rows = [
        (
            "SD writes a day, one room",
            f"{per_day / 1e6:.1f} MB",
            f"{DAY_S / INTERVAL_S:,.0f} readings",
        ),
        ("  the hub's own writes (WAL, -shm)", f"{hub_bytes:,} B", f"{took:.0f} s window"),
        ("  the checkpoint of that window", f"{ckpt:,} B", ""),
        ("bytes written a reading", f"{per_reading:,.0f} B", f"kept {BYTES_PER_READING:,} B"),
        ("readings stored in the window", f"{readings:,}", f"every {INTERVAL_S:g} s"),
    ]
    width = max(len(r[0]) for r in rows)
    line = f"{{:<{width}}}  {{:<11}}  {{:<18}}  {{:<5}}  {{:<6}}  {{}}"
    table = [line.format("metric", "value", "reference", "ratio", "target", "verdict")]
    table.append(line.format("-" * width, "-" * 11, "-" * 18, "-" * 5, "-" * 6, "-" * 7))
    table += [line.format(*row, "", "", "").rstrip() for row in rows]
    return "\n".join(
        [
            "nursery-monitor: SD wear benchmark",
            f"date    {datetime.now(UTC).isoformat(timespec='seconds')}",
            "",
            *table,
            "",
            f"one room, `nursery firmware` (simulated sensor) every {INTERVAL_S:g} s for"
            f" {minutes:g} min; written = /proc/<hub pid>/io write_bytes, plus a PASSIVE",
            "checkpoint of the window's WAL; the hub's log is not counted (journald's on a Pi)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="the measured window")
    parser.add_argument("--quick", action="store_true", help="a 1-minute window: a check")
    parser.add_argument("--json", type=Path, help="also write the table as JSON here")
    args = parser.parse_args(argv)
    minutes = 1.0 if args.quick else args.minutes
    info = machine()
    # On the disk the checkout is on: a tmpfs /tmp would count no writes at all.
    with tempfile.TemporaryDirectory(prefix="sd-wear-", dir=Path.cwd()) as tmp:
        try:
            report = run(minutes, Path(tmp))
        except BenchError as exc:
            print(f"sd_wear: {exc}", file=sys.stderr)
            return 2
    print(report)
    if args.json:
        write_summary(args.json, "sd_wear", info, report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
