"""/healthz: open to an uptime checker, with no host and no error text; the details (the
broker, the counters, the push channels' last error) only for a caregiver's API token or
dashboard session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from hub.messages import Message
from nursery.config import Settings
from tests.support import (
    TEST_CAREGIVER,
    TEST_PASSWORD,
    Mosquitto,
    RunningHub,
    free_port,
    hub_settings,
    wait_until,
)

PUSH_HOST = "push-gateway-7c1e.invalid"


def test_healthz_shows_details_only_with_a_token(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    dispatcher = hub.app.state.hub.dispatcher
    # A push to a channel that cannot be reached: its error names the service's host.
    dispatcher.enqueue(
        f"json://{PUSH_HOST}:{free_port()}/hook",
        Message("Room cold", "The nursery is 15 °C.", "high"),
    )
    detailed = wait_until(
        lambda: (h := hub.get("/healthz").json())["notifications"]["failing"] and h,
        what="the failing push on /healthz",
    )
    assert PUSH_HOST in detailed["notifications"]["last_error"]
    assert detailed["mqtt"] == {"connected": True, "broker": f"127.0.0.1:{broker.port}"}
    parts = {"mqtt": "ok", "notifications": "degraded", "database": "ok", "alerts": "ok"}
    assert detailed["parts"] == parts

    stranger = httpx.get(hub.url + "/healthz", timeout=10)
    assert stranger.status_code == 503  # degraded: uptime checkers and probes see it
    assert stranger.json() == {
        "status": "degraded",
        "parts": parts,
        "heartbeat": {"state": "off", "last_at": None},
        "storage": {"state": "ok", "problem": None, "since": None},
    }
    assert PUSH_HOST not in stranger.text and str(broker.port) not in stranger.text

    # A made-up token is refused, not answered as a stranger.
    forged = httpx.get(
        hub.url + "/healthz", headers={"Authorization": "Bearer nm_made-up"}, timeout=10
    )
    assert forged.status_code == 401


def test_the_dashboard_session_sees_the_details(
    tmp_path: Path,
    broker: Mosquitto,
    base_topic: str,
    start_hub: Callable[[Settings], RunningHub],
) -> None:
    """The dashboard's push-delivery warning reads /healthz with the parent's session."""
    hub = start_hub(hub_settings(tmp_path, broker.port, base_topic))
    with httpx.Client(base_url=hub.url, timeout=10, headers={"Origin": hub.url}) as phone:
        signed_in = phone.post("/login", data={"name": TEST_CAREGIVER, "password": TEST_PASSWORD})
        assert signed_in.status_code == 303, signed_in.text
        health = phone.get("/healthz").json()
    assert health["mqtt"]["connected"] is True
    assert "messages" in health and "notifications" in health
