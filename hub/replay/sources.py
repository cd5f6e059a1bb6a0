"""Readings from a file for the replay: the hub's own export (JSON Lines or CSV), a Home
Assistant history CSV, or a plain CSV of ts,temperature_c,humidity_pct."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from contract.errors import NurseryError
from hub.monitor.rules import ReadingSeen

_HA_GAP = {"unavailable", "unknown", ""}


class ReplayFileError(NurseryError, ValueError):
    """The file is not one the replay reads; the message names the line and what is wrong."""


@dataclass(frozen=True, slots=True)
class SourceOptions:
    """`room`: the name for files that carry none; `ha_interval_s`: how often a Home
    Assistant sensor's held state counts as a reading (it records changes only)."""

    room: str = "nursery"
    temperature_entity: str | None = None
    humidity_entity: str | None = None
    ha_interval_s: float = 60.0


class _Line:
    """Where a value came from ("FILE: line N"), put into words only when an error names it
    (a year's file has three million lines)."""

    __slots__ = ("number", "path")

    def __init__(self, path: Path, number: int) -> None:
        self.path, self.number = path, number

    def __str__(self) -> str:
        return f"{self.path}: line {self.number}"


def _time(text: Any, where: object) -> datetime:
    try:
        value = datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    except ValueError:
        raise ReplayFileError(f"{where}: {text!r} is not an ISO date and time") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _number(text: Any, where: object, name: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        raise ReplayFileError(f"{where}: {name} {text!r} is not a number") from None


def _reading(row: dict[str, Any], where: object, room: str) -> tuple[str, ReadingSeen]:
    if row.get("ts") in (None, ""):
        raise ReplayFileError(f"{where}: no ts")
    ts = _time(row["ts"], where)
    received = _time(row["received_at"], where) if row.get("received_at") else ts
    seq = row.get("seq")
    return str(row.get("room") or room), ReadingSeen(
        ts,
        received,
        _number(row.get("temperature_c"), where, "temperature_c"),
        _number(row.get("humidity_pct"), where, "humidity_pct"),
        boot_id=str(row["boot_id"]) if row.get("boot_id") else None,
        seq=int(seq) if seq not in (None, "") else None,
    )


def read_readings(path: Path, options: SourceOptions) -> Iterator[tuple[str, ReadingSeen]]:
    """(room, reading) in the file's order; ReplayFileError on a file it cannot read."""
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise ReplayFileError(f"cannot read {path}: {exc.strerror or exc}") from None
    with handle:
        first = handle.readline()
        handle.seek(0)
        if first.lstrip().startswith("{"):
            yield from _jsonl(handle, path, options)
            return
        header = [c.strip() for c in next(csv.reader([first]), [])]
        if {"entity_id", "state", "last_changed"} <= set(header):
            yield from _home_assistant(handle, path, options)
        elif {"ts", "temperature_c", "humidity_pct"} <= set(header):
            yield from _csv(handle, path, options)
        else:
            raise ReplayFileError(
                f"{path}: line 1: not a file the replay reads: expected the hub's export, a "
                "Home Assistant history CSV (entity_id,state,last_changed) or a CSV with "
                "ts,temperature_c,humidity_pct"
            )


def in_parts(path: Path) -> int | None:
    """Where the readings of a file that can be read in parts begin (after a CSV's header),
    or None: JSON Lines, and the hub's or a plain CSV without quotes (a quoted field may
    hold a line break). A Home Assistant history is sorted whole, so it is read whole."""
    with path.open("rb") as handle:
        first = handle.readline()
        if first.lstrip().startswith(b"{"):
            return 0
        header = {c.strip() for c in next(csv.reader([first.decode("utf-8")]), [])}
        if not {"ts", "temperature_c", "humidity_pct"} <= header or b'"' in first:
            return None
        if any(b'"' in block for block in iter(lambda: handle.read(1 << 20), b"")):
            return None
        return len(first)


def read_part(
    path: Path, options: SourceOptions, start: int, end: int
) -> Iterator[tuple[str, ReadingSeen]]:
    """The readings of the lines from byte `start` (a line's first) up to `end`, of a file
    in_parts() accepts. Line numbers in errors count from the part's start."""
    with path.open("rb") as handle:
        first = handle.readline().decode("utf-8")
        lines = _lines_between(handle, start, end)
        if first.lstrip().startswith("{"):
            yield from _jsonl(lines, path, options)
        else:
            yield from _csv(chain([first], lines), path, options)


def _lines_between(handle: BinaryIO, start: int, end: int) -> Iterator[str]:
    """Lines from `start` to `end`, read a MiB at a time (a part may be 100 MB)."""
    handle.seek(start)
    left, rest = end - start, b""
    while left > 0:
        block = handle.read(min(1 << 20, left))
        if not block:
            break
        left -= len(block)
        data = rest + block
        cut = data.rfind(b"\n") + 1
        rest = data[cut:]
        yield from data[:cut].decode("utf-8").split("\n")[:-1]
    if rest:
        yield rest.decode("utf-8")


def _jsonl(
    handle: Iterable[str], path: Path, options: SourceOptions
) -> Iterator[tuple[str, ReadingSeen]]:
    for number, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        where = _Line(path, number)
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplayFileError(f"{where}: not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise ReplayFileError(f"{where}: not a JSON object")
        if row.get("record", "reading") == "reading":
            yield _reading(row, where, options.room)


def _csv(
    handle: Iterable[str], path: Path, options: SourceOptions
) -> Iterator[tuple[str, ReadingSeen]]:
    rows = csv.reader(handle)
    header = next(rows, [])
    for number, values in enumerate(rows, start=2):
        row = dict(zip(header, values, strict=False))  # as csv.DictReader, a third faster
        if values and row.get("record", "reading") in ("reading", None, ""):
            yield _reading(row, _Line(path, number), options.room)


def _home_assistant(
    handle: TextIO, path: Path, options: SourceOptions
) -> Iterator[tuple[str, ReadingSeen]]:
    """Home Assistant records a sensor's changes only: the value holds until the next
    change, so it is read every ha_interval_s until then; `unavailable` is a gap."""
    series: dict[str, list[tuple[datetime, float | None]]] = {}
    for number, row in enumerate(csv.DictReader(handle), start=2):
        where = _Line(path, number)
        state = (row.get("state") or "").strip()
        value = None if state.lower() in _HA_GAP else _number(state, where, "state")
        entity = (row.get("entity_id") or "").strip()
        series.setdefault(entity, []).append((_time(row.get("last_changed"), where), value))
    temperature = _entity(series, options.temperature_entity, "temp", path)
    humidity = _entity(series, options.humidity_entity, "humid", path)
    changes = sorted(series[temperature], key=lambda change: change[0])  # stable on ties
    humid = sorted(series[humidity], key=lambda change: change[0])
    step = timedelta(seconds=options.ha_interval_s)
    h_index, h_value = 0, None
    end = max(changes[-1][0], humid[-1][0]) if humid else changes[-1][0]
    for index, (at, value) in enumerate(changes):
        until = changes[index + 1][0] if index + 1 < len(changes) else end + step
        while value is not None and at < until:
            while h_index < len(humid) and humid[h_index][0] <= at:
                h_value = humid[h_index][1]
                h_index += 1
            if h_value is not None:
                yield options.room, ReadingSeen(at, at, value, h_value)
            at += step


def _entity(
    series: dict[str, list[tuple[datetime, float | None]]],
    chosen: str | None,
    hint: str,
    path: Path,
) -> str:
    if chosen is not None:
        if chosen not in series:
            raise ReplayFileError(f"{path}: no rows for entity {chosen}")
        return chosen
    matches = [name for name in series if hint in name.lower()]
    if len(matches) != 1:
        kind = "temperature" if hint == "temp" else "humidity"
        raise ReplayFileError(
            f"{path}: cannot tell which entity is the {kind} ({', '.join(matches) or 'none'}):"
            f" name it with --{kind}-entity"
        )
    return matches[0]
