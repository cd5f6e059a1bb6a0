"""`nursery demo` from the outside: it prints a URL, the dashboard fills with live readings,
and Ctrl-C stops every process it started; so do a closed terminal (SIGHUP), SIGTERM and
even SIGKILL of the demo. The dashboard's port is the one asked for, or the demo says why
not. Real processes throughout; every wait is on a condition with a timeout."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.support import free_port, wait_until, without_settings


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.mark.slow
@pytest.mark.parametrize(
    "broker", [pytest.param("mosquitto", marks=pytest.mark.broker), "embedded"]
)
def test_demo_shows_live_readings_and_stops_cleanly(tmp_path: Path, broker: str) -> None:
    http_port = free_port()
    env = without_settings()
    env["PYTHONUNBUFFERED"] = "1"
    # A setting left in the shell, in any case (settings are read in any case), must not
    # reach the demo's own processes: here it would point them at a dead broker.
    env["nursery_mqtt__port"] = "1"
    # Nor may a settings file of the user's, which the search would find, nor one named:
    # this one would stop the demo's hub with a bad setting.
    theirs = tmp_path / "xdg/nursery-monitor/nursery.toml"
    theirs.parent.mkdir(parents=True)
    theirs.write_text("[hub]\nhttp_prot = 80\n")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    env["NURSERY_CONFIG"] = str(theirs)
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


# --- the demo's parts end with it; its port is the one asked for --------------------------


@dataclass
class RunningDemo:
    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    parts: dict[int, str] = field(default_factory=dict)  # pid -> command line

    def output(self) -> str:
        return "".join(self.lines)

    def url(self) -> str:
        def printed() -> str | None:
            found = next(
                (m.group(1) for line in self.lines if (m := re.search(r"Open (\S+)", line))), None
            )
            if found is None and self.proc.poll() is not None:
                raise AssertionError(f"the demo exited ({self.proc.returncode}): {self.output()}")
            return found

        url = wait_until(printed, timeout=60, what="the demo to print its URL")
        self.parts = _children(self.proc.pid)
        return str(url)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[Callable[..., RunningDemo]]:
    started: list[RunningDemo] = []

    def start(*args: str) -> RunningDemo:
        env = without_settings()
        env["PYTHONUNBUFFERED"] = "1"
        proc = subprocess.Popen(
            [sys.executable, "-m", "nursery", "demo", "--broker", "mosquitto", *args],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        running = RunningDemo(proc)
        threading.Thread(
            target=lambda: running.lines.extend(iter(proc.stdout.readline, "")),  # type: ignore[union-attr]
            daemon=True,
        ).start()
        started.append(running)
        return running

    yield start
    for running in started:
        if running.proc.poll() is None:
            running.proc.kill()
            running.proc.wait(30)
        for pid in running.parts:  # a part that outlived its demo (the bug under test)
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> dict[int, str]:
    """The processes whose parent is `pid`, by pid, with their command line."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found[int(entry.name)] = cmdline
    return found


def _alive(pid: int) -> bool:
    """Running, not gone and not a zombie waiting for a parent to reap it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.slow
@pytest.mark.broker
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("how", ["SIGHUP", "SIGTERM", "SIGKILL"])
def test_the_demos_parts_end_with_it(demo: Callable[..., RunningDemo], how: str) -> None:
    """A closed terminal (SIGHUP), a plain kill and kill -9 of the demo: broker, hub and
    firmware all stop, none is left holding the port for the next demo."""
    http_port = free_port()
    running = demo("--http-port", str(http_port), "--interval", "0.3")
    url = running.url()
    parts = running.parts
    words = " ".join(parts.values())
    assert len(parts) == 3, parts
    assert "mosquitto" in words and " hub " in words and " firmware " in words, parts
    assert _listening(http_port)

    running.proc.send_signal(getattr(signal, how))
    code = running.proc.wait(30)
    wait_until(
        lambda: not any(_alive(pid) for pid in parts),
        timeout=30,
        what=f"every part of the demo to stop after {how}: {parts}",
    )
    assert not _listening(http_port), f"{url} still answers after {how}"
    if how != "SIGKILL":
        assert code == 0, running.output()
        assert "Stopping the demo" in running.output()
        assert "Traceback" not in running.output()


@pytest.mark.broker
def test_a_busy_http_port_stops_the_demo_with_one_line(demo: Callable[..., RunningDemo]) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        running = demo("--http-port", str(port))
        code = running.proc.wait(30)
        wait_until(lambda: running.lines, what="the demo's message")
    output = running.output()
    assert code == 1, output
    assert output.strip().splitlines() == [
        f"nursery demo: port {port} on 127.0.0.1 is in use by another program; "
        "choose a free one with --http-port N"
    ]


@pytest.mark.broker
def test_a_port_in_time_wait_is_used_as_asked(demo: Callable[..., RunningDemo]) -> None:
    """A demo just stopped leaves its port in TIME_WAIT for a minute; the next demo with
    the same --http-port gets that port, as uvicorn (SO_REUSEADDR) can listen on it."""
    with socket.socket() as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        client = socket.create_connection(("127.0.0.1", port))
        conn, _ = server.accept()
        conn.close()  # the server closes first: its side waits in TIME_WAIT
        client.recv(1)
        client.close()
    with socket.socket() as probe, pytest.raises(OSError):
        probe.bind(("127.0.0.1", port))  # only TIME_WAIT is left, and a plain bind fails

    running = demo("--http-port", str(port), "--interval", "0.3")
    assert running.url() == f"http://127.0.0.1:{port}/"
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    running.proc.send_signal(signal.SIGINT)
    assert running.proc.wait(30) == 0, running.output()
