"""The push dispatcher reads its outbox only when something can be due: an idle hub does
not poll its database every second."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.messages import Message
from hub.notify.dispatcher import Dispatcher
from hub.notify.outbox import PushOutbox
from hub.notify.testing import RecordingSender

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


def dispatcher_at(outbox: PushOutbox, max_per_hour: int = 6) -> Dispatcher:
    return Dispatcher(outbox, RecordingSender(), clock=lambda: NOW, max_per_hour=max_per_hour)


def test_an_empty_outbox_is_read_again_only_to_prune_it(tmp_path: Path) -> None:
    with PushOutbox(tmp_path / "hub.db") as outbox:
        assert dispatcher_at(outbox)._tick() == 3600  # new pushes and ended sends wake it


def test_a_retry_is_waited_for_to_the_moment(tmp_path: Path) -> None:
    with PushOutbox(tmp_path / "hub.db") as outbox:
        push = outbox.enqueue("json://a/x", Message("cold", "body", "high"), now=NOW)
        outbox.failed(push, NOW, "boom", retry_at=NOW + timedelta(seconds=42))
        assert dispatcher_at(outbox)._tick() == 42


def test_a_push_held_by_the_hourly_limit_is_looked_at_every_poll(tmp_path: Path) -> None:
    with PushOutbox(tmp_path / "hub.db") as outbox:
        sent = outbox.enqueue("json://a/x", Message("cold", "body", "high"), now=NOW)
        outbox.delivered(sent, NOW)
        outbox.enqueue("json://a/x", Message("still cold", "body", "high"), now=NOW)
        dispatcher = dispatcher_at(outbox, max_per_hour=1)
        assert dispatcher._tick() == dispatcher.poll_s
        assert outbox.stats(NOW).pending == 1
