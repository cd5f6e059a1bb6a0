"""Tell systemd the hub is ready and still alive (Type=notify, WatchdogSec=).

The watchdog ping is sent only while the hub's own loops are turning, so a hub that hangs
(a stuck writer thread, a dead ticker) is restarted by systemd instead of looking alive.
Standard library only: the protocol is one datagram to $NOTIFY_SOCKET.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping

log = logging.getLogger("nursery.hub.systemd")


def notify(message: str, environ: Mapping[str, str] | None = None) -> bool:
    """Send one sd_notify message; False when not run by systemd (or it failed)."""
    address = (environ or os.environ).get("NOTIFY_SOCKET")
    if not address:
        return False
    if address.startswith("@"):
        address = "\0" + address[1:]  # an abstract socket
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.connect(address)
            sock.sendall(message.encode())
    except OSError as exc:
        log.warning("cannot notify systemd (%s)", exc)
        return False
    return True


class Watchdog:
    """Pings systemd at half the watchdog interval while `alive()` says the hub works."""

    def __init__(self, alive: Callable[[], bool], environ: Mapping[str, str] | None = None):
        env = environ or os.environ
        self._alive = alive
        self._env = env
        usec = env.get("WATCHDOG_USEC", "")
        self.interval_s = int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 else None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        if self.interval_s is not None and self._env.get("NOTIFY_SOCKET"):
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        assert self.interval_s is not None
        while not self._stop.wait(self.interval_s):
            if self._alive():
                notify("WATCHDOG=1", self._env)
            else:
                log.error("hub loops stalled: not pinging the systemd watchdog")
