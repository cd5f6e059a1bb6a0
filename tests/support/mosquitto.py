"""The tests' one Mosquitto launcher: a real broker on 127.0.0.1, configured per test."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from tests.support.ports import free_port
from tests.support.wait import wait_until

# What every test broker runs with unless told otherwise: open to the tests, nothing kept,
# and room for the floods some tests publish.
DEFAULTS: dict[str, str] = {
    "allow_anonymous": "true",
    "persistence": "false",
    "max_queued_messages": "100000",
}

# Cleared by tests/conftest.py for a test without the `broker` marker, so a broker started
# by a test the marker missed fails it rather than slowing the fast run down.
allowed = True


def executable() -> str:
    """Debian's mosquitto, or a clear failure naming the package."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed: apt-get install mosquitto (.ci/run does)")
    return exe


class Mosquitto:
    """A mosquitto process listening on 127.0.0.1:`port`, started and stopped by the tests.

    `options` add to or replace the DEFAULTS lines; `persistent` saves sessions and retained
    messages every second; `config_file` runs a file written elsewhere (the installer's)
    as it is. Subclasses add listeners or files through `config()` and `prepare()`.
    """

    def __init__(
        self,
        workdir: Path,
        port: int | None = None,
        *,
        options: Mapping[str, object] | None = None,
        persistent: bool = False,
        config_file: Path | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "mosquitto.log"
        self.config_file = config_file
        self.options = dict(DEFAULTS)
        if persistent:
            self.options.update(
                persistence="true",
                persistence_location=f"{workdir}/",
                autosave_interval="1",
            )
            if os.geteuid() == 0:
                # Run as root, Mosquitto switches to the `mosquitto` user, which cannot
                # write the test's directory: stay root.
                self.options["user"] = "root"
        self.options.update({key: str(value) for key, value in (options or {}).items()})

    def config(self) -> str:
        """The configuration file's text: the options, then one plain listener."""
        lines = [f"{key} {value}" for key, value in self.options.items()]
        return "\n".join([*lines, f"listener {self.port} 127.0.0.1", ""])

    def prepare(self) -> None:
        """Write what the configuration refers to (password file, ACL) before a start."""

    def start(self) -> None:
        if not allowed:
            pytest.fail("this test starts a Mosquitto: mark it `broker` (pytest.mark.broker)")
        exe = executable()
        conf = self.config_file
        if conf is None:
            self.prepare()
            conf = self.workdir / "mosquitto.conf"
            conf.write_text(self.config())
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [exe, "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._accepting, timeout=10, what=f"mosquitto on port {self.port}")

    def _accepting(self) -> bool:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"mosquitto exited: {self.log.read_text()[-500:]}")
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def reload(self) -> None:
        """SIGHUP, as `systemctl reload mosquitto` sends: re-read logins and ACL."""
        assert self.proc is not None
        mark = self.log.stat().st_size
        self.proc.send_signal(signal.SIGHUP)
        wait_until(
            lambda: "Reloading config" in self.log.read_bytes()[mark:].decode(errors="replace"),
            timeout=5,
            what="mosquitto to reload its configuration",
        )

    def stop(self) -> None:
        """SIGTERM: a persistent broker writes its database on the way out."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """kill -9: whatever was not saved yet is lost."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None
