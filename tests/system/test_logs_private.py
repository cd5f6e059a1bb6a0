"""No secret and no health data in any log line: a full run (MQTT over TLS with
passwords, a sign-in with a wrong password first, episodes with notes, a cold alert
pushed through a URL that carries a token, its acknowledgement, a sign-out), in-process
at DEBUG and as `nursery hub` and `nursery firmware` processes at --log-level debug;
then every line is searched for each secret."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from contract.messages import FaultMessage, ReadingMessage, new_boot_id
from contract.topics import fault_topic
from firmware.publisher import Publisher
from hub.api.deps import CSRF_HEADER, SESSION_COOKIE
from hub.messages import Message
from hub.notify.apprise_sender import ApprisePushSender
from hub.notify.push import DeliveryError, Push
from hub.private_logs import keep_secrets_out_of_logs, printable
from nursery.config import Settings
from tests.support import (
    TEST_CAREGIVER,
    TEST_PASSWORD,
    Mosquitto,
    RunningHub,
    api_token,
    free_port,
    hub_settings,
    wait_until,
)
from tests.support.processes import NurseryProcess
from tests.support.push import Receiver
from tests.support.secure_broker import BASE, CertificateAuthority, SecureMosquitto

COLD_ROOM = "bedroom"
USERS = {
    "hub": "hub-pw-" + uuid.uuid4().hex,
    "firmware-nursery": "fw-nursery-pw-" + uuid.uuid4().hex,
    "firmware-bedroom": "fw-bedroom-pw-" + uuid.uuid4().hex,
}
RULES: dict[str, object] = {"cold_for_s": 0.3, "stale_after_s": 60.0, "drop_c": 15.0}
ALERTS: dict[str, object] = {"repeat_after_s": [600.0], "max_per_hour": 1000}


class Secrets:
    """Everything that must never reach a log, collected as the scenario makes it."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {
            "caregiver password": TEST_PASSWORD,
            "a wrong password tried": "wrong-" + uuid.uuid4().hex,
            "episode notes": "notes-" + uuid.uuid4().hex,
            "edited episode notes": "edited-" + uuid.uuid4().hex,
            "episode notes via the API": "api-notes-" + uuid.uuid4().hex,
            "push service password": "push-pw-" + uuid.uuid4().hex,
            "push URL path token": "push-token-" + uuid.uuid4().hex,
            **{f"MQTT password of {user}": password for user, password in USERS.items()},
        }

    def push_url(self, receiver: Receiver) -> str:
        password = self.values["push service password"]
        token = self.values["push URL path token"]
        return f"json://family:{password}@127.0.0.1:{receiver.port}/hook/{token}"

    def found_in(self, text: str) -> list[str]:
        return [name for name, value in self.values.items() if value in text]


class ColdRoom:
    """The bedroom's Pi, in-process, publishing 12 °C every 50 ms over TLS."""

    def __init__(self, settings: Settings) -> None:
        self.boot = new_boot_id()
        self.publisher = Publisher(settings, self.boot)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        seq = 0
        while not self.stop.wait(0.05):
            reading = ReadingMessage(COLD_ROOM, self.boot, seq, datetime.now(UTC), 12.0, 50.0)
            self.publisher.publish_reading(reading)
            seq += 1

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        self.publisher.close()


def scenario(url: str, token: str, receiver: Receiver, secrets: Secrets) -> None:
    """What a household does in a day, through the hub's HTTP interface."""
    bearer = {"Authorization": f"Bearer {token}"}
    secrets.values["API token"] = token
    with httpx.Client(base_url=url, timeout=10, headers={"Origin": url}) as phone:
        wrong = {"name": TEST_CAREGIVER, "password": secrets.values["a wrong password tried"]}
        assert phone.post("/login", data=wrong).status_code == 401
        signed_in = phone.post(
            "/login?next=/", data={"name": TEST_CAREGIVER, "password": TEST_PASSWORD}
        )
        assert signed_in.status_code == 303, signed_in.text
        secrets.values["session cookie"] = phone.cookies[SESSION_COOKIE]
        csrf = phone.get("/api/auth/me").json()["csrf_token"]
        secrets.values["CSRF token"] = csrf
        changes = {CSRF_HEADER: csrf}

        # The cold room's alert, pushed (the first try fails) and answered on the phone.
        alert = wait_until(
            lambda: [a for a in phone.get("/api/alerts").json() if a["room"] == COLD_ROOM],
            timeout=30,
            what="the cold alert",
        )[0]
        wait_until(lambda: receiver.answered, timeout=30, what="the push, after one failure")
        push = json.loads(receiver.answered[0].body)
        for sig in re.findall(r"sig=([\w-]+)", json.dumps(push)):
            secrets.values[f"push link signature {sig[:6]}"] = sig
        acked = phone.post(f"/api/alerts/{alert['id']}/ack", headers=changes)
        assert acked.status_code == 200, acked.text
        assert acked.json()["state"] == "acknowledged"

        # Episodes: logged and edited on the phone, one more through the API.
        started = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
        episode = {"room": COLD_ROOM, "started_at": started, "duration_s": 45}
        made = phone.post(
            "/api/episodes",
            json={**episode, "notes": secrets.values["episode notes"], "fever": True},
            headers=changes,
        )
        assert made.status_code == 201, made.text
        edited = phone.patch(
            f"/api/episodes/{made.json()['id']}",
            json={"notes": secrets.values["edited episode notes"]},
            headers=changes,
        )
        assert edited.status_code == 200, edited.text
        earlier = (datetime.now(UTC) - timedelta(hours=3)).isoformat()
        by_api = httpx.post(
            url + "/api/episodes",
            json={
                **episode,
                "started_at": earlier,
                "notes": secrets.values["episode notes via the API"],
            },
            headers=bearer,
            timeout=10,
        )
        assert by_api.status_code == 201, by_api.text
        listed = phone.get("/api/episodes").json()
        assert {e["notes"] for e in listed} >= {secrets.values["edited episode notes"]}
        assert phone.post("/logout", headers=changes).status_code == 303


