"""The hub answers only under its own names (DNS rebinding, issue #17): real HTTP to the
served hub with forged Host headers, and a real Chromium whose DNS sends a stranger's
name to the hub, as a rebinding attack does."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, sync_playwright

from hub.web.host_check import HostCheck, host_name, own_names
from mqttlink.settings import SettingsError
from nursery.config import Settings, load_settings
from tests.support import Mosquitto, RunningHub, StartHub, hub_settings
from tests.support.browser import CHROMIUM, CHROMIUM_ARGS

STRANGER = "rebind.attacker.example"
OURS = "nursery.example"  # as set in hub.allowed_hosts
PUBLIC = "nursery-hub.example"  # the host of notify.public_url


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub) -> RunningHub:
    return start_hub(
        hub_settings(
            tmp_path,
            broker.port,
            base_topic,
            hub={"allowed_hosts": [OURS]},
            notify={"public_url": f"http://{PUBLIC}:8000"},
        )
    )


def get(hub: RunningHub, host: str, path: str = "/login") -> httpx.Response:
    return httpx.get(hub.url + path, headers={"Host": host}, timeout=10)


def test_a_stranger_host_is_refused_before_any_route(hub: RunningHub) -> None:
    for host in (f"{STRANGER}:{hub.port}", STRANGER, "nursery.example.attacker.example"):
        refused = get(hub, host)
        assert refused.status_code == 400, host
        assert "does not answer to the name" in refused.text
        assert "hub.allowed_hosts" in refused.text
        assert refused.headers["x-frame-options"] == "DENY"  # error answers keep the headers
        assert "sign in" not in refused.text.lower()
    # Nothing behind it runs: no sign-in, no API, not even with a valid token.
    form = {"name": "tester", "password": "correct horse battery"}
    posted = httpx.post(hub.url + "/login", data=form, headers={"Host": STRANGER})
    assert posted.status_code == 400 and "set-cookie" not in posted.headers
    api = httpx.get(hub.url + "/api/rooms", headers={**hub.headers, "Host": STRANGER})
    assert api.status_code == 400


def test_the_hubs_own_names_and_addresses_work(hub: RunningHub) -> None:
    machine = socket.gethostname().split(".")[0]
    hosts = [
        f"127.0.0.1:{hub.port}",
        f"localhost:{hub.port}",
        f"[::1]:{hub.port}",
        f"{machine}:{hub.port}",
        f"{machine}.local:{hub.port}",
        f"{machine.upper()}.LOCAL.:{hub.port}",
        f"{OURS}:{hub.port}",
        PUBLIC,
        f"192.168.1.23:{hub.port}",  # any address: rebinding needs a name
    ]
    for host in hosts:
        answer = get(hub, host)
        assert answer.status_code == 200, (host, answer.text)
        assert "Sign in" in answer.text
    assert hub.get("/api/rooms").status_code == 200  # the tests' own 127.0.0.1


@pytest.fixture(scope="module")
def rebinding_browser() -> Iterator[Browser]:
    """Chromium whose DNS answers the hub's loopback address for a stranger's name (what
    a rebinding attacker's DNS server does) and for a name the household configured."""
    rules = f"MAP {STRANGER} 127.0.0.1, MAP {OURS} 127.0.0.1"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, f"--host-resolver-rules={rules}"]
        )
        yield chromium
        chromium.close()


def test_a_page_under_a_rebound_name_cannot_reach_the_hub(
    hub: RunningHub, rebinding_browser: Browser
) -> None:
    context = rebinding_browser.new_context()
    try:
        page = context.new_page()
        attacked = page.goto(f"http://{STRANGER}:{hub.port}/login")
        assert attacked is not None and attacked.status == 400
        assert "does not answer to the name" in page.content()
        # The page itself (same origin as far as the browser knows) reads nothing either.
        status = page.evaluate("fetch('/api/auth/me').then(r => r.status)")
        assert status == 400
        ours = page.goto(f"http://{OURS}:{hub.port}/login")
        assert ours is not None and ours.status == 200
        assert page.get_by_role("button", name="Sign in").is_visible()
    finally:
        context.close()


def test_a_star_accepts_any_name(
    tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic, hub={"allowed_hosts": ["*"]}))
    assert get(hub, STRANGER).status_code == 200


def test_a_url_in_allowed_hosts_is_refused_in_one_line(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NURSERY_HUB__ALLOWED_HOSTS", json.dumps(["http://nursery.local:8000"]))
    with pytest.raises(SettingsError) as refused:
        load_settings()
    message = str(refused.value)
    assert "hub.allowed_hosts" in message and "no http://, no port" in message
    assert len(message.splitlines()) == 1


@pytest.mark.parametrize(
    ("header", "name"),
    [
        ("nursery.local:8000", "nursery.local"),
        ("Nursery.Local.", "nursery.local"),
        ("[::1]:8000", "::1"),
        ("[FE80::1]", "fe80::1"),
        ("10.0.0.7:80", "10.0.0.7"),
    ],
)
def test_host_name(header: str, name: str) -> None:
    assert host_name(header) == name


def test_own_names_default_to_the_machine_and_public_url() -> None:
    settings = Settings(
        hub={"http_host": "0.0.0.0"},
        notify={"public_url": "http://Nursery-Pi.lan:8000/"},
    )
    names = own_names(settings, hostname="nurserypi")
    assert names == frozenset({"localhost", "nurserypi", "nurserypi.local", "nursery-pi.lan"})
    check = HostCheck(lambda scope, receive, send: None, names)  # type: ignore[arg-type,return-value]
    assert check.allowed("nurserypi.local:8000") and check.allowed("[fe80::2]:8000")
    assert not check.allowed("nurserypi.local.attacker.example")
    assert own_names(Settings(hub={"allowed_hosts": ["*"]})) is None
