"""Words about reaching a phone: the first-run steps, the ntfy QR code, the other services,
the "no phone yet" banner and a channel that stopped getting pushes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from hub.messages.push import Message

ROOM_HINT = (
    "What do you call the baby's room? Every page and alert will use this name, "
    'like "Leo\'s room is cold".'
)
NO_ROOM_YET = (
    "No monitor has reported yet. Once the monitor is on, its room shows here to be named; "
    "you can add your phone now."
)
ROOM_SAVED = "Saved: pages and alerts use this name now."
PHONE_LABEL = "Phone"  # the name a phone added by QR code gets in the channel list
NO_PHONE_BANNER = "No phone will be told about a cold room yet: add your phone"
ADD_PHONE_LINK = "Add this phone with a QR code (ntfy, no account needed)"
NTFY_PITCH = (
    "The simplest way: the free ntfy app. No account needed; the hub makes a private "
    "address only your phone knows."
)
NTFY_SCAN = "Scan this code with the phone's camera, or open the link on the phone."
NTFY_APP_LINK = "Open in the ntfy app (Android)"
ARRIVED_QUESTION = "Did it arrive?"
ARRIVED_YES = "Yes"
ARRIVED_NO = "No, help me"
ARRIVED_THANKS = "Good: this phone will be told when the room needs you."
TEST_SENDING = "Sending a test push…"
TEST_SENT = "Sent. Look at the phone: a notification called “Nursery monitor: test notification”."
HELP_NOT_ARRIVED = (
    "Check that the ntfy app is subscribed to the address above (the same server and the "
    "same long name), that notifications for ntfy are allowed in the phone's settings, and "
    "that the phone is online. Then send the test again."
)


def ntfy_manual(server: str, topic: str) -> tuple[str, str]:
    """The manual way, in two lines: install the app, subscribe to this topic."""
    where = "" if server == "https://ntfy.sh" else f" (server: {server})"
    return (
        "1. Install the ntfy app (App Store, Google Play or F-Droid).",
        f"2. In the app, tap + and subscribe to {topic}{where}.",
    )


def test_failed(error: str) -> str:
    return f"The test push was not accepted: {error}. Check the address and try again."


@dataclass(frozen=True, slots=True)
class Service:
    """Another way to be told, with what it needs in plain words."""

    name: str
    needs: str
    example: str


NTFY_SERVICE = Service(
    "ntfy",
    'The free ntfy app, no account. "Add this phone with a QR code" makes the address for '
    "you; to use a topic of your own, subscribe to it in the app.",
    "ntfys://ntfy.sh/your-topic",
)
SERVICES: tuple[Service, ...] = (
    Service(
        "Pushover",
        "A Pushover account (paid once per device). You need your user key and an "
        "application token you create on pushover.net.",
        "pover://user_key@app_token",
    ),
    Service(
        "Telegram",
        "A Telegram bot you make by talking to @BotFather (it gives you a token), and "
        "the number of the chat it should write to.",
        "tgram://bot_token/chat_id",
    ),
    Service(
        "Gotify",
        "Your own Gotify server, and an application token made in its web page.",
        "gotifys://gotify.example.com/app_token",
    ),
    Service(
        "Email",
        "An email account the hub may send from: its address, password and mail server.",
        "mailtos://user:password@example.com",
    ),
    Service(
        "Home Assistant app",
        "Home Assistant with its companion app on the phone. In Home Assistant, import "
        'the nursery monitor\'s "alert to phone" blueprint and pick the room and the '
        "phone; nothing to add here (the guide: docs/home-assistant.md).",
        "",
    ),
)


def _day(ts: datetime, now: datetime) -> str:
    """`14:02` today, `yesterday`, a weekday within the week, else `3 Dec`."""
    local, today = ts.astimezone(), now.astimezone()
    days = (today.date() - local.date()).days
    if days <= 0:
        return f"{local:%H:%M}"
    if days == 1:
        return "yesterday"
    if days < 7:
        return f"{local:%A}"
    return f"{local.day} {local:%b}"


def not_reaching(who: str, since: datetime, now: datetime) -> str:
    """`Alex's phone has not received pushes since Tuesday`."""
    return f"{who} has not received pushes since {_day(since, now)}"


def _thing(label: str) -> str:
    thing = label.strip() or "phone"
    thing = thing[3:] if thing.lower().startswith("my ") else thing
    return f"{thing[:1].lower()}{thing[1:]}"


def channel_name(caregiver: str, label: str) -> str:
    """`Alex's phone` from a caregiver and their channel's name."""
    return f"{caregiver}'s {_thing(label)}"


def your_channel(label: str) -> str:
    """`Your phone`: a caregiver's own channel, on their settings page."""
    return f"Your {_thing(label)}"


def channel_down_push(who: str, since: datetime, now: datetime) -> Message:
    """To the other caregivers, once, when a caregiver's channel keeps failing."""
    return Message(
        title=f"{who} is not getting alerts",
        body=f"{not_reaching(who, since, now)}. Until that is fixed, alerts still reach "
        "you. A test push can be sent from the monitor's Settings page.",
        priority="default",
        tags=("warning",),
    )


def channel_check_push(every: timedelta) -> Message:
    """The regular quiet check of a channel that has had no push for a while."""
    days = max(1, round(every.total_seconds() / 86400))
    span = "day" if days == 1 else f"{days} days"
    return Message(
        title="Nursery monitor: routine check",
        body=f"The monitor checks every {span} that it can still reach this phone. Nothing to do.",
        priority="low",
        tags=("white_check_mark",),
    )
