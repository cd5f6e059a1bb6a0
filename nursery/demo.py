"""`nursery demo`: broker, simulated firmware, hub and dashboard on one machine."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from contract.errors import NurseryError
from nursery.config import is_setting_variable

START_TIMEOUT_S = 30.0


class DemoError(NurseryError):
    """A part of the demo could not start; the message says which and what to do."""


@dataclass(frozen=True)
class DemoOptions:
    http_port: int = 8000
    broker: str = "auto"
    scenario: str = "cold-night"
    interval_s: float = 2.0
    log_level: str = "warning"


def port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now.

    With SO_REUSEADDR, as uvicorn and mosquitto bind: a port whose only sockets are in
    TIME_WAIT (a demo just stopped) is free, one something listens on is not.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int) -> int:
    """The preferred port when it is free on 127.0.0.1, else any free one (the broker's:
    the demo prints where it is, and nothing outside the demo needs to know)."""
    if preferred and port_free(preferred):
        return preferred
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _libc() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    with contextlib.suppress(OSError):
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return None


_LIBC = _libc()


def _die_with(parent: int) -> None:
    """In the child before exec: SIGTERM when the demo dies, however it dies (SIGKILL
    too), so no part outlives it. The setting survives exec, but not a change of user
    (see start_broker). If the demo died before this ran, stop now."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def find_mosquitto() -> str | None:
    """mosquitto on PATH, or where Debian puts it (/usr/sbin is not on a user's PATH)."""
    found = shutil.which("mosquitto")
    if found:
        return found
    for candidate in ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _say(message: str) -> None:
    """Print to the demo's terminal, which may be gone (closed window: EIO, EPIPE): the
    demo must still stop its parts then."""
    with contextlib.suppress(OSError, ValueError):
        print(message, flush=True)


def _complain(message: str) -> None:
    with contextlib.suppress(OSError, ValueError):
        print(f"nursery demo: {message}", file=sys.stderr, flush=True)


