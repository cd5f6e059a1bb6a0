"""What every benchmark needs: a Mosquitto, a real hub process and a push receiver, all on
127.0.0.1, plus percentiles and a description of the machine.

Self-contained on purpose (nothing from tests/): a benchmark runs from a checkout with the
project installed, and never changes what the tests rely on.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import pwd
import re
import selectors
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import httpx

from nursery.config import env_name, is_setting_variable

T = TypeVar("T")
LOOPBACK = "127.0.0.1"


class BenchError(RuntimeError):
    """The benchmark could not set itself up (no mosquitto, a hub that never came up…)."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], T], timeout: float, what: str, every: float = 0.01) -> T:
    """Poll `predicate` until it returns something truthy; BenchError on timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise BenchError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


def percentile(values: list[float], pct: float) -> float:
    """Linear interpolation between closest ranks (numpy's default); NaN when empty."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- the broker ----------------------------------------------------------------------


class Mosquitto:
    """A mosquitto process on 127.0.0.1 and a free port, for one benchmark run."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.log = workdir / "mosquitto.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @staticmethod
    def executable() -> str:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            raise BenchError("mosquitto is not installed (apt-get install mosquitto)")
        return exe

    @classmethod
    def version(cls) -> str:
        try:
            out = subprocess.run(
                [cls.executable(), "-h"], capture_output=True, text=True, timeout=5, check=False
            ).stdout
        except (OSError, subprocess.SubprocessError, BenchError):
            return "unknown"
        return out.splitlines()[0].strip() if out else "unknown"

    def config(self) -> str:
        """The broker's configuration file; subclasses add lines."""
        return (
            f"listener {self.port} {LOOPBACK}\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
        )

    def start(self) -> None:
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(self.config())
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [self.executable(), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )
        wait_until(self._accepting, timeout=10, what=f"mosquitto on port {self.port}")

    def _accepting(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise BenchError(f"mosquitto exited: {self.log.read_text()[-500:]}")
        try:
            with socket.create_connection((LOOPBACK, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None


class InstalledMosquitto(Mosquitto):
    """Mosquitto on the files `scripts/install-pi --output DIR` writes for a hub: a password
    per client, its ACL, `use_username_as_clientid`, persistence saved every minute, the
    queue and latency settings; under Debian's own mosquitto.conf, pointed into DIR.

    Every client then needs a login: `login("hub")`, `login("homeassistant")`, or a room's
    (install-pi add-device ROOM). The hub's settings file is `settings_file`.
    """

    def __init__(self, workdir: Path, base_topic: str, rooms: tuple[str, ...]) -> None:
        super().__init__(workdir)
        self.root = workdir / "installed"
        self.base_topic = base_topic
        self.rooms = rooms
        self.settings_file = self.root / "etc/nursery-monitor/nursery.toml"

    def start(self) -> None:
        self._install()
        super().start()

    def _install(self) -> None:
        script = Path(__file__).resolve().parent.parent / "scripts/install-pi"
        options = ["--output", str(self.root)]
        # First Debian's file: install-pi leaves persistence_location to it when it is there.
        debian = self.root / "etc/mosquitto/mosquitto.conf"
        debian.parent.mkdir(parents=True, exist_ok=True)
        debian.write_text(self.config())
        runs = [
            [
                "--role",
                "hub",
                "--mqtt-port",
                str(self.port),
                "--mqtt-listen",
                LOOPBACK,
                "--base-topic",
                self.base_topic,
            ],
            *(["add-device", room] for room in self.rooms),
            ["add-homeassistant"],
        ]
        for args in runs:
            done = subprocess.run(
                ["bash", str(script), *args, *options],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
            if done.returncode:
                raise BenchError(f"scripts/install-pi {' '.join(args)}: {done.stderr.strip()}")

    def config(self) -> str:
        """Debian's mosquitto.conf, pointed into the install's root; it includes the
        installer's conf.d/nursery.conf. `user` keeps a broker started as root from
        dropping to `mosquitto`, which could not read the temporary directory."""
        return (
            "persistence true\n"
            f"persistence_location {self.root}/var/lib/mosquitto/\n"
            f"include_dir {self.root}/etc/mosquitto/conf.d\n"
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
        )

    def login(self, who: str) -> tuple[str, str]:
        """(user, password) of the hub, of Home Assistant, or of a room's Pi."""
        etc = self.root / "etc/nursery-monitor"
        if who == "hub":
            env = dict(
                line.split("=", 1)
                for line in (etc / "hub.env").read_text().splitlines()
                if "=" in line and not line.startswith("#")
            )
            return env["NURSERY_MQTT__USERNAME"], env["NURSERY_MQTT__PASSWORD"]
        password = (etc / "devices" / f"{who}.password").read_text().strip()
        return (who if who == "homeassistant" else f"firmware-{who}"), password


# --- the push service ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Push:
    """One request as the receiver got it; `at` is time.perf_counter() once the body is in."""

    at: float
    wall: float  # time.time() at the same moment, to line up with the hub's log
    path: str
    title: str
    message: str

    def mentions(self, room: str) -> bool:
        text = f"{self.title}\n{self.message}".lower()
        return room.lower() in text


class PushReceiver:
    """An HTTP server standing in for the push service behind `json://` Apprise URLs.

    It records each push the moment the last byte of its body is read, then answers 200,
    after `hang_s` seconds when told to hang (a push service that takes that long to
    answer). One thread and a selector serve every connection: a thread started per
    request and http.server's header parser, as ThreadingHTTPServer does, made 0.61 ms from
    a client's send to that record on this machine against 0.20 ms now: the stand-in's own
    work, more than the raw MQTT round trip the alert latency is held against.
    """

    def __init__(self, hang_s: float = 0.0) -> None:
        self.hang_s = hang_s
        self.pushes: list[Push] = []
        self.answered = 0
        self._changed = threading.Condition()
        self._stopping = False
        self._selector = selectors.DefaultSelector()
        self._listener = socket.create_server((LOOPBACK, 0), backlog=128)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ)
        self.port = int(self._listener.getsockname()[1])
        self._buffers: dict[socket.socket, bytes] = {}
        self._due: list[tuple[float, socket.socket]] = []  # (answer at, connection)
        self._thread = threading.Thread(target=self._serve, name="push-receiver", daemon=True)
        self._thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://{LOOPBACK}:{self.port}/{path}"

    def wait_for(self, match: Callable[[Push], bool], timeout: float) -> Push | None:
        """The first push (already here or still to come) that matches, or None."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for push in self.pushes:
                    if match(push):
                        return push
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._changed.wait(left)

    def stop(self) -> None:
        """Answer any hanging request at once, then close everything."""
        self._stopping = True
        self._thread.join(5)
        for conn in list(self._buffers):
            self._close(conn)
        self._selector.close()
        self._listener.close()

    # --- the server thread ---

    def _serve(self) -> None:
        while not self._stopping:
            now = time.monotonic()
            while self._due and self._due[0][0] <= now:
                self._answer(self._due.pop(0)[1])
            wait = min(0.05, self._due[0][0] - now) if self._due else 0.05
            for key, _ in self._selector.select(max(0.0, wait)):
                if key.fileobj is self._listener:
                    self._accept()
                else:
                    conn = key.fileobj
                    assert isinstance(conn, socket.socket)
                    self._read(conn)
        for _, conn in self._due:
            self._answer(conn)
        self._due.clear()

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)
        self._buffers[conn] = b""
        self._selector.register(conn, selectors.EVENT_READ)

    def _read(self, conn: socket.socket) -> None:
        try:
            chunk = conn.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        if not chunk:
            self._close(conn)
            return
        data = self._buffers[conn] + chunk
        self._buffers[conn] = data
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            return
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        pairs = (line.partition(":") for line in header_lines)
        headers = {key.strip().lower(): value.strip() for key, _, value in pairs}
        length = int(headers.get("content-length") or 0)
        if len(body) < length:
            return
        at, wall = time.perf_counter(), time.time()
        self._selector.unregister(conn)  # one request per connection, as Apprise sends them
        try:
            fields: dict[str, Any] = json.loads(body[:length])
        except ValueError:
            fields = {}
        path = request_line.split(" ")[1] if request_line.count(" ") >= 2 else ""
        push = Push(at, wall, path, str(fields.get("title")), str(fields.get("message")))
        with self._changed:
            self.pushes.append(push)
            self._changed.notify_all()
        if self.hang_s:
            self._due.append((time.monotonic() + self.hang_s, conn))
        else:
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(True)
            conn.settimeout(2)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: 2\r\nConnection: close\r\n\r\n{}"
            )
        except OSError:
            pass  # the hub gave up waiting
        else:
            with self._changed:
                self.answered += 1
        self._close(conn)

    def _close(self, conn: socket.socket) -> None:
        self._buffers.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):  # not registered (any more)
            self._selector.unregister(conn)
        conn.close()


# --- the hub -------------------------------------------------------------------------

# `nursery hub` with one difference: log records carry time.time() to the microsecond, so
# a benchmark can line the hub's own log lines up with its clocks.
_HUB_MAIN = """
import logging, sys
logging.basicConfig(
    level=logging.INFO, stream=sys.stderr,
    format="%(created).6f %(levelname)s %(name)s: %(message)s",
)
from nursery.config import load_settings
from hub.service import serve
sys.exit(serve(load_settings()))
"""


class HubProcess:
    """The real hub (`hub.service.serve`, as `nursery hub` runs it) in its own process.

    Settings go in as NURSERY_* environment variables; the working directory is the run's
    temporary directory, so no ./nursery.toml is picked up. Its own process keeps the
    benchmark's threads off the hub's interpreter lock.
    """

    def __init__(self, workdir: Path, name: str, settings: dict[str, dict[str, object]]) -> None:
        self.workdir = workdir
        self.name = name
        self.port = free_port()
        self.url = f"http://{LOOPBACK}:{self.port}"
        self.log = workdir / f"{name}.log"
        self.settings = settings
        self._proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(base_url=self.url, timeout=10)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not is_setting_variable(k)}
        sections = {k: dict(v) for k, v in self.settings.items()}
        hub = sections.setdefault("hub", {})
        hub.setdefault("db", str(self.workdir / f"{self.name}.db"))
        hub["http_host"], hub["http_port"] = LOOPBACK, self.port
        for section, values in sections.items():
            for key, value in values.items():
                text = json.dumps(value) if isinstance(value, list | dict) else str(value)
                env[env_name(section, key)] = text
        return env

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-c", _HUB_MAIN],
                cwd=self.workdir,
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._mqtt_connected, timeout=30, what=f"hub {self.name} up on MQTT", every=0.05)

    def _mqtt_connected(self) -> bool:
        assert self._proc is not None
        if self._proc.poll() is not None:
            raise BenchError(f"hub {self.name} exited: {self.log.read_text()[-800:]}")
        try:
            return bool(self.http.get("/healthz").json()["parts"]["mqtt"] == "ok")
        except (httpx.HTTPError, ValueError, KeyError):
            return False

    def rooms(self) -> dict[str, dict[str, Any]]:
        """GET /api/rooms, by room name."""
        return {room["room"]: room for room in self.http.get("/api/rooms").json()}

    def latest_seq(self, room: str) -> int | None:
        latest = self.rooms().get(room, {}).get("latest")
        return None if latest is None else int(latest["seq"])

    def health(self) -> dict[str, Any]:
        """/healthz with its details, which need a caregiver's API token."""
        if "authorization" not in self.http.headers:
            self.http.headers["Authorization"] = f"Bearer {self._token()}"
        data: dict[str, Any] = self.http.get("/healthz").json()
        return data

    def _token(self) -> str:
        """An API token of a bench caregiver, made through the hub's own accounts (what
        `nursery adduser` and `nursery token` do)."""
        from hub.accounts import Accounts

        db = Path(str(self.settings.get("hub", {}).get("db", self.workdir / f"{self.name}.db")))
        accounts = Accounts(db if db.is_absolute() else self.workdir / db)
        try:
            if accounts.find("bench") is None:
                accounts.add("bench", "bench password, not a secret")
            return accounts.new_token("bench", "bench/_common.py")
        finally:
            accounts.close()

    def log_lines(self) -> list[tuple[float, str]]:
        """(time.time(), text) for each of the hub's log lines so far."""
        lines: list[tuple[float, str]] = []
        for line in self.log.read_text(errors="replace").splitlines():
            stamp, _, text = line.partition(" ")
            try:
                lines.append((float(stamp), text))
            except ValueError:
                continue  # a traceback line or uvicorn's own output
        return lines

    def log_counts(self) -> tuple[int, int]:
        """(errors, warnings) the hub logged so far."""
        levels = [text.partition(" ")[0] for _, text in self.log_lines()]
        errors = sum(level in ("ERROR", "CRITICAL") for level in levels)
        return errors, levels.count("WARNING")

    def stop(self) -> None:
        self.http.close()
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(15)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(5)
        self._proc = None


class InstalledHub(HubProcess):
    """`python -m nursery hub --config` the nursery.toml an InstalledMosquitto's install-pi
    wrote, with the unit's login (hub.env) and malloc setting (MALLOC_ARENA_MAX=2): the
    command a Pi runs, alert monitor and HTTP server on. `settings` (NURSERY_* variables)
    override the file for the bench's ports, database, rules and push channels."""

    def __init__(
        self,
        workdir: Path,
        name: str,
        settings: dict[str, dict[str, object]],
        broker: InstalledMosquitto,
    ) -> None:
        user, password = broker.login("hub")
        mqtt = {**settings.get("mqtt", {}), "username": user, "password": password}
        super().__init__(workdir, name, {**settings, "mqtt": mqtt})
        self.config = broker.settings_file

    def start(self) -> None:
        with self.log.open("ab") as log:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "nursery", "hub", "--config", str(self.config)],
                cwd=self.workdir,
                env={**self._env(), "MALLOC_ARENA_MAX": "2"},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        wait_until(self._mqtt_connected, timeout=60, what="the hub up on MQTT", every=0.05)

    @property
    def pid(self) -> int:
        assert self._proc is not None
        return self._proc.pid

    def stored(self) -> int:
        return int(self.health()["messages"]["stored"])

    def problems(self) -> tuple[int, int]:
        """(errors, warnings) in the hub's log: `nursery hub` logs "time LEVEL name: …"."""
        words = [line.split(" ", 3)[2:3] for line in self.log.read_text().splitlines()]
        levels = [w[0] for w in words if w]
        return sum(level in ("ERROR", "CRITICAL") for level in levels), levels.count("WARNING")


# --- the machine ---------------------------------------------------------------------


def machine() -> dict[str, str]:
    """What the figures depend on: CPU, cores, Python, the broker, the date."""
    cpu = platform.processor() or platform.machine()
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
        fields = {k.strip().lower(): v.strip() for k, _, v in (x.partition(":") for x in lines)}
    except OSError:
        fields = {}
    # x86 says "model name"; a Raspberry Pi says "Model" (the board) and "Hardware".
    for key in ("model name", "model", "hardware"):
        if fields.get(key) and not fields[key].isdigit():
            cpu = fields[key]
            break
    return {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": f"{cpu} ({os.cpu_count()} cores)",
        "cpus": str(os.cpu_count()),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "os": platform.platform(terse=True),
        "broker": Mosquitto.version(),
        "ram": _memory_total(),
        "sqlite": sqlite3.sqlite_version,
    }


def _memory_total() -> str:
    """MemTotal from /proc/meminfo, in MiB ("unknown" off Linux)."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return f"{int(line.split()[1]) // 1024:,} MiB"
    except (OSError, ValueError, IndexError):
        pass
    return "unknown"


# --- the machine-readable summary ------------------------------------------------------

TABLE_COLUMNS = ("metric", "value", "reference", "ratio", "target", "verdict")


def table_rows(report: str) -> list[dict[str, str]]:
    """The rows of a benchmark's printed table, one dict per row keyed by TABLE_COLUMNS.

    Every benchmark prints the same layout: a header line, a line of dashes (one run per
    column) and left-aligned rows up to a blank line. Cutting at the dashes' columns makes
    the summary say exactly what the report printed.
    """
    lines = report.splitlines()
    for i, text in enumerate(lines):
        if i and re.fullmatch(r"-+(  +-+)+\s*", text):
            break
    else:
        raise BenchError("the report has no table (no line of dashes under a header)")
    starts = [m.start() for m in re.finditer(r"-+", text)]
    header = [lines[i - 1][a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
    if tuple(header) != TABLE_COLUMNS:
        raise BenchError(f"unexpected table columns {header}")
    rows = []
    for text in lines[i + 1 :]:
        if not text.strip():
            break
        cells = [text[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        cells[0] = text[: starts[1]].rstrip()  # keeps the indent of a detail row
        rows.append(dict(zip(TABLE_COLUMNS, cells, strict=True)))
    return rows


def write_summary(path: Path, bench: str, info: dict[str, str], report: str) -> None:
    """`--json PATH`: the benchmark's name, the machine, its table's rows and the report."""
    summary = {"bench": bench, "machine": info, "rows": table_rows(report), "report": report}
    path.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
