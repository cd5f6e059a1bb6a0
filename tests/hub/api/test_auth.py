"""Signing in, over real HTTP against the running hub: every API endpoint needs a
caregiver, the session cookie needs its CSRF token for changes, wrong passwords lock a
name from one device (an unknown name just the same), tokens end when revoked or when
their caregiver gets a new password, and the first account can only be made from the hub
or with its one-time code."""

from __future__ import annotations

import logging
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mqttlink.settings import SettingsError
from nursery.config import load_settings
from tests.support import (
    TEST_CAREGIVER,
    TEST_PASSWORD,
    Mosquitto,
    RunningHub,
    StartHub,
    api_token,
    free_port,
    hub_settings,
    wait_until,
)
from tests.support.cli import OLD_SAM_TOKEN, adduser, nursery, old_database

# Open on purpose: monitoring, the API description, and the page a push link opens (it
# checks the link's own signature).
OPEN_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/openapi.json"),
    ("GET", "/api/alerts/{alert_id}/{action}"),
}


@pytest.fixture
def hub(tmp_path: Path, broker: Mosquitto, base_topic: str, start_hub: StartHub) -> RunningHub:
    return start_hub(hub_settings(tmp_path, broker.port, base_topic))


# Two more devices on the home network, as the hub sees them: other loopback addresses.
GUEST_DEVICE = "127.0.0.2"
OTHER_DEVICE = "127.0.0.3"


def browser(hub: RunningHub, address: str | None = None) -> httpx.Client:
    """A phone's browser; from `address` when given (else the hub's own 127.0.0.1)."""
    transport = httpx.HTTPTransport(local_address=address) if address else None
    return httpx.Client(base_url=hub.url, timeout=10, transport=transport)


def sign_in(
    client: httpx.Client, name: str = TEST_CAREGIVER, password: str = TEST_PASSWORD
) -> httpx.Response:
    return client.post("/login?next=/", data={"name": name, "password": password})


def api_routes(hub: RunningHub) -> list[tuple[str, str]]:
    """Every API operation the hub documents, as a user would find them."""
    paths = httpx.get(hub.url + "/openapi.json", timeout=10).json()["paths"]
    return sorted(
        (method.upper(), path)
        for path, operations in paths.items()
        if path.startswith("/api/")
        for method in operations
        if (method.upper(), path) not in OPEN_ROUTES
    )


def concrete(path: str) -> str:
    """A path with every {parameter} filled in (the answer must be 401 before any lookup)."""
    return re.sub(r"\{[^}]+\}", "1", path)


def refused(response: httpx.Response) -> bool:
    """401 for the JSON API; a page (the printable report) sends the browser to sign in."""
    if response.status_code == 303:
        return response.headers["location"].startswith("/login?next=")
    return response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"


def test_every_api_endpoint_refuses_a_request_without_a_caregiver(hub: RunningHub) -> None:
    routes = api_routes(hub)
    assert ("GET", "/api/rooms") in routes and ("POST", "/api/alerts/{alert_id}/ack") in routes
    for method, path in routes:
        anonymous = httpx.request(method, hub.url + concrete(path), timeout=10)
        assert refused(anonymous), f"{method} {path} answered without a caregiver"
        forged = httpx.request(
            method,
            hub.url + concrete(path),
            headers={"Authorization": "Bearer nm_not-a-real-token"},
            timeout=10,
        )
        assert refused(forged), f"{method} {path} took a made-up token"
        assert not refused(hub.request(method, concrete(path))), f"{method} {path}"


def test_health_stays_open_and_tells_nothing_about_the_room(hub: RunningHub) -> None:
    health = httpx.get(hub.url + "/healthz", timeout=10)
    assert health.status_code == 200
    text = health.text
    assert "nursery" not in text and "temperature" not in text and "episode" not in text


def test_the_dashboard_sends_a_stranger_to_sign_in_and_back(hub: RunningHub) -> None:
    with browser(hub) as client:
        page = client.get("/")
        assert page.status_code == 303
        assert page.headers["location"] == "/login?next=/"
        form = client.get("/login?next=/")
        assert form.status_code == 200 and "Sign in" in form.text

        wrong = sign_in(client, password="not the password")
        assert wrong.status_code == 401
        assert "That name and password do not match." in wrong.text
        assert "nursery_session" not in client.cookies

        right = sign_in(client)
        assert right.status_code == 303 and right.headers["location"] == "/"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie
        assert client.get("/").status_code == 200
        assert client.get("/api/rooms").json() == []
        me = client.get("/api/auth/me").json()
        assert me["name"] == TEST_CAREGIVER and me["via"] == "dashboard" and me["csrf_token"]


