"""The hub and the firmware under systemd: READY=1 once serving, WATCHDOG=1 while their
loops turn, and no ping from a process whose loop has stopped turning (systemd restarts it).
$NOTIFY_SOCKET is a unix datagram socket the test binds, as systemd's own is."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

import pytest

from mqttlink.systemd import LoopWatchdog
from tests.support import Mosquitto, free_port, wait_until, without_settings
from tests.support.env import mqtt_env


def test_hub_notifies_ready_pings_the_watchdog_and_says_stopping(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(0.1)
    got: list[str] = []

    def receive() -> list[str]:
        with contextlib.suppress(TimeoutError):
            got.append(listener.recv(256).decode())
        return got

    env = without_settings()
    env.update(
        {
            "NOTIFY_SOCKET": address,
            "WATCHDOG_USEC": "1000000",
            **mqtt_env(broker.port, base_topic),
            "NURSERY_HUB__DB": str(tmp_path / "hub.db"),
            "NURSERY_HUB__HTTP_PORT": str(free_port()),
            "NURSERY_HUB__CLIENT_ID": f"sd-{base_topic}"[:23],
        }
    )
    hub = subprocess.Popen(
        [sys.executable, "-m", "nursery", "hub"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_until(lambda: "READY=1" in receive(), timeout=30, what="READY=1")
        wait_until(lambda: receive().count("WATCHDOG=1") >= 2, timeout=10, what="watchdog pings")
    finally:
        hub.send_signal(signal.SIGTERM)
        assert hub.wait(15) == 0
    wait_until(lambda: "STOPPING=1" in receive(), timeout=5, what="STOPPING=1")
    listener.close()


@pytest.mark.slow
def test_a_stalled_hub_stops_pinging_so_systemd_restarts_it(tmp_path: Path) -> None:
    from mqttlink.systemd import Watchdog

    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.settimeout(0.05)
    alive = [True]
    pings: list[str] = []

    def receive() -> int:
        with contextlib.suppress(TimeoutError):
            pings.append(listener.recv(64).decode())
        return len(pings)

    dog = Watchdog(lambda: alive[0], {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "100000"})
    dog.start()
    try:
        wait_until(lambda: receive() >= 3, timeout=5, what="pings while alive")
        alive[0] = False
        settled = len(pings)
        # 20 intervals pass (measured by the watchdog's own clock): no new ping may come.
        wait_until(lambda: dog.interval_s is not None, what="interval")
        for _ in range(20):
            receive()
        assert len(pings) <= settled + 1  # one ping may have been in flight
    finally:
        dog.stop()
        listener.close()


# --- the firmware ------------------------------------------------------------------


class NotifySocket:
    """systemd's side of sd_notify: every datagram, with the (monotonic) time it came."""

    def __init__(self, path: Path) -> None:
        self.address = str(path)
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._sock.bind(self.address)
        self._sock.settimeout(0.05)
        self._lock = threading.Lock()
        self._got: list[tuple[float, str]] = []
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while not self._closed.is_set():
            with contextlib.suppress(TimeoutError):
                message = self._sock.recv(256).decode()
                with self._lock:
                    self._got.append((time.monotonic(), message))

    def messages(self) -> list[str]:
        with self._lock:
            return [message for _, message in self._got]

    def pings(self) -> list[float]:
        """When each WATCHDOG=1 came."""
        with self._lock:
            return [at for at, message in self._got if message == "WATCHDOG=1"]

    def close(self) -> None:
        self._closed.set()
        self._thread.join(5)
        self._sock.close()


