"""The real push sender: one push through Apprise, in the calling thread, with timeouts."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from hub import messages
from hub.messages import Priority
from hub.notify.push import Action, DeliveryError, Push
from hub.notify.redaction import redact_url, scrub

if TYPE_CHECKING:
    import apprise  # imported on the first send: a hub that never pushes never loads it

# Apprise's priority names per URL scheme; the message's priority replaces any in the URL.
# On ntfy an alert (high) already gets the top level, max (5): the one a phone can let
# through Do Not Disturb for ntfy (docs/notify.md). Pushover's "emergency" repeats until
# acknowledged in its own app, which our own acknowledge button could not stop, so urgent
# maps to "high" there.
_PRIORITY_PARAM: dict[str, dict[Priority, str]] = {
    "ntfy": {"low": "low", "default": "default", "high": "max", "urgent": "max"},
    "gotify": {"low": "low", "default": "normal", "high": "high", "urgent": "emergency"},
    "pover": {"low": "moderate", "default": "normal", "high": "high", "urgent": "high"},
}
_SCHEME_FAMILY = {"ntfys": "ntfy", "gotifys": "gotify"}


def _with_params(url: str, params: dict[str, str], drop: Sequence[str] = ()) -> str:
    """The URL with these query parameters set (and `drop` removed), the rest of the
    query kept byte for byte: re-encoding it could change a token."""
    base, _, query = url.partition("?")
    replaced = set(params) | set(drop)
    kept = [
        segment
        for segment in query.split("&")
        if segment and unquote(segment.partition("=")[0]).lower() not in replaced
    ]
    added = [f"{key}={quote(value, safe='')}" for key, value in params.items()]
    return base + "?" + "&".join(kept + added)


def _query_value(url: str, key: str) -> str | None:
    query = url.partition("?")[2]
    for segment in query.split("&"):
        name, _, value = segment.partition("=")
        if unquote(name).lower() == key:
            return unquote(value)
    return None


def _ntfy_actions(actions: Sequence[Action]) -> str:
    """ntfy's JSON action format: unlike the simple one it survives commas in URLs and
    non-ASCII labels (escaped), and ntfy reads it from the same header."""
    return json.dumps(
        [
            {"action": "http", "label": a.label, "url": a.url, "method": "POST", "clear": a.clear}
            for a in actions
        ]
    )


class ApprisePushSender:
    """Sends one push through Apprise, in the calling thread, with socket timeouts.

    The Apprise object for each URL actually sent (priority, tags and buttons included) is
    built once and kept, the last `keep` of them: building one took 0.3–0.4 ms of a
    1.3–1.5 ms send on the development machine (until the receiver had the body). Apprise's
    own throttle is off on them (a reused object would wait up to 5.5 s between two sends
    to one service); the dispatcher paces each channel itself. ntfy pushes with buttons
    carry signed links in their URL, so each of those is built afresh. `timeout_s` bounds
    connecting and each read; a hung DNS lookup can still take longer, which is why the
    dispatcher runs each channel in its own thread.
    """

    def __init__(self, timeout_s: float = 10.0, keep: int = 32) -> None:
        self.timeout_s = timeout_s
        self.keep = keep
        self._asset: apprise.AppriseAsset | None = None  # made with the first notifier
        # Prepared URL → its Apprise object. One send per channel at a time (the
        # dispatcher's rule) means one user per object; the lock guards the dict only.
        self._notifiers: OrderedDict[str, apprise.Apprise] = OrderedDict()
        self._notifiers_lock = threading.Lock()

    def prepare(self, push: Push) -> tuple[str, str]:
        """The Apprise URL and body actually sent: priority, tags and buttons added."""
        url, body = push.url, push.message.body
        scheme = url.partition("://")[0].lower()
        family = _SCHEME_FAMILY.get(scheme, scheme)
        params: dict[str, str] = {}
        drop: list[str] = []
        if family in _PRIORITY_PARAM:
            params["priority"] = _PRIORITY_PARAM[family][push.message.priority]
        if family == "ntfy":
            user_tags = _query_value(url, "xtags") or _query_value(url, "tags") or ""
            tags = [t for t in user_tags.split(",") if t] + list(push.message.tags)
            if tags:
                params["xtags"] = ",".join(dict.fromkeys(tags))
                drop.append("tags")  # the legacy spelling; xtags now carries both
            if push.actions:
                params["actions"] = _ntfy_actions(push.actions)
        elif push.actions:
            body = messages.with_links(body, [(a.label, a.url) for a in push.actions])
        if params:
            url = _with_params(url, params, drop)
        return url, body

    def _notifier(self, url: str, where: str) -> apprise.Apprise:
        """The Apprise object for this prepared URL: the kept one, or a new one kept.

        Only the URL's own Apprise plugin is imported (hub.notify.apprise_plugins), not all of
        them: some 20 MiB less on a Pi.
        """
        import apprise

        from hub.notify.apprise_plugins import service as apprise_service

        with self._notifiers_lock:
            notifier = self._notifiers.get(url)
            if notifier is not None:
                self._notifiers.move_to_end(url)
                return notifier
            if self._asset is None:
                self._asset = apprise.AppriseAsset(
                    service_timeout=0,  # no Apprise worker pool: the caller owns the thread
                    storage_mode=apprise.PersistentStoreMode.MEMORY,  # nothing on the SD card
                    result_log_disk_size=0,
                )
            asset = self._asset
        try:
            service = apprise_service(url, asset)
        except Exception as exc:  # a plugin may raise on a malformed URL
            raise DeliveryError(
                f"{where}: not a usable Apprise URL ({type(exc).__name__})"
            ) from exc
        if service is None:
            raise DeliveryError(f"{where}: not a valid Apprise URL")
        service.socket_connect_timeout = self.timeout_s
        service.socket_read_timeout = self.timeout_s
        service.request_rate_per_sec = 0  # no throttle of Apprise's own: see the class
        notifier = apprise.Apprise(asset=asset)
        notifier.add(service)
        with self._notifiers_lock:
            self._notifiers[url] = notifier
            while len(self._notifiers) > self.keep:
                self._notifiers.popitem(last=False)
        return notifier

    def send(self, push: Push) -> None:
        import apprise

        url, body = self.prepare(push)
        where = redact_url(push.url)
        notifier = self._notifier(url, where)
        urgent = push.message.priority in ("high", "urgent")
        try:
            result = notifier.notify(
                body=body,
                title=push.message.title,
                notify_type=apprise.NotifyType.WARNING if urgent else apprise.NotifyType.INFO,
            )
        except Exception as exc:
            raise DeliveryError(f"{where}: {type(exc).__name__}: {scrub(str(exc), url)}") from exc
        if result:
            return
        problems = [e.message for e in result.logs() if e.level in ("WARNING", "ERROR")]
        reason = problems[-1] if problems else f"delivery failed ({result.status.name.lower()})"
        raise DeliveryError(f"{where}: {scrub(reason, url)}")