@pytest.fixture
def secure(tmp_path: Path) -> Iterator[SecureMosquitto]:
    broker = SecureMosquitto(tmp_path / "broker", CertificateAuthority(tmp_path, "home"), USERS)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    service = Receiver(fail_times=1)
    yield service
    service.stop()


def settings_as(
    tmp_path: Path, secure: SecureMosquitto, user: str, **sections: dict[str, object]
) -> Settings:
    return hub_settings(tmp_path, secure.port, BASE, mqtt=secure.mqtt_settings(user), **sections)


@pytest.mark.slow
def test_no_secret_in_the_logs_of_an_in_process_run(
    tmp_path: Path,
    secure: SecureMosquitto,
    receiver: Receiver,
    start_hub: Callable[[Settings], RunningHub],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    secrets = Secrets()
    port = free_port()
    settings = settings_as(
        tmp_path,
        secure,
        "hub",
        hub={"http_port": port},
        rules=RULES,
        alerts=ALERTS,
        notify={"urls": [secrets.push_url(receiver)], "public_url": f"http://127.0.0.1:{port}"},
    )
    hub = start_hub(settings)
    room_settings = settings_as(
        tmp_path / "pi", secure, "firmware-bedroom", firmware={"room": COLD_ROOM}
    )
    cold = ColdRoom(room_settings)
    try:
        scenario(hub.url, hub.token, receiver, secrets)
    finally:
        cold.close()
    hub.stop()
    # httpx and httpcore are this test's own HTTP client, the phone (the hub uses neither,
    # and the process test below reads the hub's whole log).
    records = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
    lines = [record.getMessage() for record in records]
    lines += [str(record.args) for record in records]  # what another handler could show
    lines += [record.exc_text or "" for record in records]
    assert len(lines) > 30  # the run did log
    assert any("push" in line and "delivered" in line for line in lines)
    assert secrets.found_in("\n".join(lines)) == []


@pytest.mark.slow
def test_no_secret_in_the_logs_of_hub_and_firmware_processes(
    tmp_path: Path, secure: SecureMosquitto, receiver: Receiver
) -> None:
    secrets = Secrets()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    db = tmp_path / "hub.db"
    token = api_token(db)
    hub = NurseryProcess(
        tmp_path,
        "hub",
        {
            **secure.env("hub"),
            "NURSERY_HUB__DB": str(db),
            "NURSERY_HUB__HTTP_PORT": str(port),
            "NURSERY_HUB__CLIENT_ID": f"hub-{port}",
            "NURSERY_RULES__COLD_FOR_S": "0.3",
            "NURSERY_RULES__DROP_C": "15",
            "NURSERY_ALERTS__REPEAT_AFTER_S": "[600]",
            "NURSERY_NOTIFY__URLS": json.dumps([secrets.push_url(receiver)]),
            "NURSERY_NOTIFY__PUBLIC_URL": url,
        },
        "--log-level",
        "debug",
    )
    firmware: NurseryProcess | None = None
    cold: ColdRoom | None = None
    try:

        def serving() -> bool:
            assert hub.proc.poll() is None, hub.log.read_text()[-3000:]
            try:
                health = httpx.get(url + "/healthz", timeout=2).json()
                return bool(health["parts"]["mqtt"] == "ok")
            except httpx.TransportError:
                return False

        wait_until(serving, timeout=30, what="the hub to serve and connect over TLS")
        firmware = NurseryProcess(
            tmp_path,
            "firmware",
            {
                **secure.env("firmware-nursery"),
                "NURSERY_FIRMWARE__ROOM": "nursery",
                "NURSERY_FIRMWARE__SENSOR": "simulated",
                "NURSERY_FIRMWARE__INTERVAL_S": "0.2",
                "NURSERY_FIRMWARE__OUTBOX": str(tmp_path / "fw-outbox.db"),
            },
            "--log-level",
            "debug",
        )
        cold = ColdRoom(
            settings_as(tmp_path / "pi", secure, "firmware-bedroom", firmware={"room": COLD_ROOM})
        )
        scenario(url, token, receiver, secrets)
        rooms = httpx.get(url + "/api/rooms", headers={"Authorization": f"Bearer {token}"})
        assert {room["room"] for room in rooms.json()} == {"nursery", COLD_ROOM}
    finally:
        if cold is not None:
            cold.close()
        firmware_log = firmware.finish() if firmware is not None else ""
        hub_log = hub.finish()
    assert "connected to MQTT broker" in firmware_log
    assert "push" in hub_log and "delivered" in hub_log
    for name, text in (("hub", hub_log), ("firmware", firmware_log)):
        assert "Traceback" not in text, name
        assert secrets.found_in(text) == [], f"{name}'s log"


# --- device strings and mistyped push URLs -------------------------------------------------


def test_a_fault_from_a_device_cannot_forge_a_log_line(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A fault's `error` is the device's own text: a newline in it would print a second,
    made-up line in the hub's log, and an escape sequence would repaint the terminal."""
    caplog.set_level(logging.INFO)
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    forged = "2026-12-05 03:00:00,000 ERROR nursery.hub: all rooms fine, alerts off"
    error = f"DHT timeout\n{forged}\r\x1b[2J\u202egnp.\u2028\\n"
    fault = FaultMessage("nursery", new_boot_id(), datetime.now(UTC), error, 3)
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        client.publish(fault_topic(base_topic, "nursery"), fault.encode(), qos=1).wait_for_publish(
            5
        )
        wait_until(
            lambda: [r for r in caplog.records if "sensor fault in nursery" in r.getMessage()],
            what="the fault's log line",
        )
    finally:
        client.disconnect()
        client.loop_stop()
    assert hub.get("/healthz").json()["messages"]["faults"] == 1
    (line,) = [r.getMessage() for r in caplog.records if "sensor fault" in r.getMessage()]
    assert "\n" not in line and "\r" not in line and "\x1b" not in line
    assert "\u202e" not in line and "\u2028" not in line
    assert (
        "DHT timeout\\n2026-12-05 03:00:00,000 ERROR nursery.hub: all rooms fine, alerts off"
        "\\r\\x1b[2J\\u202egnp.\\u2028\\\\n" in line
    )
    assert not any(r.getMessage().startswith(forged) for r in caplog.records)


def test_printable_keeps_ordinary_text_and_escapes_the_rest() -> None:
    assert printable("Sensor not found, check wiring (pin 4) · 23 °C") == (
        "Sensor not found, check wiring (pin 4) · 23 °C"
    )
    assert printable("a\tb\x00c\x7fd\u200be") == "a\\tb\\x00c\\x7fd\\u200be"
    assert printable("x" * 300, limit=10) == "x" * 10 + "…"


MISTYPED = (
    "ntfy:/ntfy.sh/{secret}",  # one slash: Apprise cannot parse it
    "ntfyy://ntfy.sh/{secret}",  # a scheme with a typo
    "nfty://{secret}@ntfy.sh/topic",
    "tgram://bot{secret}/",  # a Telegram token without its chat
    "pover://{secret}@",  # Pushover without its token
    "gotify:///{secret}",
)


class Collected(logging.Handler):
    """What a handler on the root logger gets: where `nursery hub` writes its log (pytest's
    caplog cannot tell, as it also hangs itself on loggers that do not propagate)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name}: {record.getMessage()}")


@pytest.fixture
def hub_log() -> Iterator[Collected]:
    """The root logger at DEBUG (`--log-level debug`) with a handler that keeps each line."""
    root = logging.getLogger()
    handler, level = Collected(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.mark.parametrize("template", MISTYPED)
def test_a_mistyped_push_url_never_reaches_the_log(template: str, hub_log: Collected) -> None:
    """Apprise logs a URL it cannot parse whole, secret topic or token included, and many
    of its plugins quote the token they refuse. The hub's log must hold neither; the
    delivery error names the channel without them."""
    keep_secrets_out_of_logs()  # as create_app does
    secret = "Sec" + uuid.uuid4().hex
    url = template.format(secret=secret)
    push = Push(1, url, Message("Room cold", "The nursery is 15 °C.", "high"))
    with pytest.raises(DeliveryError) as failed:
        ApprisePushSender(timeout_s=1).send(push)
    assert secret not in str(failed.value)
    assert [line for line in hub_log.lines if secret in line] == []
