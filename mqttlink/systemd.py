"""Tell systemd a service is ready and still alive (Type=notify, WatchdogSec=)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger("mqttlink.systemd")


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


def ping_every_s(environ: Mapping[str, str]) -> float | None:
    """Half the watchdog interval systemd asked for; None when no watchdog watches this
    process (no $NOTIFY_SOCKET, no $WATCHDOG_USEC, or $WATCHDOG_PID names another one)."""
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not environ.get("NOTIFY_SOCKET") or not usec.isdigit() or int(usec) == 0:
        return None
    if pid and pid != str(os.getpid()):
        return None
    return int(usec) / 2_000_000


class Watchdog:
    """Pings systemd at half the watchdog interval while `alive()` says the hub works."""

    def __init__(self, alive: Callable[[], bool], environ: Mapping[str, str] | None = None):
        env = environ or os.environ
        self._alive = alive
        self._env = env
        self.interval_s = ping_every_s(env)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        if self.interval_s is not None:
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


class LoopWatchdog:
    """Pings systemd from the loop it watches, not from a thread beside it.

    The loop calls `turned()` at the end of every turn: the first says READY=1 (the loop
    runs and has tried its work once), and a ping goes out at most every half interval.
    A turn that never ends (a sensor read that hangs) sends nothing more, so systemd kills
    and restarts the process one WatchdogSec after the last ping; no thread can keep a
    hung loop looking alive. Every turn must therefore end within WatchdogSec.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._env = environ or os.environ
        self._clock = clock
        self.interval_s = ping_every_s(self._env)
        self._ready = False
        self._next_ping: float | None = None

    def turned(self) -> None:
        """One turn of the loop ended."""
        if not self._ready:
            self._ready = True
            notify("READY=1", self._env)
        if self.interval_s is None:
            return
        now = self._clock()
        if self._next_ping is None or now >= self._next_ping:
            self._next_ping = now + self.interval_s
            notify("WATCHDOG=1", self._env)

    def stopping(self) -> None:
        """The loop ended: a clean stop, not a hang."""
        notify("STOPPING=1", self._env)
