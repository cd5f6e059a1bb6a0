"""A small ntfy-compatible server on loopback: publishes as Apprise makes them (JSON to the
root, or a body to /<topic>), read back as a phone would (GET /<topic>/json?poll=1)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Published:
    topic: str
    title: str
    message: str
    priority: str  # ntfy's X-Priority header as sent (`max`, `low`…); `default` when absent
    tags: str

    def as_ntfy(self, number: int) -> dict[str, object]:
        """One line of ntfy's JSON stream, as its apps read it."""
        return {
            "id": f"m{number}",
            "time": int(time.time()),
            "event": "message",
            "topic": self.topic,
            "title": self.title,
            "message": self.message,
        }


class NtfyServer:
    """Publishes are kept per topic; a topic in `failing` is answered with ntfy's 500."""

    def __init__(self) -> None:
        self.published: list[Published] = []
        self.failing: set[str] = set()
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, status: int, body: dict[str, object] | str) -> None:
                data = body if isinstance(body, str) else json.dumps(body) + "\n"
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data.encode())))
                self.end_headers()
                self.wfile.write(data.encode())

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                path = urlsplit(self.path).path.strip("/")
                if path:  # POST /<topic>: the body is the message
                    fields = {"topic": path, "message": raw.decode("utf-8", "replace")}
                    fields["title"] = self.headers.get("X-Title", "")
                else:  # POST /: ntfy's JSON publish, what Apprise sends
                    try:
                        fields = json.loads(raw)
                    except ValueError:
                        self._answer(400, {"code": 40001, "error": "invalid request: not JSON"})
                        return
                if str(fields.get("topic", "")) in server.failing:
                    self._answer(500, {"code": 50001, "error": "internal server error"})
                    return
                item = Published(
                    str(fields.get("topic", "")),
                    str(fields.get("title", "")),
                    str(fields.get("message", "")),
                    self.headers.get("X-Priority", "default"),
                    self.headers.get("X-Tags", ""),
                )
                with server._lock:
                    server.published.append(item)
                    number = len(server.published)
                self._answer(200, item.as_ntfy(number))

            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                topic, _, kind = parts.path.strip("/").partition("/")
                if kind != "json" or parse_qs(parts.query).get("poll") != ["1"]:
                    self._answer(404, {"code": 40401, "error": "page not found"})
                    return
                lines = [
                    json.dumps(p.as_ntfy(n)) for n, p in enumerate(server.messages(topic), start=1)
                ]
                self._answer(200, "".join(line + "\n" for line in lines))

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def messages(self, topic: str) -> list[Published]:
        with self._lock:
            return [p for p in self.published if p.topic == topic]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
