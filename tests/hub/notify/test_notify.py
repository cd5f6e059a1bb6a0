"""Push delivery against real HTTP receivers standing in for the push services.

Apprise's `json://` posts {"version", "title", "message", "type"} to a local receiver, and
`ntfy://127.0.0.1:PORT/topic` talks to a local server pretending to be ntfy; the outbox is a
real SQLite file. Time is real except where the hourly limit needs an hour to pass.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contract.messages import ReadingMessage, new_boot_id
from hub import messages
from hub.messages import Message
from hub.monitor.watch import Monitor
from hub.notify.apprise_sender import ApprisePushSender
from hub.notify.dispatcher import DeliveryHealth, Dispatcher, utc_now
from hub.notify.outbox import PushOutbox
from hub.notify.push import Action, DeliveryError, NewPush, Push
from hub.notify.redaction import redact_url
from hub.notify.testing import RecordingSender
from hub.store import database as hub_store
from nursery.config import Settings
from tests.support import free_port, wait_until
from tests.support.push import Receiver

ALERT = Message(
    "Nursery: room is cold (15.2 °C)", "The room is at 15.2 °C.", "high", ("snowflake",)
)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """The hub's database file, which the store creates before the outbox opens it."""
    path = tmp_path / "hub.db"
    sqlite3.connect(path).close()
    return path


@pytest.fixture
def outbox(db_path: Path) -> Iterator[PushOutbox]:
    with PushOutbox(db_path) as box:
        yield box


@pytest.fixture
def dispatchers() -> Iterator[Callable[..., Dispatcher]]:
    started: list[Dispatcher] = []

    def start(
        outbox: PushOutbox,
        timeout_s: float = 5.0,
        clock: Callable[[], datetime] = utc_now,
        max_per_hour: int = 6,
        retry_base_s: float = 0.2,
        retry_max_s: float = 5.0,
    ) -> Dispatcher:
        sender = ApprisePushSender(timeout_s)
        dispatcher = Dispatcher(
            outbox,
            sender,
            clock,
            max_per_hour,
            retry_base_s=retry_base_s,
            retry_max_s=retry_max_s,
        )
        dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in started:
        dispatcher.stop()


