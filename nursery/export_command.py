"""`nursery export`: the hub's readings and alerts (episodes only when asked) as JSON Lines
or CSV, read from hub.db read-only so it is safe beside the running hub; docs/export.md."""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from hub.messages.export import HEALTH_WARNING
from hub.store.export import ALERT_FIELDS, READING_FIELDS, ExportFilter, HistoryReader, Row
from nursery.config import Settings
from nursery.progress import Progress, wanted


@contextmanager
def _private_output(out: Path | None) -> Iterator[TextIO]:
    """`out`, created 0600 before a byte is written (or stdout)."""
    if out is None:
        yield sys.stdout
        return
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # an existing file keeps its mode through O_CREAT
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
        yield handle


def _jsonl(handle: TextIO, records: Iterable[tuple[str, Row]]) -> None:
    for kind, row in records:
        handle.write(json.dumps({"record": kind, **row}, ensure_ascii=False) + "\n")


def _csv(handle: TextIO, records: Iterable[tuple[str, Row]], extra: list[str]) -> None:
    columns = list(dict.fromkeys(["record", *READING_FIELDS, *ALERT_FIELDS, *extra]))
    writer = csv.DictWriter(handle, columns, extrasaction="raise")
    writer.writeheader()
    for kind, row in records:
        writer.writerow({"record": kind, **row})


def run_export(settings: Settings, args: argparse.Namespace) -> int:
    where = ExportFilter(args.room, args.since, args.until)
    try:
        reader = HistoryReader(settings.hub.db)
    except (OSError, sqlite3.Error) as exc:
        print(f"nursery export: cannot read {settings.hub.db}: {exc}", file=sys.stderr)
        return 1
    with reader:
        total = reader.count_readings(where)
        bar = Progress("exporting readings", total, show=wanted(args.progress))
        episodes = list(reader.episodes(where)) if args.episodes else []
        if args.episodes:
            print(f"nursery export: {HEALTH_WARNING}", file=sys.stderr)

        def records() -> Iterator[tuple[str, Row]]:
            yield from (("reading", r) for r in reader.readings(where, bar.update))
            yield from (("alert", a) for a in reader.alerts(where))
            yield from (("episode", e) for e in episodes)

        try:
            with _private_output(args.out) as handle:
                if args.format == "csv":
                    extra = list(episodes[0]) if episodes else []
                    _csv(handle, records(), extra)
                else:
                    _jsonl(handle, records())
        except OSError as exc:
            print(f"nursery export: cannot write {args.out}: {exc}", file=sys.stderr)
            return 1
        finally:
            bar.close()
    if args.out is not None:
        print(f"nursery export: {total} readings written to {args.out}", file=sys.stderr)
    return 0
