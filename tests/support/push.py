"""A push service on loopback (Apprise's json:// or ntfy posts to it) that records, fails
or hangs on demand."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() on arrival
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        data = json.loads(self.body)
        assert isinstance(data, dict)
        return data


class Receiver:
    """A push service on 127.0.0.1 that records what it gets; it can fail or hang."""

    def __init__(self, port: int = 0, fail_times: int = 0, hang_s: float = 0.0) -> None:
        self.requests: list[Received] = []
        self.answered: list[Received] = []  # got a 200
        self.fail_times = fail_times
        self.hang_s = hang_s
        self.release = threading.Event()  # ends a hang early at teardown
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Received(
                    time.monotonic(), self.path, dict(self.headers), self.rfile.read(length)
                )
                with receiver._lock:
                    receiver.requests.append(request)
                    failing = receiver.fail_times > 0
                    receiver.fail_times -= int(failing)
                if receiver.hang_s:
                    receiver.release.wait(receiver.hang_s)
                try:
                    self.send_response(500 if failing else 200)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"error": "boom"}' if failing else b'{"id": "x"}')
                except OSError:
                    return  # the client gave up waiting
                if not failing:
                    with receiver._lock:
                        receiver.answered.append(request)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def url(self, path: str = "hook") -> str:
        return f"json://127.0.0.1:{self.port}/{path}"

    def titles(self) -> list[str]:
        with self._lock:
            return [str(r.json()["title"]) for r in self.answered]

    def stop(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
