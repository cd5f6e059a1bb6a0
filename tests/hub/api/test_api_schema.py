"""Schemathesis against the hub's own OpenAPI schema, over real HTTP with an API token:
every operation gets generated requests, valid and not; no answer may be a 5xx, and every
answer must match the schema the hub publishes (its body, its content type).

Bounded (a few examples per operation) so it stays well under a minute; run it with more
by setting SCHEMATHESIS_EXAMPLES.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from paho.mqtt.enums import CallbackAPIVersion
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
)

from contract.messages import ReadingMessage, new_boot_id
from contract.topics import reading_topic
from tests.support import Mosquitto, RunningHub, hub_settings, wait_until
from tests.support.env import setting_names

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "12"))
ROOM = "nursery"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory, broker: Mosquitto) -> Iterator[RunningHub]:
    """One hub for every operation, with a room that has a reading, so the generated
    requests reach the code behind the 404s too."""
    base = f"s{uuid.uuid4().hex[:10]}"
    saved = {k: os.environ.pop(k) for k in setting_names()}
    running = RunningHub(hub_settings(tmp_path_factory.mktemp("schema"), broker.port, base))
    try:
        wait_until(running.mqtt_connected, what="the hub to connect")
        client = mqtt.Client(CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", broker.port)
        client.loop_start()
        message = ReadingMessage(ROOM, new_boot_id(), 0, datetime.now(UTC), 18.5, 50.0)
        client.publish(reading_topic(base, ROOM), message.encode(), qos=1).wait_for_publish(5)
        client.disconnect()
        client.loop_stop()
        wait_until(lambda: running.get("/api/rooms").json(), what="the first reading")
        yield running
    finally:
        running.stop()
        os.environ.update(saved)


def published_schema() -> dict[str, object]:
    """The OpenAPI document the hub serves at /openapi.json, built as create_app builds it
    (the test below checks the running hub serves this same one)."""
    from hub.app import create_app
    from nursery.config import Settings

    return create_app(Settings(), ingest=False).openapi()


schema = schemathesis.openapi.from_dict(published_schema())


def test_the_hub_serves_the_schema_under_test(hub: RunningHub) -> None:
    assert hub.get("/openapi.json").json() == published_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_within_its_schema(
    case: schemathesis.Case[Any], hub: RunningHub
) -> None:
    case.call_and_validate(
        base_url=hub.url,
        headers=hub.headers,
        checks=[not_a_server_error, response_schema_conformance, content_type_conformance],
    )
