"""How fast the hub stores a backlog, and how much it writes to disk per reading.

Everything real, on 127.0.0.1: one Mosquitto, and three persistent-session subscribers that
each find the same 50,000-reading QoS 1 backlog waiting when they connect (it is published
while they are all offline):

1. `mosquitto_sub -q 1 -c -i ID`, the broker's own C client: the ceiling;
2. a bare paho subscriber (clean_session false, paho's automatic PUBACK);
3. the hub's ingest (`hub.ingest.listener.Ingest` on a `hub.store.database.Store`, as
   `nursery hub` runs them, without the alert monitor): validate, group commit, PUBACK
   only after the commit.

It then counts the bytes the hub wrote to disk for those readings (`/proc/self/io`,
including the final WAL checkpoint) next to the same store committing each reading on its
own. It prints one table with a verdict per target and exits 0 whatever they say (2 when it
cannot set itself up). Run `python bench/ingest.py --help`.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from _common import (
    LOOPBACK,
    BenchError,
    InstalledHub,
    InstalledMosquitto,
    Mosquitto,
    machine,
    wait_until,
    write_summary,
)
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import reading_topic
from hub.config import HubSettings
from hub.ingest.listener import Ingest
from hub.store.database import Received, Store
from mqttlink.settings import MqttSettings
from nursery.config import Settings

BASE = "bench"
ROOM = "backlog"
RATE_VS_MOSQUITTO_SUB = 0.10  # the hub's store rate at least this × mosquitto_sub's
RATE_VS_PAHO = 0.5  # … and this × a bare paho subscriber's
DISK_VS_PER_ROW = 0.2  # bytes written per reading at most this × a commit-per-row writer
BROKER_INFLIGHT = 1000  # Mosquitto's max_inflight_messages by default (its own default: 20)
DRAIN_TIMEOUT_S = 120.0


class BacklogMosquitto(Mosquitto):
    """Mosquitto with room for three 50,000-message backlogs and a wide in-flight window
    (the hub can only commit what the broker lets be in flight unacknowledged)."""

    def __init__(self, workdir: Path, inflight: int) -> None:
        super().__init__(workdir)
        self.inflight = inflight

    def config(self) -> str:
        return (
            f"listener {self.port} {LOOPBACK}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 0\n"  # no limit: the backlogs must all be kept
            f"max_inflight_messages {self.inflight}\n"
        )


def persistent_client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )


# --- the backlog ---------------------------------------------------------------------


def open_session(port: int, client_id: str, topic: str) -> None:
    """Create a persistent session subscribed to `topic`, then leave it offline."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    subscribed = threading.Event()
    client.on_subscribe = lambda *args: subscribed.set()
    client.connect(LOOPBACK, port)
    client.loop_start()
    client.subscribe(topic, qos=1)
    if not subscribed.wait(10):
        raise BenchError(f"no SUBACK for {client_id}")
    client.disconnect()
    client.loop_stop()


def preload(port: int, count: int, login: tuple[str, str] | None = None) -> tuple[str, float]:
    """Publish `count` readings at QoS 1 (as `login`, else anonymously) and wait for every
    PUBACK; (boot id, seconds)."""
    boot = new_boot_id()
    t0 = datetime.now(UTC) - timedelta(days=1)
    topic = reading_topic(BASE, ROOM)
    payloads = [
        ReadingMessage(ROOM, boot, seq, t0 + timedelta(seconds=seq), 19.5, 50.0).encode()
        for seq in range(count)
    ]
    acked = 0
    done = threading.Event()
    lock = threading.Lock()

    def on_publish(*args: Any) -> None:
        nonlocal acked
        with lock:
            acked += 1
            if acked == count:
                done.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    if login is not None:
        client.username_pw_set(*login)
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect(LOOPBACK, port)
    client.loop_start()
    started = time.perf_counter()
    for payload in payloads:
        client.publish(topic, payload, qos=1)
    if not done.wait(DRAIN_TIMEOUT_S):
        raise BenchError(f"the broker acknowledged {acked} of {count} readings")
    elapsed = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return boot, elapsed


