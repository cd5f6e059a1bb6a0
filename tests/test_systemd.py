"""The hub under systemd: READY=1 once serving, WATCHDOG=1 while its loops turn."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import Mosquitto, free_port, wait_until


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

    env = {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
    env.update(
        {
            "NOTIFY_SOCKET": address,
            "WATCHDOG_USEC": "1000000",
            "NURSERY_MQTT__HOST": "127.0.0.1",
            "NURSERY_MQTT__PORT": str(broker.port),
            "NURSERY_MQTT__BASE_TOPIC": base_topic,
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


def test_a_stalled_hub_stops_pinging_so_systemd_restarts_it(tmp_path: Path) -> None:
    from hub.systemd import Watchdog

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
