"""Log lines for a terminal, or for the systemd journal: there, no timestamp of our own
(journald stamps every line) and a syslog priority on each line, so `journalctl -p` works."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import TextIO

TERMINAL_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JOURNAL_FORMAT = "%(levelname)s %(name)s: %(message)s"

# sd-daemon(3)'s <N> prefixes: what journald files a line under, and `journalctl -p` reads.
PRIORITIES = {
    logging.CRITICAL: 2,
    logging.ERROR: 3,
    logging.WARNING: 4,
    logging.INFO: 6,
    logging.DEBUG: 7,
}


def syslog_priority(levelno: int) -> int:
    """The syslog priority of a logging level; one between two takes the milder (9 → 7)."""
    return next(
        (
            priority
            for level, priority in sorted(PRIORITIES.items(), reverse=True)
            if levelno >= level
        ),
        7,
    )


def writes_to_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when `stream` is the journal's own: systemd sets JOURNAL_STREAM to its
    device:inode. Compared, not just present, because a child started from the service
    with its output piped elsewhere inherits the variable."""
    value = (os.environ if environ is None else environ).get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not (device.isdigit() and inode.isdigit()):
        return False
    try:
        status = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return (status.st_dev, status.st_ino) == (int(device), int(inode))


class JournalFormatter(logging.Formatter):
    """Each line, a traceback's too, starts with the record's priority: journald reads the
    prefix per line, so a traceback is an error all the way down, not info after its first."""

    def __init__(self) -> None:
        super().__init__(JOURNAL_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{syslog_priority(record.levelno)}>"
        return "\n".join(prefix + line for line in super().format(record).splitlines())


def log_handler(stream: TextIO, environ: Mapping[str, str] | None = None) -> logging.Handler:
    """A handler for `stream` in the format its reader wants."""
    handler = logging.StreamHandler(stream)
    if writes_to_journal(stream, environ):
        handler.setFormatter(JournalFormatter())
    else:
        handler.setFormatter(logging.Formatter(TERMINAL_FORMAT))
    return handler
