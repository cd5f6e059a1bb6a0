"""A heartbeat service on loopback (Healthchecks, Uptime Kuma or a plain URL) that
answers every ping `200 OK` and keeps what it was sent."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.support.ports import free_port


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic()
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes


class Receiver:
    """An HTTP server on loopback that answers every request `200 OK`, as Healthchecks
    does, and keeps what it was sent."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                with receiver.arrived:
                    receiver.requests.append(
                        Received(
                            time.monotonic(),
                            self.command,
                            parts.path,
                            parse_qs(parts.query),
                            self.rfile.read(length),
                        )
                    )
                    receiver.arrived.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            do_GET = do_POST = _record

            def log_message(self, *args: object) -> None:
                pass

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def to(self, path: str) -> list[Received]:
        with self.arrived:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, what: str, predicate: Callable[[], bool], timeout: float) -> None:
        with self.arrived:
            assert self.arrived.wait_for(predicate, timeout), f"timed out waiting for {what}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