class Demo:
    """The processes the demo started, stopped in reverse order."""

    def __init__(self, options: DemoOptions) -> None:
        self.options = options
        self.workdir = Path(tempfile.mkdtemp(prefix="nursery-demo-"))
        # The parts read this file, not the one the search would find (the user's, /etc's
        # on a hub): the demo's settings are its own, all in the environment.
        self.config = self.workdir / "nursery.toml"
        self.config.write_text("# nursery demo: every setting is in the environment\n")
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.stop_requested = threading.Event()

    def _spawn(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, quiet: bool = False
    ) -> None:
        output = (self.workdir / f"{name}.log").open("ab") if quiet else None
        parent = os.getpid()
        # Own session: Ctrl-C and the terminal's hang-up reach only the demo, which then
        # stops the parts in order; _die_with covers a demo that cannot (SIGKILL).
        proc = subprocess.Popen(
            argv,
            env=env,
            cwd=self.workdir,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=output,
            start_new_session=True,
            preexec_fn=lambda: _die_with(parent),  # the demo starts no threads
        )
        if output is not None:
            output.close()  # the child keeps its own copy
        self.procs.append((name, proc))

    def _wait_for(self, name: str, ready: object, what: str) -> None:
        """Wait until ready() is true, failing fast when the part's process died."""
        deadline = time.monotonic() + START_TIMEOUT_S
        proc = dict(self.procs)[name]
        while not ready():  # type: ignore[operator]
            if proc.poll() is not None:
                raise DemoError(f"the {name} exited with code {proc.returncode} while {what}")
            if self.stop_requested.is_set():
                raise KeyboardInterrupt
            if time.monotonic() > deadline:
                raise DemoError(f"the {name} did not come up within {START_TIMEOUT_S:g} s")
            time.sleep(0.1)

    def start_broker(self) -> int:
        port = pick_port(1883)
        choice = self.options.broker
        mosquitto = find_mosquitto() if choice in ("auto", "mosquitto") else None
        if choice == "mosquitto" and mosquitto is None:
            raise DemoError("mosquitto is not installed (Debian: apt-get install mosquitto)")
        if mosquitto:
            conf = self.workdir / "mosquitto.conf"
            # Started as root, mosquitto switches to its own user unless told to stay; a
            # change of user would drop the kernel's "stop when the demo dies" (see
            # _die_with). The demo's own user, then: the broker listens on loopback only.
            user = pwd.getpwuid(os.geteuid()).pw_name
            conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser {user}\n")
            _say(f"Starting MQTT broker (mosquitto) on 127.0.0.1:{port}…")
            # Its chatter goes to a file: the demo's terminal is for the user.
            self._spawn("broker", [mosquitto, "-c", str(conf)], quiet=True)
        else:
            try:
                import amqtt  # noqa: F401
            except ImportError:
                raise DemoError(
                    "no MQTT broker: install mosquitto (apt-get install mosquitto) "
                    "or the built-in one (pip install 'nursery-monitor[demo]')"
                ) from None
            _say(f"Starting MQTT broker (built-in Python broker) on 127.0.0.1:{port}…")
            self._spawn(
                "broker", [sys.executable, "-m", "nursery.embedded_broker", "--port", str(port)]
            )

        def accepting() -> bool:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", port), timeout=0.5),
            ):
                return True
            return False

        self._wait_for("broker", accepting, "starting")
        return port

    def _env(self, broker_port: int, **settings: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not is_setting_variable(k)}
        env["NURSERY_MQTT__HOST"] = "127.0.0.1"
        env["NURSERY_MQTT__PORT"] = str(broker_port)
        env.update({f"NURSERY_{key.upper()}": value for key, value in settings.items()})
        return env

    def _command(self, name: str) -> list[str]:
        return [
            sys.executable,
            "-m",
            "nursery",
            name,
            "--config",
            str(self.config),
            "--log-level",
            self.options.log_level,
        ]

    def check_http_port(self) -> None:
        """The dashboard's port is the one asked for, or the demo stops and says so: a
        bookmark or a phone must not find some other program there."""
        port = self.options.http_port
        if not port_free(port):
            raise DemoError(
                f"port {port} on 127.0.0.1 is in use by another program; "
                "choose a free one with --http-port N"
            )

    def start_hub(self, broker_port: int) -> str:
        http_port = self.options.http_port
        env = self._env(
            broker_port,
            hub__db=str(self.workdir / "demo.db"),
            hub__http_host="127.0.0.1",
            hub__http_port=str(http_port),
            hub__client_id="nursery-demo-hub",
            # One machine, loopback only: the visitor is signed in as the demo caregiver.
            hub__demo_login="true",
            # Shorter holds so a newcomer sees an alert open and clear within the demo's
            # ten-minute night, not after it.
            rules__cold_for_s="60",
            rules__cool_for_s="60",
        )
        _say(f"Starting the hub on http://127.0.0.1:{http_port}/…")
        self._spawn("hub", self._command("hub"), env)
        url = f"http://127.0.0.1:{http_port}/"

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(  # noqa: S310 - our own http://127.0.0.1 URL
                    url + "healthz", timeout=1
                ) as response:
                    return bool(response.status == 200)
            except OSError:
                return False

        self._wait_for("hub", healthy, "starting")
        return url

    def start_firmware(self, broker_port: int) -> None:
        env = self._env(
            broker_port,
            firmware__sensor="simulated",
            firmware__scenario=self.options.scenario,
            firmware__interval_s=str(self.options.interval_s),
            firmware__room="nursery",
        )
        _say(
            f"Starting the firmware with a simulated sensor ({self.options.scenario}, "
            f"a reading every {self.options.interval_s:g} s)…"
        )
        self._spawn("firmware", self._command("firmware"), env)

    def wait_for_first_reading(self, url: str) -> None:
        # Signed in as the demo caregiver, like the visitor's browser will be.
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())

        def has_reading() -> bool:
            try:
                with browser.open(url + "login", timeout=1):
                    pass
                with browser.open(url + "api/rooms", timeout=1) as response:
                    rooms = json.load(response)
            except (OSError, ValueError):
                return False
            return any(room.get("latest") for room in rooms)

        self._wait_for("firmware", has_reading, "sending its first reading")

    def watch(self) -> int:
        """Block until Ctrl-C/SIGTERM (exit 0) or until a part dies (exit 1)."""
        while not self.stop_requested.wait(0.5):
            for name, proc in self.procs:
                if proc.poll() is not None:
                    _complain(
                        f"the {name} stopped unexpectedly "
                        f"(exit code {proc.returncode}); stopping the demo"
                    )
                    return 1
        return 0

    def shutdown(self) -> None:
        """Firmware first (it publishes 'offline'), then the hub, then the broker."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def run_demo(options: DemoOptions) -> int:
    demo = Demo(options)

    def request_stop(signum: int, frame: FrameType | None) -> None:
        demo.stop_requested.set()

    # SIGHUP: the terminal window was closed.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    try:
        demo.check_http_port()
        broker_port = demo.start_broker()
        url = demo.start_hub(broker_port)
        demo.start_firmware(broker_port)
        demo.wait_for_first_reading(url)
        _say(
            f"\nNursery demo running. Open {url} in a browser (signed in as the demo "
            "caregiver, no password). Press Ctrl-C to stop.\n"
        )
        code = demo.watch()
    except DemoError as exc:
        _complain(str(exc))
        code = 1
    except KeyboardInterrupt:
        code = 0
    finally:
        if demo.stop_requested.is_set():
            _say("Stopping the demo…")
        demo.shutdown()
    return code
