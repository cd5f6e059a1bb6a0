"""Libraries that would write secrets into the hub's log are held to warnings, whatever
--log-level says.

At DEBUG, Apprise logs every URL it loads (a push channel's token sits in its path) and
every message it sends (the signed "I'm on it" links), and urllib3 logs each request's
path. The hub's own lines name a channel by `redact_url` instead (hub/notify.py), and
never carry episode notes (docs/security.md lists what the logs never contain).
"""

from __future__ import annotations

import logging
from typing import Final

CHATTY_LOGGERS: Final = ("apprise", "urllib3")


def keep_secrets_out_of_logs() -> None:
    """Hold the chatty loggers at WARNING; their warnings name no URL."""
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
