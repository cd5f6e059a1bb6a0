"""hub/api/errors.py: the one place our errors become HTTP answers, served for real.

A small app with one route per error, served by uvicorn on a loopback port: each error a
route lets out gets the status and body the hub's API documents (docs/errors.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from types import SimpleNamespace
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from hub.api import errors
from hub.api.deps import SignInRequired
from hub.episodes.log import AlreadyRunning, NotRunning
from hub.episodes.storage import EpisodeStoreError, NotFound
from hub.episodes.validation import EpisodeInvalid, FieldError
from hub.messages import Unit
from hub.monitor.alerts import AlertError
from hub.monitor.watch import UnknownAlert
from hub.preferences import PreferenceError, UnknownChannel
from hub.store.database import StoreError
from tests.support import free_port, wait_until


class Household:
    """What the handlers read of the running hub: the unit the caregivers chose."""

    def unit(self) -> Unit:
        return "F"


RAISED: dict[str, Callable[[], Exception]] = {
    "sign-in": lambda: SignInRequired("/episodes?room=nursery"),
    "store": lambda: StoreError("disk I/O error"),
    "episode-store": lambda: EpisodeStoreError("locked"),
    "invalid": lambda: EpisodeInvalid(
        [FieldError("fever_c", "episode.bad_fever", "fever_c must be 35 to 43")]
    ),
    "not-found": lambda: NotFound("no episode 7"),
    "running": lambda: AlreadyRunning(cast(Any, SimpleNamespace(room="nursery", id=7))),
    "not-running": lambda: NotRunning("episode 7 has ended"),
    "unknown-alert": lambda: UnknownAlert("no alert with id 9"),
    "alert": lambda: AlertError("alert 9 is already resolved"),
    "preference": lambda: PreferenceError("url", "give an Apprise URL"),
    "channel": lambda: UnknownChannel("channel_id", "you have no channel 3"),
}


def raiser(error: Callable[[], Exception]) -> Callable[[], None]:
    def route() -> None:
        raise error()

    return route


def raising_app() -> FastAPI:
    app = FastAPI()
    app.state.hub = Household()
    for name, error in RAISED.items():
        app.add_api_route(f"/{name}", raiser(error), methods=["GET"])
    errors.install(app)
    return app


@pytest.fixture(scope="module")
def served() -> Iterator[str]:
    port = free_port()
    config = uvicorn.Config(raising_app(), host="127.0.0.1", port=port, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="the test app's HTTP server")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=15)


def answer(url: str) -> tuple[int, object]:
    response = httpx.get(url, timeout=10, follow_redirects=False)
    if response.status_code == 303:
        return 303, response.headers["location"]
    return response.status_code, response.json()["detail"]


def field(where: str, name: str, message: str, code: str) -> list[dict[str, object]]:
    return [{"loc": [where, name], "msg": message, "type": code}]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sign-in", (303, "/login?next=/episodes%3Froom%3Dnursery")),
        ("store", (503, "the hub's database is unavailable")),
        ("episode-store", (503, "the episode log is unavailable")),
        ("not-found", (404, field("path", "episode_id", "no episode 7", "episode.not_found"))),
        (
            "running",
            (
                409,
                field(
                    "body",
                    "room",
                    "an episode is already running in nursery (#7)",
                    "episode.running",
                ),
            ),
        ),
        (
            "not-running",
            (409, field("path", "episode_id", "episode 7 has ended", "episode.not_running")),
        ),
        ("unknown-alert", (404, "no alert with id 9")),
        ("alert", (409, "alert 9 is already resolved")),
        ("preference", (422, field("body", "url", "give an Apprise URL", "value_error"))),
        ("channel", (404, "you have no channel 3")),
    ],
)
def test_each_error_gets_its_answer(served: str, name: str, expected: tuple[int, object]) -> None:
    assert answer(f"{served}/{name}") == expected


def test_an_invalid_episode_names_the_field_in_the_households_unit(served: str) -> None:
    status, detail = answer(f"{served}/invalid")
    assert status == 422
    assert isinstance(detail, list) and len(detail) == 1
    assert detail[0]["loc"] == ["body", "fever_c"] and detail[0]["type"] == "episode.bad_fever"
    assert "°F" in detail[0]["msg"]