class FakeClock:
    """Real time plus an offset, so a test can let an hour pass at once."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


def wait_for_health(
    dispatcher: Dispatcher, check: Callable[[DeliveryHealth], bool], what: str
) -> DeliveryHealth:
    def probe() -> DeliveryHealth | None:
        health = dispatcher.health()
        return health if check(health) else None

    health = wait_until(probe, what=what)
    assert health is not None
    return health


def message(title: str) -> Message:
    return Message(title, f"{title} body", "default")


# --- delivery ------------------------------------------------------------------------


def test_an_enqueued_push_reaches_the_receiver(
    receivers: Callable[..., Receiver], outbox: PushOutbox, dispatchers: Callable[..., Dispatcher]
) -> None:
    receiver = receivers()
    dispatcher = dispatchers(outbox)
    dispatcher.enqueue(receiver.url(), ALERT, incident_id=7)

    wait_until(lambda: receiver.answered, what="the push at the receiver")
    payload = receiver.answered[0].json()
    assert payload["title"] == ALERT.title
    assert payload["message"] == ALERT.body
    assert payload["type"] == "warning"
    assert receiver.answered[0].path == "/hook"
    wait_until(lambda: dispatcher.health().pending == 0, what="the outbox to record it")
    health = dispatcher.health()
    assert health.sent_last_hour == 1
    assert not health.failing
    assert health.last_error is None


@pytest.mark.slow
def test_a_failing_receiver_is_retried_with_backoff_and_shows_in_health(
    receivers: Callable[..., Receiver], outbox: PushOutbox, dispatchers: Callable[..., Dispatcher]
) -> None:
    receiver = receivers(fail_times=3)
    dispatcher = dispatchers(outbox, retry_base_s=0.2, retry_max_s=5.0)
    url = f"json://parent:s3cret-pass@127.0.0.1:{receiver.port}/hook-token-4711"
    dispatcher.enqueue(url, ALERT)

    health = wait_for_health(dispatcher, lambda h: h.failing, "the failure to show in health")
    assert health.pending == 1
    assert health.last_error is not None and "500" in health.last_error
    assert health.last_error_at is not None
    for secret in ("s3cret-pass", "hook-token-4711", "parent"):
        assert secret not in health.last_error

    wait_until(lambda: receiver.answered, what="delivery after the failures")
    assert len(receiver.requests) == 4  # three 500s, then success
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    for attempt, gap in enumerate(gaps):  # 0.2 s, 0.4 s, 0.8 s
        assert 0.2 * 2**attempt * 0.9 <= gap < 0.2 * 2**attempt + 0.8, gaps
    health = wait_for_health(dispatcher, lambda h: h.pending == 0, "the delivery recorded")
    assert not health.failing
    assert health.last_error is not None  # the last error stays visible after recovery


@pytest.mark.slow
def test_a_hanging_receiver_does_not_delay_a_healthy_one(
    receivers: Callable[..., Receiver], outbox: PushOutbox, dispatchers: Callable[..., Dispatcher]
) -> None:
    hanging = receivers(hang_s=10)
    healthy = receivers()
    dispatcher = dispatchers(outbox, timeout_s=2.0)

    start = time.monotonic()
    dispatcher.enqueue(hanging.url(), message("to the hanging one"))
    wait_until(lambda: hanging.requests, what="the hanging receiver to be reached")
    dispatcher.enqueue(healthy.url(), message("to the healthy one"))
    assert time.monotonic() - start < 1.0  # enqueue never waits for a send

    wait_until(lambda: healthy.answered, timeout=5, what="the healthy receiver")
    assert healthy.answered[0].at - start < 1.0  # well before the 2 s timeout ends
    stats = outbox.stats(datetime.now(UTC))
    assert stats.failed_attempts == 0  # the hanging send is still waiting
    assert not hanging.answered

    health = wait_for_health(dispatcher, lambda h: h.failing, "the timeout to count as failed")
    assert health.pending == 1
    assert time.monotonic() - start < 5  # the 2 s timeout, not the receiver's 10 s


def test_the_hourly_limit_holds_the_seventh_push_but_not_a_bypass(
    receivers: Callable[..., Receiver], outbox: PushOutbox, dispatchers: Callable[..., Dispatcher]
) -> None:
    receiver = receivers()
    clock = FakeClock()
    for n in range(1, 8):
        outbox.enqueue(receiver.url(), message(f"push {n}"), now=clock())
    outbox.enqueue(receiver.url(), message("hotter now"), bypass_rate_limit=True, now=clock())
    dispatcher = dispatchers(outbox, clock=clock, max_per_hour=6)

    wait_until(lambda: len(receiver.answered) == 7, what="six pushes and the bypass")
    titles = receiver.titles()
    # The six regular pushes in order; the bypass went while the seventh was held.
    assert [t for t in titles if t != "hotter now"] == [f"push {n}" for n in range(1, 7)]
    assert "hotter now" in titles
    # The receiver answers before the dispatcher records the delivery: wait for the record.
    wait_until(lambda: dispatcher.health().pending == 1, what="only the seventh push held")

    clock.offset = timedelta(minutes=61)  # the hour has passed: the held push goes
    dispatcher.wake()
    wait_until(lambda: len(receiver.answered) == 8, what="the held push")
    held = receiver.answered[-1].json()
    # The phone's lock screen shows the title first: it says the news is old.
    assert held["title"] == "Sent late (1 h 1 min): push 7"
    assert "Sent late: this was raised 1 h 1 min ago." in str(held["message"])


def test_pushes_survive_a_restart(
    receivers: Callable[..., Receiver], db_path: Path, dispatchers: Callable[..., Dispatcher]
) -> None:
    port = free_port()  # nothing listens here yet: the service is down
    url = f"json://127.0.0.1:{port}/hook"
    first = PushOutbox(db_path)
    dispatcher = dispatchers(first, retry_base_s=0.1)
    dispatcher.enqueue(url, ALERT)
    wait_until(lambda: dispatcher.health().failing, what="the first attempt to fail")
    dispatcher.stop()
    first.close()

    receiver = receivers(port=port)
    with PushOutbox(db_path) as second:
        restarted = dispatchers(second, retry_base_s=0.1)
        wait_until(lambda: receiver.answered, what="delivery after the restart")
        wait_until(lambda: restarted.health().pending == 0, what="the delivery recorded")
        assert len(receiver.answered) == 1
        assert receiver.answered[0].json()["title"] == ALERT.title


def test_ntfy_pushes_carry_priority_tags_and_action_buttons(
    receivers: Callable[..., Receiver], outbox: PushOutbox, dispatchers: Callable[..., Dispatcher]
) -> None:
    ntfy = receivers()  # a local server pretending to be ntfy
    ack = "http://nursery.local:8000/api/alerts/7/ack?exp=1767225600&sig=abc,def"
    snooze = "http://nursery.local:8000/api/alerts/7/snooze?exp=1767225600&sig=x&minutes=30"
    dispatcher = dispatchers(outbox)
    dispatcher.enqueue(
        f"ntfy://127.0.0.1:{ntfy.port}/nursery-alerts?tags=baby",
        ALERT,
        incident_id=7,
        actions=(
            Action(messages.ACK_LABEL, ack, clear=True),
            Action(messages.SNOOZE_LABEL, snooze),
        ),
    )

    wait_until(lambda: ntfy.answered, what="the ntfy publish")
    request = ntfy.answered[0]
    payload = request.json()
    assert payload["topic"] == "nursery-alerts"
    assert payload["title"] == ALERT.title
    assert payload["message"] == ALERT.body  # buttons, so no links in the text
    assert request.headers["X-Priority"] == "max"  # an alert sounds through Do Not Disturb
    assert request.headers["X-Tags"] == "baby,snowflake"
    actions = json.loads(request.headers["X-Actions"])
    assert actions == [
        {"action": "http", "label": "I'm on it", "url": ack, "method": "POST", "clear": True},
        {
            "action": "http",
            "label": "Snooze 30 min",
            "url": snooze,
            "method": "POST",
            "clear": False,
        },
    ]


def test_other_services_get_the_links_as_text(
    receivers: Callable[..., Receiver], outbox: PushOutbox, dispatchers: Callable[..., Dispatcher]
) -> None:
    receiver = receivers()
    ack = "http://nursery.local:8000/api/alerts/7/ack?exp=1&sig=s"
    dispatchers(outbox).enqueue(receiver.url(), ALERT, actions=(Action("I'm on it", ack),))
    wait_until(lambda: receiver.answered, what="the push")
    assert receiver.answered[0].json()["message"] == f"{ALERT.body}\n\nI'm on it: {ack}"


def test_new_pushes_start_at_once_yet_keep_channel_order_and_the_hourly_limit(
    outbox: PushOutbox,
) -> None:
    """Pushes handed over at their commit go out from there, by the loop's own rules."""
    now = datetime.now(UTC)
    alert = outbox.enqueue("json://a/x", message("cold"), now=now)
    outbox.failed(alert, now, "boom", retry_at=now + timedelta(minutes=5))  # backing off
    earlier = outbox.enqueue("json://b/x", message("earlier"), now=now)
    outbox.delivered(earlier, now)  # channel b has used its one push this hour
    sender = RecordingSender()
    dispatcher = Dispatcher(outbox, sender, clock=lambda: now, max_per_hour=1, poll_s=60)
    dispatcher.start()
    try:
        outbox.enqueue_many(
            [
                NewPush("json://a/x", message("back to normal")),
                NewPush("json://b/x", message("over the limit")),
                NewPush("json://b/x", message("hotter now"), bypass_rate_limit=True),
                NewPush("json://c/x", message("a free channel")),
            ],
            now=now,
            committed=dispatcher.wake,
        )
    finally:
        dispatcher.stop()  # waits for every send it started
    # "back to normal" waits behind the alert it ends; the limit holds all but the bypass.
    assert sorted(p.message.title for p in sender.sent) == ["a free channel", "hotter now"]
    assert dispatcher.health().pending == 3


