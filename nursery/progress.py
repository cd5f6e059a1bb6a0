"""A progress line on stderr for the long commands (export, replay): only on a terminal,
or when asked, so scripts and logs stay clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`update(done)` redraws at most every 0.2 s; `close()` ends the line."""

    def __init__(self, what: str, total: int | None, *, show: bool, out: TextIO | None = None):
        self._what = what
        self._total = total
        self._out = out or sys.stderr
        self._show = show
        self._drawn_at = 0.0
        self._drawn = False

    def update(self, done: int) -> None:
        if not self._show:
            return
        now = time.monotonic()
        if now - self._drawn_at < 0.2:
            return
        self._drawn_at = now
        if self._total:
            share = min(1.0, done / self._total)
            bar = "#" * int(share * 30)
            text = f"\r{self._what} [{bar:<30}] {share:4.0%} {done:,}/{self._total:,}"
        else:
            text = f"\r{self._what} {done:,}"
        self._out.write(text)
        self._out.flush()
        self._drawn = True

    def close(self) -> None:
        if self._drawn:
            self._out.write("\n")
            self._out.flush()


def wanted(flag: bool) -> bool:
    """A progress bar when asked (`--progress`) or when stderr is a terminal."""
    return flag or sys.stderr.isatty()
