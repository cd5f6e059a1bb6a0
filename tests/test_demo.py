"""`nursery demo` from the outside: it prints a URL, the dashboard fills with live readings,
and Ctrl-C stops every process it started."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import free_port, wait_until


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("broker", ["mosquitto", "embedded"])
def test_demo_shows_live_readings_and_stops_cleanly(tmp_path: Path, broker: str) -> None:
    http_port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
    env["PYTHONUNBUFFERED"] = "1"
    # A setting left in the shell, in any case (settings are read in any case), must not
    # reach the demo's own processes: here it would point them at a dead broker.
    env["nursery_mqtt__port"] = "1"
    started = time.monotonic()
    demo = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nursery",
            "demo",
            "--http-port",
            str(http_port),
            "--broker",
            broker,
            "--interval",
            "0.3",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    reader = threading.Thread(
        target=lambda: lines.extend(iter(demo.stdout.readline, "")),  # type: ignore[union-attr]
        daemon=True,
    )
    reader.start()

    def printed_url() -> str | None:
        url = next((m.group(1) for line in lines if (m := re.search(r"Open (\S+)", line))), None)
        if url is None and demo.poll() is not None:
            reader.join(5)
            raise AssertionError(f"the demo exited ({demo.returncode}): {''.join(lines)}")
        return url

    try:
        url = wait_until(printed_url, timeout=60, what="the demo to print its URL")
        assert time.monotonic() - started < 60
        assert url == f"http://127.0.0.1:{http_port}/"
        broker_port = int(
            next(m.group(1) for line in lines if (m := re.search(r"127\.0\.0\.1:(\d+)…", line)))
        )
        assert any(
            ("mosquitto" if broker == "mosquitto" else "built-in Python broker") in line
            for line in lines
        )
        # The demo signs the visitor in as its demo caregiver, with no password.
        browser = httpx.Client(follow_redirects=True, timeout=5)
        page = browser.get(url)
        assert page.status_code == 200
        assert str(page.url) == url
        assert "Nursery monitor" in page.text
        assert browser.get(url + "api/auth/me").json()["demo"] is True
        assert httpx.get(url + "api/rooms", timeout=5).status_code == 401, "only the browser"

        def latest_seq() -> int:
            rooms = browser.get(url + "api/rooms").json()
            return rooms[0]["latest"]["seq"] if rooms and rooms[0]["latest"] else -1

        first = latest_seq()
        assert first >= 0, "the demo said it was running before the first reading arrived"
        wait_until(lambda: latest_seq() > first + 2, timeout=30, what="new readings (live)")
        assert browser.get(url + "api/rooms").json()[0]["online"] is True
    finally:
        demo.send_signal(signal.SIGINT)
        code = demo.wait(30)
        reader.join(5)
    assert code == 0, "".join(lines)
    assert "Traceback" not in "".join(lines)
    assert not _listening(http_port), "the hub still listens after Ctrl-C"
    assert not _listening(broker_port), "the broker still listens after Ctrl-C"