def test_pushes_are_committed_before_they_are_handed_over_and_synced_before_enqueue_returns(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sending may start while the disk catches up, but never from outside the outbox,
    and a push is safe from a power cut once the hub goes on."""
    events: list[tuple[str, object]] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        events.append(("fsync", str(Path(f"/proc/self/fd/{fd}").readlink())))
        real_fsync(fd)

    def committed(pushes: Sequence[Push]) -> None:
        other = sqlite3.connect(db_path)  # another connection sees them: committed
        try:
            rows = other.execute("SELECT id, url FROM pushes ORDER BY id").fetchall()
        finally:
            other.close()
        events.append(("handed over", rows))

    monkeypatch.setattr(os, "fsync", fsync)
    with PushOutbox(db_path) as outbox:
        stored = outbox.enqueue_many(
            [NewPush("json://a/x", ALERT), NewPush("json://b/x", ALERT)],
            now=datetime.now(UTC),
            committed=committed,
        )
        assert events == [
            ("handed over", [(push.id, push.url) for push in stored]),
            ("fsync", f"{db_path.resolve()}-wal"),  # one fsync for both
        ]


def test_one_decision_pages_every_channel_from_one_commit(
    tmp_path: Path,
    receivers: Callable[..., Receiver],
    dispatchers: Callable[..., Dispatcher],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Both phones get the cold page; the monitor wrote it with one commit and one fsync."""
    family, grandparent = receivers(), receivers()
    settings = Settings(
        hub={"db": tmp_path / "hub.db"},
        rules={"cold_for_s": 0, "cool_below_c": 16.0, "drop_c": 15.0},
        notify={"urls": [family.url("family"), grandparent.url("grandparent")]},
    )
    store = hub_store.Store(settings.hub.db)
    outbox = PushOutbox(settings.hub.db)
    dispatcher = dispatchers(outbox)
    monitor = Monitor(settings, store, outbox, utc_now, wake_dispatcher=dispatcher.wake)
    boot = new_boot_id()

    def feed(seq: int, temperature: float) -> None:
        now = datetime.now(UTC)
        reading = ReadingMessage("nursery", boot, seq, now, temperature, 50.0)
        monitor.on_readings(store.add_readings([hub_store.Received(reading, now)]))

    for seq, temperature in enumerate([19.0, 19.0, 19.0, 15.0]):  # the median stays warm
        feed(seq, temperature)
    assert dispatcher.health().pending == 0 and not family.requests
    synced: list[str] = []
    real_fsync = os.fsync
    me = threading.current_thread()

    def fsync(fd: int) -> None:
        if threading.current_thread() is me:  # not the sends recording their outcome
            synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    feed(4, 15.0)  # the median turns cold: one decision, two channels
    assert synced == [f"{settings.hub.db.resolve()}-wal"]
    wait_until(lambda: family.answered and grandparent.answered, what="both phones paged")
    for receiver in (family, grandparent):
        assert receiver.titles() == ["Nursery: room is cold (15.0 °C)"]
    store.close()


def test_a_second_push_to_the_same_service_is_not_held_back(
    receivers: Callable[..., Receiver],
) -> None:
    """The sender keeps its Apprise object per URL; Apprise's own throttle (5.5 s for
    ntfy) must not hold the next alert to the same phone."""
    ntfy = receivers()
    sender = ApprisePushSender(timeout_s=5)
    url = f"ntfy://127.0.0.1:{ntfy.port}/nursery-alerts"
    start = time.monotonic()
    sender.send(Push(1, url, ALERT))
    sender.send(Push(2, url, ALERT))  # the same URL sent: the kept object
    assert len(ntfy.answered) == 2
    assert time.monotonic() - start < 2.0


def test_a_bad_url_fails_without_leaking_it(outbox: PushOutbox) -> None:
    sender = ApprisePushSender(timeout_s=1)
    push = Push(1, "nosuchservice://tok3n-secret@somewhere/x", ALERT)
    with pytest.raises(DeliveryError) as caught:
        sender.send(push)
    assert "not a valid Apprise URL" in str(caught.value)
    assert "tok3n-secret" not in str(caught.value)


def test_stop_is_prompt(outbox: PushOutbox) -> None:
    dispatcher = Dispatcher(outbox, RecordingSender(), poll_s=60)
    dispatcher.start()
    start = time.monotonic()
    dispatcher.stop()
    assert time.monotonic() - start < 1


# --- the outbox and the sender without a network ------------------------------------


def test_outbox_keeps_each_channel_in_order(outbox: PushOutbox) -> None:
    now = datetime.now(UTC)
    first = outbox.enqueue("json://a/x", message("cold"), now=now)
    outbox.enqueue("json://a/x", message("back to normal"), now=now)
    other = outbox.enqueue("json://b/x", message("other channel"), now=now)
    assert [p.id for p in outbox.due(now)] == [first, other]

    outbox.failed(first, now, "boom", retry_at=now + timedelta(seconds=30))
    # "back to normal" waits behind the alert it ends, even while that one backs off.
    assert [p.id for p in outbox.due(now)] == [other]
    upgrade = outbox.enqueue("json://a/x", message("hot"), bypass_rate_limit=True, now=now)
    assert [p.id for p in outbox.due(now)] == [upgrade, other]

    later = outbox.due(now + timedelta(seconds=31))
    retry = next(p for p in later if p.id == first)
    assert retry.attempts == 1
    outbox.delivered(first, now + timedelta(seconds=31))
    assert outbox.sent_count("json://a/x", now) == 1
    stats = outbox.stats(now + timedelta(seconds=31))
    assert (stats.pending, stats.failed_attempts, stats.last_error) == (3, 0, "boom")


def test_outbox_round_trips_a_push(outbox: PushOutbox) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    actions = (Action("I'm on it", "https://h/ack", clear=True), Action("Snooze", "https://h/s"))
    push_id = outbox.enqueue(
        "ntfys://ntfy.sh/topic", ALERT, incident_id=3, actions=actions, now=now
    )
    (push,) = outbox.due(now)
    assert push == Push(push_id, "ntfys://ntfy.sh/topic", ALERT, 3, actions, False, 0, now)


def test_redact_url_keeps_scheme_and_host_only() -> None:
    assert redact_url("json://user:pw@example.com:8080/path?token=x").startswith(
        "json://example.com #"
    )
    assert redact_url("ntfy://127.0.0.1:8080/topic").startswith("ntfy://127.0.0.1 #")
    # A token in the host position is not a host.
    assert redact_url("tgram://123456789:AAHsecret/987").startswith("tgram://… #")
    assert redact_url("ntfy://my-private-topic").startswith("ntfy://… #")
    assert redact_url("json://a/x") != redact_url("json://a/y")  # told apart


def test_prepare_sets_priority_and_keeps_the_users_parameters() -> None:
    sender = ApprisePushSender()
    url, body = sender.prepare(
        Push(1, "ntfys://ntfy.example.com/t?token=tk_a%2Bb&priority=min&tags=x", ALERT)
    )
    assert url == "ntfys://ntfy.example.com/t?token=tk_a%2Bb&priority=max&xtags=x%2Csnowflake"
    assert body == ALERT.body
    urgent = Message("t", "b", "urgent")
    gotify, _ = sender.prepare(Push(1, "gotify://host/token", urgent))
    assert gotify == "gotify://host/token?priority=emergency"
    mail, _ = sender.prepare(Push(1, "mailto://u:p@example.com", urgent))
    assert mail == "mailto://u:p@example.com"