class Lines:
    """A process's stderr, read on a thread, each line with the time it was read."""

    def __init__(self, stream: IO[str]) -> None:
        self._lines: list[tuple[float, str]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with self._lock:
                self._lines.append((time.monotonic(), line.rstrip()))

    def first(self, text: str) -> float | None:
        """When the first line containing `text` was read."""
        with self._lock:
            return next((at for at, line in self._lines if text in line), None)


def start_firmware(
    tmp_path: Path, broker: Mosquitto, base_topic: str, notify: NotifySocket, **extra: str
) -> subprocess.Popen[str]:
    env = without_settings()
    env.update(
        {
            "NOTIFY_SOCKET": notify.address,
            **mqtt_env(broker.port, base_topic),
            "NURSERY_FIRMWARE__SENSOR": "simulated",
            "NURSERY_FIRMWARE__INTERVAL_S": "0.2",
            "NURSERY_FIRMWARE__OUTBOX": str(tmp_path / "outbox.db"),
            **extra,
        }
    )
    return subprocess.Popen(
        [sys.executable, "-m", "nursery", "firmware"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_the_firmware_says_ready_after_its_first_read_and_pings_while_its_loop_turns(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    firmware = start_firmware(tmp_path, broker, base_topic, notify, WATCHDOG_USEC="400000")
    try:
        wait_until(lambda: "READY=1" in notify.messages(), timeout=30, what="READY=1")
        wait_until(lambda: len(notify.pings()) >= 5, timeout=10, what="watchdog pings")
        assert notify.messages()[0] == "READY=1", "ready before the first ping"
    finally:
        firmware.send_signal(signal.SIGTERM)
        assert firmware.wait(15) == 0
        notify.close()
    assert notify.messages()[-1] == "STOPPING=1"


@pytest.mark.slow
def test_a_firmware_whose_sensor_read_hangs_stops_pinging_so_systemd_restarts_it(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    notify = NotifySocket(tmp_path / "notify.sock")
    firmware = start_firmware(
        tmp_path,
        broker,
        base_topic,
        notify,
        WATCHDOG_USEC="1000000",  # WatchdogSec=1: a ping every 0.5 s
        NURSERY_FIRMWARE__SCENARIO="hang",
    )
    assert firmware.stderr is not None
    stderr = Lines(firmware.stderr)
    try:
        wait_until(lambda: "READY=1" in notify.messages(), timeout=30, what="READY=1")
        wait_until(lambda: len(notify.pings()) >= 3, timeout=10, what="pings while it reads")
        hung_at = wait_until(
            lambda: stderr.first("this read hangs"), timeout=15, what="the read to hang"
        )

        def silent_for_a_watchdog_interval() -> bool:
            return time.monotonic() - notify.pings()[-1] > 1.0

        # No ping for a whole WatchdogSec: systemd would kill and restart it now.
        wait_until(silent_for_a_watchdog_interval, timeout=10, what="the pings to stop")
        assert firmware.poll() is None, "hung, not ended: only the watchdog can catch it"
        # The last ping came before the hang (give or take the two reader threads).
        late = [at for at in notify.pings() if at > hung_at + 1.0]
        assert late == [], "no ping once the loop stopped turning"
    finally:
        firmware.kill()  # what systemd does to a unit whose watchdog fires (SIGABRT, then KILL)
        firmware.wait(15)
        notify.close()


def test_the_loop_watchdog_pings_from_the_loop_at_half_the_interval(tmp_path: Path) -> None:
    address = str(tmp_path / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(address)
    listener.setblocking(False)

    def received() -> list[str]:
        got = []
        with contextlib.suppress(BlockingIOError):
            while True:
                got.append(listener.recv(64).decode())
        return got

    now = [100.0]
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "10000000"}  # WatchdogSec=10
    dog = LoopWatchdog(env, clock=lambda: now[0])
    assert dog.interval_s == 5.0
    dog.turned()
    assert received() == ["READY=1", "WATCHDOG=1"], "ready once the first turn ends"
    now[0] = 104.9
    dog.turned()
    assert received() == [], "no more than one ping per half interval"
    now[0] = 105.0
    dog.turned()
    assert received() == ["WATCHDOG=1"]
    dog.stopping()
    assert received() == ["STOPPING=1"]
    # Not for this process (systemd names another PID), or no watchdog: READY=1 only.
    for other in ({**env, "WATCHDOG_PID": "1"}, {"NOTIFY_SOCKET": address}):
        quiet = LoopWatchdog(other, clock=lambda: now[0])
        quiet.turned()
        quiet.turned()
        assert quiet.interval_s is None and received() == ["READY=1"]
    listener.close()
