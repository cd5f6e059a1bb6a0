"""A long recording replayed in parts at once, one process each, joined only where two parts
stand exactly alike, so the result is the one-process replay's to the last push."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import tzinfo
from multiprocessing import get_context
from pathlib import Path
from typing import Final

from hub.config import AlertsSettings
from hub.monitor.rules import ReadingSeen
from hub.preferences import Unit
from hub.replay.engine import Checkpoint, Replay
from hub.replay.sources import ReplayFileError, SourceOptions, in_parts, read_part, read_readings
from mqttlink.rules_settings import RulesSettings

# A part is worth a process from about a week of one room at 10 s; smaller files run whole.
MIN_PART_BYTES: Final = 3 << 20
# A part starts afresh, so its first readings may differ from the replay that came up to it:
# it offers a checkpoint every CHECK_EVERY readings (an hour at 10 s) for the first
# CHECKS of them (two days); the part before goes on reading until one agrees exactly.
CHECK_EVERY: Final = 360
CHECKS: Final = 48


@dataclass(frozen=True, slots=True)
class ReplaySetup:
    """What every part is replayed with: the same as a one-process replay."""

    rules: RulesSettings
    alerts: AlertsSettings
    unit: Unit = "C"
    local_tz: tzinfo | None = None
    options: SourceOptions = field(default_factory=SourceOptions)

    def fresh(self) -> Replay:
        return Replay(self.rules, self.alerts, unit=self.unit, local_tz=self.local_tz)


def default_jobs() -> int:
    """A process per core, at most four (a Pi Zero 2 W has four and 512 MB)."""
    return max(1, min(4, len(os.sched_getaffinity(0))))


def replay_file(
    path: Path,
    setup: ReplaySetup,
    *,
    jobs: int = 1,
    progress: Callable[[int], None] | None = None,
    min_part_bytes: int = MIN_PART_BYTES,
    check_every: int = CHECK_EVERY,
) -> Replay:
    """The whole file replayed and finished. With jobs > 1 a big file is cut into parts
    replayed at once; any part that cannot be joined exactly is replayed on here, and a
    file with an error is replayed in one process, so the error names its line."""
    starts = _part_starts(path, jobs, min_part_bytes)
    if starts is None:
        return _whole(path, setup, progress)
    try:
        return _in_parts(path, setup, starts, check_every, progress)
    except (ReplayFileError, ValueError):
        return _whole(path, setup, progress)


def _whole(path: Path, setup: ReplaySetup, progress: Callable[[int], None] | None) -> Replay:
    replay = setup.fresh()
    _feed(replay, read_readings(path, setup.options), progress, 1)
    replay.finish()
    return replay


def _feed(
    replay: Replay,
    readings: Iterator[tuple[str, ReadingSeen]],
    progress: Callable[[int], None] | None,
    scale: int,
) -> None:
    for room, reading in readings:
        replay.reading(room, reading)
        if progress is not None and replay.readings % 4096 == 0:
            progress(replay.readings * scale)


def _part_starts(path: Path, jobs: int, min_part_bytes: int) -> list[int] | None:
    """Where each part begins (a line's first byte), and the file's end; None: one part."""
    size = path.stat().st_size
    if jobs < 2 or size < 2 * min_part_bytes:
        return None
    first = in_parts(path)
    if first is None:
        return None
    count = min(jobs, size // min_part_bytes)
    starts = [first]
    with path.open("rb") as handle:
        for k in range(1, count):
            handle.seek(first + k * (size - first) // count)
            handle.readline()
            if handle.tell() > starts[-1] and handle.tell() < size:
                starts.append(handle.tell())
    return [*starts, size] if len(starts) > 1 else None


_Result = tuple[Replay, list[Checkpoint]] | None


def _part(path: Path, setup: ReplaySetup, start: int, end: int, check_every: int) -> _Result:
    """One part from a fresh start, with its checkpoints; None when it holds an error (the
    replay that reaches it says which, line and all)."""
    replay = setup.fresh()
    checkpoints: list[Checkpoint] = []
    try:
        for room, reading in read_part(path, setup.options, start, end):
            if replay.readings and replay.readings % check_every == 0 and len(checkpoints) < CHECKS:
                checkpoints.append(replay.checkpoint())
            replay.reading(room, reading)
    except (ReplayFileError, ValueError):
        return None
    return replay, checkpoints


def _in_parts(
    path: Path,
    setup: ReplaySetup,
    starts: list[int],
    check_every: int,
    progress: Callable[[int], None] | None,
) -> Replay:
    parts = len(starts) - 1
    with ProcessPoolExecutor(parts - 1, mp_context=get_context("fork")) as pool:
        later: list[Future[_Result]] = [
            pool.submit(_part, path, setup, starts[k], starts[k + 1], check_every)
            for k in range(1, parts)
        ]
        replay = setup.fresh()
        # While the first part runs here the others run alike, so its progress stands for all.
        _feed(replay, read_part(path, setup.options, starts[0], starts[1]), progress, parts)
        for k in range(1, parts):
            readings = read_part(path, setup.options, starts[k], starts[k + 1])
            replay = _carry_on(replay, _outcome(later[k - 1]), readings, check_every)
            if progress is not None:
                progress(replay.readings)
    replay.finish()
    return replay


def _outcome(future: Future[_Result]) -> _Result:
    try:
        return future.result()
    except BrokenProcessPool:  # its process died (out of memory, say): replayed here instead
        return None


def _carry_on(
    replay: Replay,
    part: _Result,
    readings: Iterator[tuple[str, ReadingSeen]],
    check_every: int,
) -> Replay:
    """Go on through the next part until this replay stands as the part's own did at one of
    its checkpoints, then take the part's replay from there; else replay the part here."""
    checkpoints = part[1] if part is not None else []
    for seen, (room, reading) in enumerate(readings):
        if seen and seen % check_every == 0 and seen // check_every <= len(checkpoints):
            theirs = checkpoints[seen // check_every - 1]
            mine = replay.checkpoint()
            if part is not None and mine.rooms == theirs.rooms:
                return replay.join(mine, part[0], theirs)
        replay.reading(room, reading)
    return replay
