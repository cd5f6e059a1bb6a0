"""Security headers on every response the hub sends."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP_DIRECTIVES: Final[Mapping[str, str]] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    # data: for the small SVG icons inside Swagger UI's style sheet
    "img-src": "'self' data:",
    "font-src": "'self'",
    "connect-src": "'self'",
    "manifest-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

PERMISSIONS_POLICY: Final = ", ".join(
    f"{feature}=()"
    for feature in (
        "accelerometer",
        "camera",
        "geolocation",
        "gyroscope",
        "magnetometer",
        "microphone",
        "payment",
        "usb",
    )
)
HSTS: Final = "max-age=31536000"
_INLINE_SCRIPT_RE: Final = re.compile(r"<script>(.*?)</script>", re.DOTALL | re.IGNORECASE)


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    """The policy, allowing besides our own files only the inline scripts with these
    hashes (`'sha256-…'`)."""
    directives = dict(CSP_DIRECTIVES)
    extra = " ".join(f"'{digest}'" for digest in script_hashes)
    if extra:
        directives["script-src"] = f"{directives['script-src']} {extra}"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def inline_script_hashes(html: str) -> list[str]:
    """`sha256-…` of every inline `<script>` in a page of ours, as CSP names them."""
    return [
        "sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in _INLINE_SCRIPT_RE.findall(html)
    ]


def security_headers(https: bool, csp: str | None = None) -> dict[str, str]:
    """Every header a response gets; `csp` replaces the default policy."""
    headers = {
        "Content-Security-Policy": csp or content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Not no-referrer: with it a browser sends `Origin: null` on our own sign-in form,
        # which the login's cross-site check must refuse.
        "Referrer-Policy": "same-origin",
        "Permissions-Policy": PERMISSIONS_POLICY,
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
    }
    if https:
        headers["Strict-Transport-Security"] = HSTS
    return headers


class SecurityHeaders:
    """ASGI middleware adding `security_headers` to every HTTP response; a header the
    route set itself (a page's own CSP) is kept."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in security_headers(scope.get("scheme") == "https").items()
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in extra if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
