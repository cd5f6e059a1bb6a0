"""The tests' one process helper: a `nursery` subcommand run as a user runs it."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from tests.support.env import settings_env


class NurseryProcess:
    """`python -m nursery <command> [args]` in `workdir` (so no ./nursery.toml of the
    caller's is read), its settings only from `env`, its output appended to <command>.log.

    Started at once; `start()` again after `stop()` or `kill()` runs it anew (a restart).
    """

    def __init__(self, workdir: Path, command: str, env: dict[str, str], *args: str) -> None:
        self.workdir, self.command, self.env, self.args = workdir, command, env, args
        self.log = workdir / f"{command}.log"
        self.proc = self._spawn()

    def _spawn(self) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "nursery", self.command, *self.args],
                env=settings_env(self.env),
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def start(self) -> None:
        assert not self.alive, f"{self.command} is running already"
        self.proc = self._spawn()

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """kill -9: no goodbye, nothing flushed."""
        self.proc.kill()
        self.proc.wait(10)

    def stop(self, timeout: float = 20) -> int:
        """SIGTERM, as systemd stops a service; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def finish(self) -> str:
        """Stop, require a clean exit, and return everything the process wrote."""
        assert self.stop() == 0, self.output()[-3000:]
        return self.output()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
