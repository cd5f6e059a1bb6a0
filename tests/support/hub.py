"""The real hub for a test: in this process behind uvicorn, or as `nursery hub`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from tests.support.env import mqtt_env
from tests.support.ports import free_port
from tests.support.processes import NurseryProcess
from tests.support.wait import wait_until

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from nursery.config import Settings
    from tests.support.mosquitto import Mosquitto

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

    def __init__(
        self,
        settings: Settings,
        *,
        with_caregiver: bool = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
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
        self.app = create_app(settings, clock=clock) if clock else create_app(settings)
        config = server_config(self.app, settings.hub.http_host, self.port)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        wait_until(lambda: self.server.started, timeout=15, what="the hub's HTTP server")

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
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


StartHub = Callable[["Settings"], RunningHub]


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
    return Settings(**values)


def answers(port: int) -> bool:
    """The hub on `port` answers /healthz."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def serving_hub(
    tmp_path: Path, broker: Mosquitto, base_topic: str, env: dict[str, str] | None = None
) -> tuple[NurseryProcess, int]:
    """The real `nursery hub` in its own process, once it answers HTTP; and its port."""
    port = free_port()
    hub = NurseryProcess(
        tmp_path,
        "hub",
        {
            **mqtt_env(broker.port, base_topic),
            "NURSERY_HUB__DB": str(tmp_path / "hub.db"),
            "NURSERY_HUB__HTTP_PORT": str(port),
            "NURSERY_HUB__CLIENT_ID": f"svc-{base_topic}"[:23],
            **(env or {}),
        },
    )
    try:
        wait_until(lambda: answers(port), timeout=30, what="the hub to serve")
    except AssertionError as exc:
        hub.stop()
        raise AssertionError(f"{exc}\n{hub.output()}") from None
    return hub, port
