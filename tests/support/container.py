"""The container image's entrypoint run without an engine: as a non-root user, on a
folder standing in for the data volume."""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import ReadingMessage, StoredMessage, new_boot_id
from contract.topics import reading_topic, stored_topic
from tests.support.env import settings_env
from tests.support.paths import ROOT

# Who the entrypoint runs as when the tests run as root (as CI does): `nobody`, as an
# image's own user would be, with a volume of its own.
NOBODY = 65534


# The image's interpreter is Debian's; so is this one when the tests' own sits where the
# image's user cannot reach it (pyenv under /root), with the tests' packages on its path.
DEBIAN_PYTHON = "/usr/bin/python3"


def as_user() -> int:
    return NOBODY if os.geteuid() == 0 else os.geteuid()


@contextmanager
def volume() -> Iterator[Path]:
    """An empty folder the entrypoint's user owns (outside pytest's 0700 tmp folders, so
    that user can reach it), removed afterwards."""
    path = Path(tempfile.mkdtemp(prefix="nursery-volume-"))
    try:
        os.chown(path, as_user(), as_user())
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
        for log in path.parent.glob(f"{path.name}-*.log"):
            log.unlink()


class Entrypoint:
    """`python -m nursery.container --data VOLUME <args>`, as the image runs it."""

    def __init__(self, data: Path, env: Mapping[str, str], *args: str, root: bool = False):
        self.log = data.parent / f"{data.name}-{args[0]}.log"
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [_python(root), "-m", "nursery.container", "--data", str(data), *args],
                env=settings_env(env, PYTHONDONTWRITEBYTECODE="1", **_python_path(root)),
                cwd="/",
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, to end with its children
                user=NOBODY if _switches(root) else None,
                group=NOBODY if _switches(root) else None,
                extra_groups=[] if _switches(root) else None,
            )

    def __enter__(self) -> Entrypoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()

    def kill(self) -> None:
        """SIGKILL to the entrypoint and what it started (a failed test's: nothing outlives
        it); a no-op once it has stopped with its children."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def _switches(root: bool) -> bool:
    return not root and os.geteuid() == 0


def _python(root: bool) -> str:
    if not _switches(root):
        return sys.executable
    if not Path(DEBIAN_PYTHON).exists():
        pytest.skip(f"running as root, and {DEBIAN_PYTHON} (apt-get install python3) is missing")
    return DEBIAN_PYTHON


def _python_path(root: bool) -> dict[str, str]:
    if not _switches(root):
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(ROOT), sysconfig.get_paths()["purelib"]])}


def run(data: Path, env: Mapping[str, str], *args: str, root: bool = False) -> tuple[int, str]:
    """Run the entrypoint to its end: (exit status, everything it wrote)."""
    with Entrypoint(data, env, *args, root=root) as entry:
        code: int = entry.proc.wait(60)
    text = entry.output()
    entry.log.unlink()
    return code, text


class PiLogin:
    """A room's Pi on the container's broker with the login `add-device` printed: it
    publishes readings and hears the hub's receipts. It subscribes on each accepted connect,
    so a first try the broker refuses (it has not read the new login yet) is retried."""

    def __init__(self, port: int, added: str, base: str, room: str) -> None:
        lines = dict(line.split(": ", 1) for line in added.splitlines() if ": " in line)
        self.login, self.password = lines["login"], lines["password"]
        self.base, self.room = base, room
        self.receipts: queue.Queue[StoredMessage] = queue.Queue()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.login)
        self.client.username_pw_set(self.login, self.password)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        self.client.on_message = lambda c, u, m: self.receipts.put(
            StoredMessage.decode(bytes(m.payload))
        )
        self.client.connect_async("127.0.0.1", port)
        self.client.loop_start()

    def _on_connect(
        self, client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any
    ) -> None:
        if not reason.is_failure:
            client.subscribe(stored_topic(self.base, self.room), qos=1)

    def send_reading(self, temperature_c: float) -> ReadingMessage:
        """Publish one reading once the broker took the login, and wait for the hub's
        receipt that it is on disk."""
        assert self.subscribed.wait(30), "the broker never accepted the Pi's login"
        reading = ReadingMessage(
            self.room, new_boot_id(), 0, datetime.now(UTC), temperature_c, 50.0
        )
        self.client.publish(
            reading_topic(self.base, self.room), reading.encode(), qos=1
        ).wait_for_publish(5)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                receipt = self.receipts.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if receipt.boots.get(reading.boot_id) == 0:
                return reading
        raise AssertionError("no receipt from the hub for the reading")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
