"""Shared fixtures: a real Mosquitto on a free loopback port, settings, and a wait helper."""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    import httpx
    from playwright.sync_api import Browser, Page

    from nursery.config import Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent


# Below Linux's ephemeral range (32768-60999), so no client socket of this machine (a
# test's own connections, the broker's, the browser's) can take a port between the moment
# it is handed out and the moment a test's server binds it.
_LISTEN_PORTS = range(20000, 32768)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now, never handed out before in this run."""
    for _ in range(1000):
        port = random.choice(_LISTEN_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free loopback port between 20000 and 32767")


def wait_until(predicate: Callable[[], T], timeout: float = 15.0, what: str = "condition") -> T:
    """Poll `predicate` until it returns something truthy; fail with `what` on timeout."""
    deadline = time.monotonic() + timeout
    last: T = predicate()
    while not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.02)
        last = predicate()
    return last


class Mosquitto:
    """A real mosquitto process on 127.0.0.1, started and stopped by the tests."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / "mosquitto.log"

    def start(self) -> None:
        exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        if not Path(exe).exists():
            pytest.fail("mosquitto is not installed: apt-get install mosquitto (.ci/run does)")
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
        )
        self.proc = subprocess.Popen(
            [exe, "-c", str(conf)],
            stdout=self.log.open("ab"),
            stderr=subprocess.STDOUT,
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

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One Mosquitto for the session; tests keep apart by their own base topic."""
    mosq = Mosquitto(tmp_path_factory.mktemp("mosquitto"))
    mosq.start()
    yield mosq
    mosq.stop()


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    """A Mosquitto for one test, for tests that stop and restart it."""
    mosq = Mosquitto(tmp_path)
    mosq.start()
    yield mosq
    mosq.stop()


@pytest.fixture
def base_topic() -> str:
    """A base topic no other test uses, so retained messages never leak between tests."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No NURSERY_* variables from the caller's shell leak into a test."""
    for key in list(os.environ):
        if key.startswith("NURSERY_"):
            monkeypatch.delenv(key)
    return monkeypatch


TEST_CAREGIVER = "tester"
TEST_PASSWORD = "correct horse battery"


def api_token(db: Path, name: str = TEST_CAREGIVER, password: str = TEST_PASSWORD) -> str:
    """A new API token for caregiver `name` in the hub database `db`, made as
    `nursery adduser` and `nursery token` would (the caregiver is added when missing)."""
    from hub.accounts import Accounts

    accounts = Accounts(db)
    try:
        if accounts.find(name) is None:
            accounts.add(name, password)
        return accounts.new_token(name, "tests")
    finally:
        accounts.close()


def login(page: Page, url: str, name: str = TEST_CAREGIVER, password: str = TEST_PASSWORD) -> None:
    """Sign in through the hub's sign-in page, as a parent would, and land on the dashboard."""
    page.goto(url + "/login")
    if page.url == url + "/":
        return  # this browser context is signed in already
    page.fill("#name", name)
    page.fill("#password", password)
    page.click("button[type=submit]")
    page.wait_for_url(url + "/", timeout=15000)


class RunningHub:
    """The real hub app served by uvicorn on a free loopback port, in a thread.

    A caregiver `tester` (password TEST_PASSWORD) exists, and get/post/request carry an
    API token of theirs, as an automation would.
    """

    def __init__(self, settings: Settings, *, with_caregiver: bool = True) -> None:
        import threading

        import uvicorn

        from hub.app import create_app
        from hub.service import server_config

        self.settings = settings
        self.port = settings.hub.http_port
        self.url = f"http://127.0.0.1:{self.port}"
        # Without one, the hub starts as on first run: no caregiver, a one-time code.
        self.token = api_token(settings.hub.db) if with_caregiver else ""
        self.headers = {"Authorization": f"Bearer {self.token}"} if with_caregiver else {}
        self.app = create_app(settings)
        config = server_config(self.app, settings.hub.http_host, self.port)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15, what="the hub's HTTP server")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        import httpx

        headers = {**self.headers, **kwargs.pop("headers", {})}
        return httpx.request(method, self.url + path, headers=headers, timeout=10, **kwargs)

    def get(self, path: str, **params: object) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def mqtt_connected(self) -> bool:
        return bool(self.get("/healthz").json()["mqtt"]["connected"])

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


def hub_settings(
    tmp_path: Path, broker_port: int, base_topic: str, **sections: dict[str, object]
) -> Settings:
    """Settings for a hub (and firmware) on the test broker, database in tmp_path."""
    from nursery.config import Settings

    values: dict[str, dict[str, object]] = {
        "mqtt": {"host": "127.0.0.1", "port": broker_port, "base_topic": base_topic},
        "hub": {
            "db": tmp_path / "hub.db",
            "http_port": free_port(),
            "client_id": f"hub-{base_topic}"[:23],
        },
        # Each test's firmware keeps its own outbox file, never ./outbox.db.
        "firmware": {"sensor": "simulated", "interval_s": 0.05, "outbox": tmp_path / "outbox.db"},
    }
    for section, overrides in sections.items():
        values.setdefault(section, {}).update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def start_hub(clean_env: pytest.MonkeyPatch) -> Iterator[Callable[[Settings], RunningHub]]:
    """Start hubs with the given settings; all are stopped after the test."""
    hubs: list[RunningHub] = []

    def start(settings: Settings) -> RunningHub:
        hub = RunningHub(settings)
        hubs.append(hub)
        wait_until(hub.mqtt_connected, timeout=15, what="the hub to connect to MQTT")
        return hub

    yield start
    for hub in hubs:
        hub.stop()


CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class SteadyRoom:
    """The Pi's real publisher sending one room's reading every 100 ms until stopped;
    `paused` keeps it connected but silent (no "offline" goodbye), as a hung sensor is."""

    def __init__(
        self, settings: Settings, temperature_c: float = 18.5, humidity_pct: float = 50.0
    ) -> None:
        import threading

        from contract.messages import new_boot_id
        from firmware.publisher import Publisher

        self.room = settings.firmware.room
        self.boot_id = new_boot_id()
        self.publisher = Publisher(settings, self.boot_id)
        self.temperature_c, self.humidity_pct = temperature_c, humidity_pct
        self.sent = 0
        self.last_sent_at = 0.0  # time.monotonic() of the newest reading
        self.paused = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from datetime import UTC, datetime

        from contract.messages import ReadingMessage

        while not self._stop.wait(0.1):
            if self.paused.is_set():
                continue
            reading = ReadingMessage(
                self.room,
                self.boot_id,
                self.sent,
                datetime.now(UTC),
                self.temperature_c,
                self.humidity_pct,
            )
            self.publisher.publish_reading(reading)
            self.sent += 1
            self.last_sent_at = time.monotonic()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.publisher.close()


@pytest.fixture
def steady_rooms() -> Iterator[Callable[..., SteadyRoom]]:
    """Start SteadyRoom publishers; all are stopped after the test."""
    started: list[SteadyRoom] = []

    def start(settings: Settings, temperature_c: float = 18.5) -> SteadyRoom:
        started.append(SteadyRoom(settings, temperature_c))
        return started[-1]

    yield start
    for room in started:
        room.stop()