def test_a_change_on_a_session_needs_its_csrf_token(hub: RunningHub) -> None:
    with browser(hub) as client:
        sign_in(client)
        csrf = client.get("/api/auth/me").json()["csrf_token"]
        missing = client.post("/api/alerts/1/ack")
        assert missing.status_code == 403
        assert "CSRF" in missing.json()["detail"]
        wrong = client.post("/api/alerts/1/ack", headers={"X-CSRF-Token": csrf + "x"})
        assert wrong.status_code == 403
        right = client.post("/api/alerts/1/ack", headers={"X-CSRF-Token": csrf})
        assert right.status_code == 404, "with its token the change goes through (no alert 1)"


def test_a_token_needs_no_csrf_and_acts_for_its_caregiver(hub: RunningHub) -> None:
    me = hub.get("/api/auth/me").json()
    assert me == {"name": TEST_CAREGIVER, "csrf_token": None, "demo": False, "via": "api"}
    assert hub.post("/api/alerts/1/ack").status_code == 404
    malformed = httpx.get(hub.url + "/api/rooms", headers={"Authorization": "Basic eDp5"})
    assert malformed.status_code == 401
    assert "Bearer" in malformed.json()["detail"]


def test_wrong_passwords_lock_that_name_from_that_device_only(hub: RunningHub) -> None:
    api_token(hub.settings.hub.db, "Alex", "battery staple")
    with browser(hub, GUEST_DEVICE) as guest:
        for _ in range(hub.settings.hub.login_attempts - 1):
            assert sign_in(guest, password="guess").status_code == 401
        locked = sign_in(guest, password="guess")
        assert locked.status_code == 429
        assert (
            "Too many wrong passwords: this account is locked for about 15 minutes on this "
            "device. Another caregiver can still sign in."
        ) in locked.text
        assert sign_in(guest).status_code == 429, "the right password must wait too"
        assert "nursery_session" not in guest.cookies
        assert sign_in(guest, "Alex", "battery staple").status_code == 303
    # The guest locked out their own device, not the caregiver: their phone signs in.
    with browser(hub) as phone:
        assert sign_in(phone).status_code == 303
        assert phone.get("/api/auth/me").json()["name"] == TEST_CAREGIVER


def test_an_unknown_name_gets_the_very_answers_a_wrong_password_gets(hub: RunningHub) -> None:
    def answers(name: str, address: str) -> list[tuple[int, str]]:
        with browser(hub, address) as client:
            tries = [sign_in(client, name, "guess") for _ in range(hub.settings.hub.login_attempts)]
            tries.append(sign_in(client, name, "guess"))
        return [(r.status_code, r.text.replace(name, "NAME")) for r in tries]

    real, unknown = answers(TEST_CAREGIVER, GUEST_DEVICE), answers("nobody", OTHER_DEVICE)
    assert [status for status, _ in real] == [401, 401, 401, 401, 429, 429]
    assert unknown == real


class MovableClock:
    """The hub's clock, moved on by the test: locks that last hours, seen in seconds."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clocked_hub(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> Iterator[tuple[str, MovableClock]]:
    """The hub's web app on its own clock (without MQTT ingest), served over real HTTP."""
    import threading

    import uvicorn

    from hub.app import create_app
    from hub.service import server_config

    settings = hub_settings(tmp_path, free_port(), "unused")
    api_token(settings.hub.db)  # the caregiver TEST_CAREGIVER
    clock = MovableClock()
    server = uvicorn.Server(
        server_config(
            create_app(settings, clock=clock, ingest=False), "127.0.0.1", settings.hub.http_port
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="the hub's HTTP server")
    yield f"http://127.0.0.1:{settings.hub.http_port}", clock
    server.should_exit = True
    thread.join(timeout=15)


def test_each_wrong_password_after_a_lock_doubles_the_next_up_to_four_hours(
    clocked_hub: tuple[str, MovableClock],
) -> None:
    url, clock = clocked_hub
    locks = []
    with httpx.Client(
        base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=GUEST_DEVICE)
    ) as guest:
        for _ in range(4):
            assert sign_in(guest, password="guess").status_code == 401
        for wait in (15, 30, 60, 120, 240, 240):
            locked = sign_in(guest, password="guess")
            assert locked.status_code == 429
            said = re.search(r"locked for about ([^.]+) on this device", locked.text)
            assert said is not None, locked.text
            locks.append(said.group(1))
            clock.now += timedelta(minutes=wait)
        assert sign_in(guest).status_code == 303, "the lock is over: the right password opens"
    assert locks == ["15 minutes", "30 minutes", "60 minutes", "2 hours", "4 hours", "4 hours"]


def test_one_address_guessing_many_names_is_slowed_down(hub: RunningHub) -> None:
    with browser(hub) as client:
        answers = [sign_in(client, f"guess{n}", "password1").status_code for n in range(21)]
    assert answers[:20] == [401] * 20
    assert answers[20] == 429


