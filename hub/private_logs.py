"""What the hub's log may hold: no secrets, and one line per record whatever a device sends."""

from __future__ import annotations

import logging
import unicodedata
from typing import Final

CHATTY_LOGGERS: Final = ("apprise", "urllib3")
# Loggers whose records never reach the hub's log handlers (see above).
SILENCED_LOGGERS: Final = ("apprise",)
_ESCAPES: Final = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}
# Control, format (bidi overrides, zero-width), line and paragraph separator characters.
_UNSAFE_CATEGORIES: Final = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _shown(char: str) -> str:
    if char in _ESCAPES:  # a backslash too, so text cannot pass off an escape as ours
        return _ESCAPES[char]
    if unicodedata.category(char) not in _UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, limit: int = 200) -> str:
    """`text` from a device, for one log line: control and invisible characters escaped
    (`\\n`, `\\x1b`, `\\u202e`), at most `limit` characters of it."""
    shown = "".join(_shown(char) for char in text[:limit])
    return shown + ("…" if len(text) > limit else "")


def keep_secrets_out_of_logs() -> None:
    """Hold the chatty loggers at WARNING, and keep Apprise's records out of the hub's
    log. Apprise's per-send capture hangs its handler on the `apprise` logger itself, so
    `result.logs()` still sees them."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in SILENCED_LOGGERS:
        silenced = logging.getLogger(name)
        silenced.propagate = False
        if not silenced.handlers:  # else Python's last-resort handler prints to stderr
            silenced.addHandler(logging.NullHandler())
