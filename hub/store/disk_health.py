"""Can the hub save? Tells a full or read-only disk from other failures, and keeps the
answer every part reads (ingest, the save alarm, /healthz, the dashboard)."""

from __future__ import annotations

import errno
import os
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

Problem = Literal["full", "read_only", "io"]

# A probe only calls the disk well again with this much free beside a write that worked:
# a write that fits in the last free blocks would otherwise clear the alarm and raise it
# again with the next batch of readings.
FREE_MARGIN_BYTES = 1024 * 1024

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_PROBLEMS: dict[int, Problem] = {
    13: "full",
    8: "read_only",
    10: "io",
}  # FULL, READONLY, IOERR
_OS_PROBLEMS: dict[int, Problem] = {
    errno.ENOSPC: "full",
    errno.EDQUOT: "full",
    errno.EROFS: "read_only",
    errno.EIO: "io",
}
_WORDS: tuple[tuple[str, Problem], ...] = (
    ("database or disk is full", "full"),
    ("readonly database", "read_only"),
    ("read-only file system", "read_only"),
    ("disk i/o error", "io"),
)


def save_problem(exc: BaseException | None) -> Problem | None:
    """Why a write failed, when the cause is the disk under the database (full, read-only,
    failing); None for anything else (a locked file, a bug), which is not the disk's fault.
    Looks through the chain: the store wraps SQLite's errors in its own."""
    seen = 0
    while exc is not None and seen < 8:
        if isinstance(exc, sqlite3.Error):
            code = getattr(exc, "sqlite_errorcode", None)
            if isinstance(code, int) and code & 0xFF in _SQLITE_PROBLEMS:
                return _SQLITE_PROBLEMS[code & 0xFF]
        if isinstance(exc, OSError) and exc.errno in _OS_PROBLEMS:
            return _OS_PROBLEMS[exc.errno]
        text = str(exc).lower()
        for words, problem in _WORDS:
            if words in text:
                return problem
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


@dataclass(frozen=True, slots=True)
class SaveState:
    """The hub cannot save since `since`, because of `problem`; `problem` None: it can."""

    problem: Problem | None = None
    since: datetime | None = None
    detail: str = ""


Observer = Callable[[SaveState], None]


class SaveHealth:
    """Whether the hub's last write reached the disk, shared by every writer (thread-safe).

    A write that fails for the disk's sake marks it failing; the next write that works
    marks it well again. Observers hear of each change (not of each write), outside the
    lock, on the writer's thread: they must not block.
    """

    def __init__(self, clock: Callable[[], datetime], path: Path | None = None) -> None:
        """`path`: the database, whose filesystem tells a read-only disk from a failing
        one (SQLite calls both an I/O error)."""
        self._clock = clock
        self._path = path
        self._state = SaveState()
        self._lock = threading.Lock()
        self._observers: list[Observer] = []

    def observe(self, observer: Observer) -> None:
        self._observers.append(observer)

    @property
    def state(self) -> SaveState:
        return self._state

    @property
    def failing(self) -> bool:
        return self._state.problem is not None

    def check(self, exc: BaseException) -> bool:
        """Record a failed write; True when the disk was the cause (now marked failing)."""
        problem = save_problem(exc)
        if problem is None:
            return False
        if problem == "io" and self._path is not None and read_only(self._path):
            problem = "read_only"
        with self._lock:
            before = self._state
            if before.problem == problem:
                return True
            self._state = SaveState(problem, before.since or self._clock(), str(exc)[:200])
            now = self._state
        self._tell(now)
        return True

    def saved(self) -> None:
        """A write reached the disk: the hub can save again."""
        if self._state.problem is None:
            return
        with self._lock:
            if self._state.problem is None:
                return
            self._state = SaveState()
            now = self._state
        self._tell(now)

    def _tell(self, state: SaveState) -> None:
        for observer in self._observers:
            observer(state)


def read_only(path: Path) -> bool:
    """The filesystem holding `path` is mounted read-only, or turned so after an error
    (ext4's emergency read-only still reads as mounted rw: touching the folder tells)."""
    try:
        if os.statvfs(path.parent).f_flag & os.ST_RDONLY:
            return True
        os.utime(path.parent)
    except OSError as exc:
        return exc.errno == errno.EROFS
    return False


def probe(write: Callable[[], None], path: Path, margin: int = FREE_MARGIN_BYTES) -> None:
    """Write (`write`, a tiny commit) and check the filesystem of `path` has room left;
    raises OSError (ENOSPC, EROFS) or sqlite3.Error when the disk cannot take writes."""
    if read_only(path):
        raise OSError(errno.EROFS, "the filesystem is read-only", str(path))
    write()
    stats = os.statvfs(path.parent)
    if stats.f_bavail * stats.f_frsize < margin:
        raise OSError(errno.ENOSPC, "less than 1 MiB free", str(path))
