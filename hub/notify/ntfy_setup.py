"""A phone on ntfy in one scan: a long random topic on the configured server, its Apprise
URL, the address the QR code holds (ntfy's web and phone apps open it) and the QR drawn."""

from __future__ import annotations

import io
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

TOPIC_BYTES = 24  # 192 random bits: the topic is the only secret on a public server


@dataclass(frozen=True, slots=True)
class NtfyTopic:
    server: str  # `https://ntfy.sh`: scheme and host, as notify.ntfy_server holds it
    topic: str

    @classmethod
    def new(cls, server: str) -> NtfyTopic:
        """A topic nobody can guess: token_urlsafe's letters are the ones ntfy allows."""
        return cls(server, "nursery-" + secrets.token_urlsafe(TOPIC_BYTES))

    @classmethod
    def from_apprise_url(cls, url: str) -> NtfyTopic | None:
        """The topic a stored ntfy channel sends to; None for another kind of channel, or
        one with a password or options (not made by `new`)."""
        scheme, _, rest = url.partition("://")
        host, _, topic = rest.partition("/")
        if scheme not in ("ntfy", "ntfys") or not topic or "/" in topic or "?" in topic:
            return None
        if "@" in host or not host:
            return None
        return cls(f"{'https' if scheme == 'ntfys' else 'http'}://{host}", topic)

    @property
    def _secure(self) -> bool:
        return urlsplit(self.server).scheme == "https"

    @property
    def _host(self) -> str:
        return urlsplit(self.server).netloc

    @property
    def apprise_url(self) -> str:
        """What the hub sends to: ntfys:// over https, ntfy:// for a plain-http server."""
        return f"{'ntfys' if self._secure else 'ntfy'}://{self._host}/{self.topic}"

    @property
    def subscribe_url(self) -> str:
        """The topic's page on its server: a camera opens it, the web app subscribes
        there, and ntfy's docs give it as what the phone app's `ntfy://` link equals."""
        return f"{self.server}/{self.topic}"

    @property
    def app_link(self) -> str:
        """The Android app's documented deep link (docs.ntfy.sh, "ntfy:// links")."""
        tail = "" if self._secure else "?secure=false"
        return f"ntfy://{self._host}/{self.topic}{tail}"


def qr_svg(text: str) -> str:
    """`text` as a QR code in SVG, drawn here (no web service). segno is imported on the
    first code drawn, so an idle hub's memory does not grow."""
    import segno

    code = segno.make(text, error="m")
    out = io.BytesIO()
    code.save(
        out,
        kind="svg",
        scale=6,
        border=4,
        xmldecl=False,
        svgns=True,
        omitsize=True,
        svgclass="qr",
        lineclass=None,
        dark="#000",
        light="#fff",
        title="QR code of the address to subscribe to",
    )
    return out.getvalue().decode("utf-8")
