"""What of a push channel's URL may be logged: `scheme://host` and a fingerprint, no secret."""

from __future__ import annotations

import hashlib
import ipaddress
import re
from urllib.parse import unquote

_HOST_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9-]{1,63})+$")
_URL_IN_TEXT_RE = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")


def _hostname(url: str) -> str:
    rest = url.partition("://")[2]
    netloc = re.split(r"[/?#]", rest, maxsplit=1)[0]
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.partition(":")[0]


def _looks_like_host(host: str) -> bool:
    """A real host name or address, not a token in the host position (tgram://TOKEN/…)."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return host.lower() == "localhost" or bool(_HOST_RE.match(host.lower()))
    return True


def redact_url(url: str) -> str:
    """`scheme://host #abc123` for logs: the host only when it is one, plus a short
    fingerprint so two channels on one service can be told apart."""
    scheme, sep, _ = url.partition("://")
    fingerprint = hashlib.sha256(url.encode()).hexdigest()[:6]
    if not sep:
        return f"<not a URL> #{fingerprint}"
    host = _hostname(url)
    shown = host if _looks_like_host(host) else "…"
    return f"{scheme.lower()}://{shown} #{fingerprint}"


def _secrets_of(url: str) -> list[str]:
    """The parts of an Apprise URL that may be secret, longest first."""
    rest = url.partition("://")[2]
    netloc, _, tail = rest.partition("/")
    userinfo, at, _ = netloc.rpartition("@")
    parts = [unquote(p) for p in re.split(r"[:]", userinfo)] if at else []
    host_name = _hostname(url)
    if not _looks_like_host(host_name):
        parts.append(host_name)
    path, _, query = tail.partition("?")
    parts += [unquote(p) for p in re.split(r"[/#]", path)]
    parts += [unquote(kv.partition("=")[2]) for kv in query.split("&")]
    return sorted({p for p in parts if len(p) >= 4}, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """An error text without the channel's secrets or any full URL."""
    text = _URL_IN_TEXT_RE.sub(lambda m: redact_url(m.group(0)).split(" #")[0], text)
    for secret in _secrets_of(url):
        text = text.replace(secret, "…")
    return text[:300]