# --- the three subscribers -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Drain:
    who: str
    count: int
    seconds: float
    extra: str = ""

    @property
    def rate(self) -> float:
        return self.count / self.seconds


def drain_mosquitto_sub(port: int, client_id: str, topic: str, count: int) -> Drain:
    exe = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
    if not Path(exe).exists():
        raise BenchError("mosquitto_sub is not installed (apt-get install mosquitto-clients)")
    argv = [exe, "-h", LOOPBACK, "-p", str(port), "-q", "1", "-c", "-i", client_id]
    argv += ["-t", topic, "-C", str(count)]
    started = time.perf_counter()
    done = subprocess.run(
        argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=DRAIN_TIMEOUT_S,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise BenchError(f"mosquitto_sub failed: {done.stderr.decode(errors='replace')[:200]}")
    return Drain("mosquitto_sub", count, elapsed, "process start to exit after the last")


def drain_paho(port: int, client_id: str, count: int) -> Drain:
    received = 0
    done = threading.Event()
    finished = 0.0

    def on_message(c: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        nonlocal received, finished
        received += 1
        if received == count:
            finished = time.perf_counter()
            done.set()

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=False,
        protocol=mqtt.MQTTv311,
    )
    client.on_message = on_message
    started = time.perf_counter()
    client.connect(LOOPBACK, port)
    client.loop_start()
    if not done.wait(DRAIN_TIMEOUT_S):
        raise BenchError(f"bare paho got {received} of {count} readings")
    client.disconnect()
    client.loop_stop()
    return Drain("bare paho", count, finished - started, "connect to the last on_message")


def io_counters() -> dict[str, int]:
    """This process's I/O counters: wchar (bytes given to write()) and write_bytes (bytes
    the kernel sent, or will send, to the storage layer)."""
    values: dict[str, int] = {}
    for line in Path("/proc/self/io").read_text().splitlines():
        key, _, value = line.partition(":")
        values[key.strip()] = int(value)
    return values


@dataclass(frozen=True, slots=True)
class Written:
    readings: int
    write_bytes: int
    wchar: int

    @property
    def per_reading(self) -> float:
        return self.write_bytes / self.readings

    @property
    def wchar_per_reading(self) -> float:
        return self.wchar / self.readings


def measured(readings: int, work: Callable[[], None]) -> Written:
    before = io_counters()
    work()
    after = io_counters()
    return Written(
        readings,
        after["write_bytes"] - before["write_bytes"],
        after["wchar"] - before["wchar"],
    )


@dataclass(frozen=True, slots=True)
class HubDrain:
    drain: Drain
    stored: int
    in_db: int
    duplicates: int
    rejected: int
    commits: int
    written: Written


def drain_hub(port: int, client_id: str, count: int, db: Path) -> HubDrain:
    settings = Settings(
        mqtt=MqttSettings(host=LOOPBACK, port=port, base_topic=BASE),
        hub=HubSettings(db=db, client_id=client_id),
    )
    store = Store(db)
    commits = 0
    add_readings = store.add_readings

    def counting(batch: list[Received]) -> list[Received]:
        nonlocal commits
        commits += 1
        return add_readings(batch)

    store.add_readings = counting  # type: ignore[method-assign,assignment]
    ingest = Ingest(settings, store)
    result: dict[str, float] = {}

    def run() -> None:
        started = time.perf_counter()
        ingest.start()
        wait_until(
            lambda: ingest.counters.stored + ingest.counters.duplicates >= count,
            timeout=DRAIN_TIMEOUT_S,
            what=f"the hub to store {count} readings",
            every=0.002,
        )
        result["seconds"] = time.perf_counter() - started
        ingest.stop()
        store.close()  # the last connection: SQLite checkpoints the WAL into the file

    written = measured(count, run)
    with Store(db) as check:
        in_db = check.count_readings()
    counters = ingest.counters
    return HubDrain(
        Drain("hub ingest", count, result["seconds"], "start to the last commit"),
        stored=counters.stored,
        in_db=in_db,
        duplicates=counters.duplicates,
        rejected=counters.rejected,
        commits=commits,
        written=written,
    )


def drain_installed_hub(workdir: Path, count: int) -> Drain:
    """The hub as users run it draining the same backlog: the whole `nursery hub` process
    as scripts/install-pi installs it (alert monitor, push dispatcher, HTTP server on), on
    a broker on the installer's files (logins, ACL, persistence, max_inflight_messages
    100), the backlog published by the room's own login while the hub is stopped.

    Timed from the restarted hub's MQTT session being up (its /healthz, polled every
    50 ms) to its count of stored readings reaching the backlog (the same polling)."""
    workdir.mkdir()
    broker = InstalledMosquitto(workdir, BASE, (ROOM,))
    broker.start()
    try:
        settings: dict[str, dict[str, object]] = {"hub": {"db": str(workdir / "hub.db")}}
        first = InstalledHub(workdir, "hub", settings, broker)
        try:
            first.start()
            # /healthz says connected before the SUBACK: a stored reading proves the session.
            wait_until(
                lambda: preload(broker.port, 1, broker.login(ROOM)) and first.stored() > 0,
                timeout=30,
                what="the installed hub to store a first reading",
                every=0.5,
            )
        finally:
            first.stop()
        print(f"  the hub stopped; publishing {count:,} readings…", file=sys.stderr)
        preload(broker.port, count, broker.login(ROOM))
        hub = InstalledHub(workdir, "hub", settings, broker)
        try:
            hub.start()
            started = time.perf_counter()
            wait_until(
                lambda: hub.stored() >= count,
                timeout=DRAIN_TIMEOUT_S,
                what=f"the installed hub to store {count:,} readings",
                every=0.05,
            )
            seconds = time.perf_counter() - started
        finally:
            hub.stop()
    finally:
        broker.stop()
    return Drain("hub as installed", count, seconds, "MQTT up to the last stored, polled")


# --- the writers the disk figure is compared with -------------------------------------


def readings_for(count: int) -> list[Received]:
    boot = new_boot_id()
    t0 = datetime.now(UTC) - timedelta(days=1)
    return [
        Received(
            ReadingMessage(ROOM, boot, seq, t0 + timedelta(seconds=seq), 19.5, 50.0),
            t0 + timedelta(seconds=seq),
        )
        for seq in range(count)
    ]


def per_row_store(db: Path, count: int) -> Written:
    """The hub's own Store (same schema, WAL, synchronous=NORMAL), one commit per reading."""
    batch = readings_for(count)
    store = Store(db)

    def run() -> None:
        for item in batch:
            store.add_readings([item])
        store.close()

    return measured(count, run)


def per_row_default_sqlite(db: Path, count: int) -> Written:
    """What a first attempt writes: SQLite's defaults (rollback journal, synchronous=FULL),
    one commit per reading, no index beyond the key."""
    rows = [
        (r.reading.room, r.reading.boot_id, r.reading.seq, r.reading.ts.isoformat(), 19.5, 50.0)
        for r in readings_for(count)
    ]
    conn = sqlite3.connect(db)
    conn.execute(
        "CREATE TABLE readings (room TEXT, boot_id TEXT, seq INTEGER, ts TEXT,"
        " temperature_c REAL, humidity_pct REAL, PRIMARY KEY (room, boot_id, seq))"
    )
    conn.commit()

    def run() -> None:
        for row in rows:
            conn.execute("INSERT INTO readings VALUES (?, ?, ?, ?, ?, ?)", row)
            conn.commit()
        conn.close()

    return measured(count, run)


# --- the report ------------------------------------------------------------------------


def _kb(value: float) -> str:
    return f"{value / 1024:,.2f} KiB" if value >= 1024 else f"{value:,.0f} B"


def render(
    plan: argparse.Namespace,
    info: dict[str, str],
    preload_s: float,
    sub: Drain,
    paho: Drain,
    hub: HubDrain,
    installed: Drain | None,
    per_row: Written,
    default_sqlite: Written,
    took_s: float,
) -> str:
    rate = hub.drain.rate
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

    row("mosquitto_sub drain rate", f"{sub.rate:,.0f}/s")
    row("bare paho drain rate", f"{paho.rate:,.0f}/s")
    row(
        "hub store rate (ack after commit)",
        f"{rate:,.0f}/s",
        f"mosquitto_sub {sub.rate:,.0f}/s",
        f"{rate / sub.rate:.2f}×",
        f"≥ {RATE_VS_MOSQUITTO_SUB:.2f}×",
        rate / sub.rate >= RATE_VS_MOSQUITTO_SUB,
    )
    row(
        "hub store rate (ack after commit)",
        f"{rate:,.0f}/s",
        f"bare paho {paho.rate:,.0f}/s",
        f"{rate / paho.rate:.2f}×",
        f"≥ {RATE_VS_PAHO:.1f}×",
        rate / paho.rate >= RATE_VS_PAHO,
    )
    if installed is not None:
        # The hub as users run it; no target: the targets are on the ingest path alone.
        row(
            "  whole hub as installed (monitor on)",
            f"{installed.rate:,.0f}/s",
            f"hub ingest alone {rate:,.0f}/s",
            f"{installed.rate / rate:.2f}×",
        )
    lost = plan.readings - hub.in_db
    row(
        "readings stored (in the database)",
        f"{hub.in_db:,}",
        f"published {plan.readings:,}",
        "",
        "all",
        lost == 0,
    )
    disk = hub.written.per_reading
    row(
        "disk written per stored reading",
        _kb(disk),
        f"commit per row {_kb(per_row.per_reading)}",
        f"{disk / per_row.per_reading:.3f}×",
        f"≤ {DISK_VS_PER_ROW:.1f}×",
        disk <= DISK_VS_PER_ROW * per_row.per_reading,
    )
    row(
        "  the same in write() calls (wchar)",
        _kb(hub.written.wchar_per_reading),
        f"commit per row {_kb(per_row.wchar_per_reading)}",
        f"{hub.written.wchar_per_reading / per_row.wchar_per_reading:.3f}×",
    )
    row(
        "  next to SQLite defaults, per row",
        _kb(disk),
        f"default SQLite {_kb(default_sqlite.per_reading)}",
        f"{disk / default_sqlite.per_reading:.3f}×",
    )
    headers = ("metric", "value", "reference", "ratio", "target", "verdict")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: tuple[str, ...]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    out = [
        "nursery-monitor: ingest benchmark",
        f"date    {info['date']}",
        f"machine {info['cpu']}, {info['os']}",
        f"python  {info['python']}; broker {info['broker']}; all on 127.0.0.1",
        "",
        line(headers),
        line(tuple("-" * w for w in widths)),
        *(line(r) for r in rows),
        "",
        f"backlog: {plan.readings:,} QoS 1 readings published while all three subscribers were "
        f"offline ({plan.readings / preload_s:,.0f}/s to PUBACK); Mosquitto "
        f"max_inflight_messages {plan.broker_inflight}, max_queued_messages unlimited",
        *(
            [
                f"as installed: `nursery hub --config` install-pi's nursery.toml, restarted "
                f"onto the backlog on a broker on install-pi's files: {installed.seconds:.3f} s "
                f"({installed.extra})"
            ]
            if installed is not None
            else []
        ),
        f"timing: mosquitto_sub {sub.seconds:.3f} s ({sub.extra}); bare paho "
        f"{paho.seconds:.3f} s ({paho.extra}); hub {hub.drain.seconds:.3f} s ({hub.drain.extra})",
        f"hub: stored {hub.stored:,}, duplicates {hub.duplicates}, rejected {hub.rejected}, "
        f"{hub.commits} commits (≈{hub.stored / max(1, hub.commits):,.0f} readings each, "
        f"hub.batch_size {HubSettings().batch_size}); wrote {hub.written.write_bytes:,} B "
        f"(write_bytes) / {hub.written.wchar:,} B (wchar) incl. the closing checkpoint",
        f"commit per row: the hub's Store, {per_row.readings:,} readings one commit each; "
        f"default SQLite: {default_sqlite.readings:,} readings, rollback journal, "
        "synchronous=FULL",
        f"run took {took_s:.0f} s",
    ]
    return "\n".join(out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="The hub's sustained store rate draining a QoS 1 backlog, next to "
        "mosquitto_sub and bare paho on the same broker, and disk bytes per stored reading."
    )
    parser.add_argument(
        "--readings", type=int, default=50_000, help="backlog size (default: 50000)"
    )
    parser.add_argument(
        "--broker-inflight",
        type=int,
        default=BROKER_INFLIGHT,
        metavar="N",
        help=f"Mosquitto's max_inflight_messages (default: {BROKER_INFLIGHT}; Mosquitto's own "
        "default is 20)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 10,000 readings, smaller references"
    )
    parser.add_argument(
        "--no-installed",
        action="store_true",
        help="skip the whole hub as installed (a second broker and two hub starts)",
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
        args.readings = min(args.readings, 10_000)
    count = args.readings
    info = machine()
    started = time.monotonic()
    sessions = {"sub": "bench-mosquitto-sub", "paho": "bench-paho", "hub": "bench-hub"}
    topic = reading_topic(BASE, "+")
    try:
        with tempfile.TemporaryDirectory(prefix="nursery-bench-ingest-") as tmp:
            workdir = Path(tmp)
            broker = BacklogMosquitto(workdir, args.broker_inflight)
            broker.start()
            try:
                for client_id in sessions.values():
                    open_session(broker.port, client_id, topic)
                print(f"publishing the backlog: {count:,} readings…", file=sys.stderr)
                _, preload_s = preload(broker.port, count)
                print("draining: mosquitto_sub…", file=sys.stderr)
                sub = drain_mosquitto_sub(broker.port, sessions["sub"], topic, count)
                print("draining: bare paho…", file=sys.stderr)
                paho = drain_paho(broker.port, sessions["paho"], count)
                print("draining: the hub's ingest…", file=sys.stderr)
                hub = drain_hub(broker.port, sessions["hub"], count, workdir / "hub.db")
            finally:
                broker.stop()
            installed = None
            if not args.no_installed:
                print("draining: the whole hub as installed…", file=sys.stderr)
                installed = drain_installed_hub(workdir / "as-installed", count)
            print("disk references: commit per row…", file=sys.stderr)
            per_row = per_row_store(workdir / "per-row.db", 2_000 if args.quick else 10_000)
            default_sqlite = per_row_default_sqlite(
                workdir / "default.db", 500 if args.quick else 2_000
            )
    except (BenchError, OSError, subprocess.SubprocessError) as exc:
        print(f"ingest: cannot run: {exc}", file=sys.stderr)
        return 2
    report = render(
        args,
        info,
        preload_s,
        sub,
        paho,
        hub,
        installed,
        per_row,
        default_sqlite,
        time.monotonic() - started,
    )
    print(report)
    if args.record:
        with args.record.open("a", encoding="utf-8") as out:
            out.write(f"\n## {info['date']}, {info['cpu']}: ingest\n\n```\n{report}\n```\n")
    if args.json:
        write_summary(args.json, "ingest", info, report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
