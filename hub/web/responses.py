"""A short answer sent straight from an ASGI middleware, before any route runs."""

from __future__ import annotations

from starlette.types import Message, Send

JSON = b"application/json"
TEXT = b"text/plain; charset=utf-8"


def response(
    status: int, body: bytes, content_type: bytes, *headers: tuple[bytes, bytes]
) -> tuple[Message, Message]:
    """The response's two ASGI messages: its start (with the body's type and length, then
    `headers`) and its body."""
    start: Message = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            *headers,
        ],
    }
    return start, {"type": "http.response.body", "body": body}


async def send_response(
    send: Send, status: int, body: bytes, content_type: bytes, *headers: tuple[bytes, bytes]
) -> None:
    for message in response(status, body, content_type, *headers):
        await send(message)
