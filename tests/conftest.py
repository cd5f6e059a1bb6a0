"""The tests' fixtures and markers; what the fixtures build lives in tests/support."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import pytest

from tests.support import mosquitto as mosquitto_launcher
from tests.support.alerting import Scene, settings_for
from tests.support.env import setting_names
from tests.support.hub import RunningHub
from tests.support.mosquitto import Mosquitto
from tests.support.push import Receiver
from tests.support.rooms import Monitor, SteadyRoom, TracePlayer
from tests.support.secure_broker import USERS, CertificateAuthority, SecureMosquitto
from tests.support.wait import wait_until

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt
    from playwright.sync_api import Browser

    from nursery.config import Settings
    from tests.support.browser import Phone

# A test that uses one of these fixtures, even through another fixture, gets the marker.
MARKED_BY_FIXTURE = {
    "broker": {"broker", "own_broker", "secure", "installed_pi"},
    "browser": {"browser", "rebinding_browser"},
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test by the fixtures it uses, so no marker can be forgotten."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        used -= set(callspec.params) if callspec else set()  # a parameter, not the fixture
        for marker, fixtures in MARKED_BY_FIXTURE.items():
            if used & fixtures:
                item.add_marker(marker)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """A test that starts a Mosquitto of its own must carry the `broker` marker too."""
    mosquitto_launcher.allowed = item.get_closest_marker("broker") is not None


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
def ca(tmp_path: Path) -> CertificateAuthority:
    """A household's own CA, for the secure broker's and the clients' certificates."""
    return CertificateAuthority(tmp_path, "home")


@pytest.fixture
def secure(tmp_path: Path, ca: CertificateAuthority) -> Iterator[SecureMosquitto]:
    """A Mosquitto with TLS, a password and an ACL per login in USERS."""
    broker = SecureMosquitto(tmp_path, ca, USERS)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def base_topic() -> str:
    """A base topic no other test uses, so retained messages never leak between tests."""
    return f"t{uuid.uuid4().hex[:10]}"


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No setting from the caller's shell leaks into a test."""
    for key in setting_names():
        monkeypatch.delenv(key)
    return monkeypatch


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


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, driven by Playwright, one per test module."""
    from playwright.sync_api import sync_playwright

    from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing at /usr/bin/chromium: apt-get install chromium")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[Callable[..., Phone]]:
    """Open phone-sized tabs; all are closed after the test."""
    from tests.support.browser import Phone

    phones: list[Phone] = []

    def open_phone(color_scheme: Literal["light", "dark"] = "light") -> Phone:
        tab = Phone(browser, color_scheme)
        phones.append(tab)
        return tab

    yield open_phone
    for tab in phones:
        tab.context.close()


@pytest.fixture
def mqtt_client(broker: Mosquitto) -> Iterator[mqtt.Client]:
    """A plain MQTT client on the session's broker, as a third party's."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    yield client
    client.loop_stop()
    client.disconnect()


@pytest.fixture
def monitor(mqtt_client: mqtt.Client, base_topic: str) -> Callable[[str], Monitor]:
    """A room's firmware, as raw messages on the session's broker."""
    return lambda room: Monitor(mqtt_client, base_topic, room)


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


@pytest.fixture
def players() -> Iterator[Callable[[Settings], TracePlayer]]:
    """Start TracePlayers (a room's temperature trace); all are stopped after the test."""
    started: list[TracePlayer] = []

    def start(settings: Settings) -> TracePlayer:
        player = TracePlayer(settings)
        started.append(player)
        return player

    yield start
    for player in started:
        player.stop()


@pytest.fixture
def receivers() -> Iterator[Callable[..., Receiver]]:
    """Start push services on loopback; all are stopped after the test."""
    started: list[Receiver] = []

    def start(port: int = 0, fail_times: int = 0, hang_s: float = 0.0) -> Receiver:
        receiver = Receiver(port, fail_times, hang_s)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


@pytest.fixture
def scene(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    receivers: Callable[..., Receiver],
    start_hub: Callable[[Settings], RunningHub],
    players: Callable[[Settings], TracePlayer],
) -> Callable[..., Scene]:
    """A running hub with a push receiver and one room playing readings at 19 °C."""

    def build(fail_times: int = 0) -> Scene:
        receiver = receivers(fail_times=fail_times)
        settings = settings_for(tmp_path, broker, base_topic, receiver)
        hub = start_hub(settings)
        return Scene(receiver, settings, hub, players(settings))

    return build
