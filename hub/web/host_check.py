"""Answer only under the hub's own names: a defence against DNS rebinding."""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from hub import messages
from hub.config import HubConfig
from hub.web.responses import TEXT, send_response

log = logging.getLogger("nursery.hub")
_LOGGED_MAX = 100  # refused names logged once each, at most this many


def _normal(name: str) -> str:
    return name.strip().rstrip(".").lower()


def own_names(settings: HubConfig, hostname: str | None = None) -> frozenset[str] | None:
    """The names the hub answers to (IP addresses aside); None when any name will do."""
    configured = {_normal(name) for name in settings.hub.allowed_hosts}
    if "*" in configured:
        return None
    machine = _normal(hostname if hostname is not None else socket.gethostname())
    names = {"localhost", *configured}
    if machine:
        short = machine.split(".")[0]
        names |= {machine, short, f"{short}.local"}
    public = urlsplit(settings.notify.public_url or "").hostname
    if public:
        names.add(_normal(public))
    if not _is_address(settings.hub.http_host):
        names.add(_normal(settings.hub.http_host))
    return frozenset(names - {""})


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%")[0])  # an IPv6 zone (fe80::1%eth0) aside
    except ValueError:
        return False
    return True


def host_name(header: str) -> str:
    """The name in a Host header, without its port or an IPv6 address's brackets."""
    header = header.strip()
    if header.startswith("[") and "]" in header:
        return _normal(header[1 : header.index("]")])
    if header.count(":") == 1:
        header = header.rpartition(":")[0]
    return _normal(header)


class HostCheck:
    """ASGI middleware: a request whose Host is not one of `names` (nor an IP address)
    gets 400 and a one-line reason; a request without Host (HTTP/1.0) passes."""

    def __init__(self, app: ASGIApp, names: Iterable[str] | None) -> None:
        self.app = app
        self.names = None if names is None else frozenset(_normal(n) for n in names)
        self._logged: set[str] = set()

    def allowed(self, header: str) -> bool:
        if self.names is None:
            return True
        name = host_name(header)
        return name in self.names or _is_address(name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or self.names is None:
            await self.app(scope, receive, send)
            return
        header = next(
            (value.decode("latin-1") for key, value in scope["headers"] if key == b"host"), None
        )
        if header is None or self.allowed(header):
            await self.app(scope, receive, send)
            return
        name = host_name(header)
        if name not in self._logged and len(self._logged) < _LOGGED_MAX:
            self._logged.add(name)
            log.warning("refused a request for host %r: not one of the hub's names", name)
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        body = (messages.host_refused(name) + "\n").encode()
        await send_response(send, 400, body, TEXT, (b"cache-control", b"no-store"))