def test_sign_in_refuses_a_form_from_another_site_and_a_redirect_away(hub: RunningHub) -> None:
    with browser(hub) as client:
        forged = client.post(
            "/login",
            data={"name": TEST_CAREGIVER, "password": TEST_PASSWORD},
            headers={"Origin": "http://evil.example"},
        )
        assert forged.status_code == 403
        away = client.post(
            "/login?next=//evil.example/x",
            data={"name": TEST_CAREGIVER, "password": TEST_PASSWORD},
        )
        assert away.status_code == 303 and away.headers["location"] == "/"


def test_sign_out_ends_the_session(hub: RunningHub) -> None:
    with browser(hub) as client:
        sign_in(client)
        session = client.cookies["nursery_session"]
        csrf = client.get("/api/auth/me").json()["csrf_token"]
        assert client.post("/logout", data={"csrf": "wrong"}).status_code == 403
        out = client.post("/logout", data={"csrf": csrf})
        assert out.status_code == 303 and out.headers["location"] == "/login"
    stale = httpx.get(hub.url + "/api/rooms", cookies={"nursery_session": session}, timeout=10)
    assert stale.status_code == 401
    assert "sign in again" in stale.json()["detail"]


# --- the first account ----------------------------------------------------------------


def lan_address() -> str | None:
    """This machine's address on its network, to reach the hub as a phone would."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 9))  # no packet is sent
            address = str(probe.getsockname()[0])
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.fixture
def fresh_hub(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    clean_env: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> Iterator[RunningHub]:
    """A hub on all interfaces whose database has no caregiver yet."""
    caplog.set_level(logging.WARNING, logger="nursery.hub")
    settings = hub_settings(tmp_path, broker.port, base_topic, hub={"http_host": "0.0.0.0"})
    hub = RunningHub(settings, with_caregiver=False)
    yield hub
    hub.stop()


def setup_code(caplog: pytest.LogCaptureFixture) -> str:
    for record in caplog.get_records("setup"):  # logged while the hub started
        found = re.search(r"one-time code (\w+)", record.getMessage())
        if found:
            return found.group(1)
    raise AssertionError(f"no one-time code in the log: {caplog.text}")


def test_the_first_account_is_made_from_the_hub_itself(fresh_hub: RunningHub) -> None:
    with httpx.Client(base_url=fresh_hub.url, timeout=10) as client:
        assert client.get("/login").headers["location"] == "/setup"
        page = client.get("/setup")
        assert "Create account" in page.text and "One-time code" not in page.text
        short = client.post("/setup", data={"name": "Sam", "password": "short"})
        assert short.status_code == 422 and "at least 8 characters" in short.text
        common = client.post("/setup", data={"name": "Sam", "password": "12345678"})
        assert common.status_code == 422
        assert "that password is well known: guessing tools try it first" in common.text
        made = client.post("/setup", data={"name": "Sam", "password": "correct horse"})
        assert made.status_code == 303 and made.headers["location"] == "/welcome"
        assert client.get("/api/auth/me").json()["name"] == "Sam"
        # Once someone has an account, the first-run page is gone.
        assert client.get("/setup").headers["location"] == "/login"
        again = client.post("/setup", data={"name": "Eve", "password": "correct horse"})
        assert again.status_code == 303 and again.headers["location"] == "/login"


def test_from_a_phone_the_first_account_needs_the_code_from_the_log(
    fresh_hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    code = setup_code(caplog)
    with httpx.Client(base_url=f"http://{address}:{fresh_hub.port}", timeout=10) as phone:
        assert "One-time code" in phone.get("/setup").text
        wrong = phone.post("/setup", data={"name": "Sam", "password": "correct horse"})
        assert wrong.status_code == 403 and "one-time code is wrong" in wrong.text
        right = phone.post(
            "/setup", data={"name": "Sam", "password": "correct horse", "code": code}
        )
        assert right.status_code == 303
        assert phone.get("/api/auth/me").json()["name"] == "Sam"


def test_a_phone_that_guessed_the_code_too_often_is_refused_even_with_the_right_one(
    fresh_hub: RunningHub, caplog: pytest.LogCaptureFixture
) -> None:
    address = lan_address()
    if address is None:
        pytest.skip("this machine has no network address besides loopback")
    code = setup_code(caplog)
    form = {"name": "Eve", "password": "correct horse"}
    with httpx.Client(base_url=f"http://{address}:{fresh_hub.port}", timeout=10) as phone:
        guesses = [phone.post("/setup", data={**form, "code": f"{n:08x}"}) for n in range(20)]
        assert {guess.status_code for guess in guesses} == {403}
        right = phone.post("/setup", data={**form, "code": code})
        assert right.status_code == 429
        assert "Too many attempts from this device" in right.text
        assert "nursery_session" not in phone.cookies
    with httpx.Client(base_url=fresh_hub.url, timeout=10) as hub_itself:
        assert "Create account" in hub_itself.get("/setup").text, "no account was made"


def test_demo_login_is_refused_on_an_address_phones_reach(
    tmp_path: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("NURSERY_HUB__DEMO_LOGIN", "true")
    clean_env.setenv("NURSERY_HUB__HTTP_HOST", "0.0.0.0")
    clean_env.chdir(tmp_path)
    with pytest.raises(SettingsError) as refused:
        load_settings()
    lines = str(refused.value).splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("hub (NURSERY_HUB__…): demo_login signs anyone in")


# --- tokens and new passwords, as `nursery token` and `nursery adduser` change them --------


def test_a_revoked_token_stops_working_at_once_and_the_others_go_on(
    hub: RunningHub, tmp_path: Path
) -> None:
    db = str(hub.settings.hub.db)
    made = nursery(
        tmp_path, "token", TEST_CAREGIVER, "--label", "home-assistant", NURSERY_HUB__DB=db
    )
    assert made.returncode == 0, made.stderr
    automation = {"Authorization": f"Bearer {made.stdout.strip()}"}
    assert httpx.get(hub.url + "/api/rooms", headers=automation, timeout=10).status_code == 200
    listed = nursery(tmp_path, "token", "--list", NURSERY_HUB__DB=db).stdout.splitlines()
    (row,) = [line for line in listed if "home-assistant" in line]
    assert "never" in row.split() and row.endswith("UTC"), "never expires, used just now"

    revoked = nursery(tmp_path, "token", "--revoke", row.split()[0], NURSERY_HUB__DB=db)
    assert revoked.returncode == 0, revoked.stderr
    refused = httpx.get(hub.url + "/api/rooms", headers=automation, timeout=10)
    assert refused.status_code == 401
    assert "revoked" in refused.json()["detail"], "the automation's owner learns why"
    assert hub.get("/api/rooms").status_code == 200, "the caregiver's other token still works"


def test_a_token_shows_when_it_was_last_used(hub: RunningHub, tmp_path: Path) -> None:
    assert hub.get("/api/rooms").status_code == 200
    listed = nursery(tmp_path, "token", "--list", NURSERY_HUB__DB=str(hub.settings.hub.db))
    (row,) = listed.stdout.splitlines()[1:]
    assert row.split()[:3] == ["1", TEST_CAREGIVER, "tests"]
    assert row.count(" UTC") == 2 and row.split()[-1] == "UTC", "used, never expires"


def test_a_new_password_ends_that_caregivers_sessions_and_tokens_but_not_anothers(
    hub: RunningHub, tmp_path: Path
) -> None:
    alex = {"Authorization": f"Bearer {api_token(hub.settings.hub.db, 'Alex', 'battery staple')}"}
    with browser(hub) as phone, browser(hub, OTHER_DEVICE) as alex_phone:
        assert sign_in(phone).status_code == 303
        assert sign_in(alex_phone, "Alex", "battery staple").status_code == 303

        changed = adduser(tmp_path, TEST_CAREGIVER, "a brand new password")
        assert changed.returncode == 0, changed.stderr
        assert "signed out everywhere, 1 API token revoked" in changed.stdout

        assert phone.get("/api/rooms").status_code == 401
        assert hub.get("/api/rooms").status_code == 401, "their token ended too"
        assert alex_phone.get("/api/rooms").status_code == 200
        assert httpx.get(hub.url + "/api/rooms", headers=alex, timeout=10).status_code == 200
        assert sign_in(phone).status_code == 401, "the old password is gone"
        assert sign_in(phone, password="a brand new password").status_code == 303


def test_a_hub_on_a_database_from_the_previous_version_keeps_its_caregivers_and_tokens(
    tmp_path: Path, broker: Mosquitto, base_topic: str, clean_env: pytest.MonkeyPatch
) -> None:
    old_database(tmp_path / "hub.db")
    hub = RunningHub(hub_settings(tmp_path, broker.port, base_topic), with_caregiver=False)
    try:
        old_token = {"Authorization": f"Bearer {OLD_SAM_TOKEN}"}
        me = httpx.get(hub.url + "/api/auth/me", headers=old_token, timeout=10)
        assert me.status_code == 200 and me.json()["name"] == "Sam"
        with browser(hub) as phone:
            assert phone.get("/login").status_code == 200, "no first-run page: it has caregivers"
            assert sign_in(phone, "Alex", "battery staple").status_code == 303
    finally:
        hub.stop()
