"""What a guest on the home Wi-Fi can make the hub hold: request bodies are refused with 413
before they are read (declared, chunked, or lying about their length), slow and idle
connections are closed in time, a crowd of requests gets 503, and every one of these
answers, like a 500 from a failing route, carries the security headers. Real HTTP over
raw sockets against a served hub; the memory figure from a real `nursery hub` process."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from hub.api.auth import MAX_FORM_BYTES
from hub.app import create_app
from hub.service import HttpLimits, server_config
from hub.web.body_limit import DEFAULT_MAX_BODY_BYTES
from nursery.config import Settings
from tests.support import Mosquitto, free_port, hub_settings, wait_until
from tests.support.hub import serving_hub

CAP = 64 * 1024
SIGN_IN_CAP = MAX_FORM_BYTES
FIFTY_MB = 50 * 1024 * 1024


@contextmanager
def served(app: FastAPI, port: int, limits: HttpLimits | None = None) -> Iterator[str]:
    """The app served by the hub's own server configuration on 127.0.0.1:port."""
    server = uvicorn.Server(server_config(app, "127.0.0.1", port, limits))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, timeout=15, what="the hub's HTTP server")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(15)


@pytest.fixture
def settings(tmp_path: Path, clean_env: pytest.MonkeyPatch) -> Settings:
    # No broker: these tests are about HTTP only (ingest off).
    return hub_settings(tmp_path, free_port(), "limits", hub={"max_body_bytes": CAP})


@pytest.fixture
def hub(settings: Settings) -> Iterator[tuple[FastAPI, int]]:
    app = create_app(settings, ingest=False)

    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("a route that fails")

    with served(app, settings.hub.http_port):
        yield app, settings.hub.http_port


def _head(method: str, path: str, port: int, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", *headers, "", ""]
    return "\r\n".join(lines).encode()


def _read_response(sock: socket.socket, timeout: float = 10.0) -> bytes:
    """Whatever the hub sends until it closes the connection (or `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return data


def _announce(port: int, path: str, length: int, content_type: str) -> bytes:
    """POST a head that announces `length` body bytes, send none, and read the answer."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head("POST", path, port, f"Content-Type: {content_type}", f"Content-Length: {length}")
        )
        return _read_response(sock)


def _headers_of(response: bytes) -> dict[str, str]:
    head = response.partition(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")[1:]
    return {name.lower(): value.strip() for name, _, value in (h.partition(":") for h in head)}


def _status(response: bytes) -> int:
    return int(response.split(b" ", 2)[1])


def _has_security_headers(response: bytes) -> bool:
    headers = _headers_of(response)
    return (
        headers.get("x-frame-options") == "DENY"
        and headers.get("x-content-type-options") == "nosniff"
        and "frame-ancestors 'none'" in headers.get("content-security-policy", "")
    )


def _send_body(sock: socket.socket, total: int, chunked: bool) -> tuple[int, bytes]:
    """Send up to `total` body bytes until the hub answers; (bytes sent, its answer)."""
    sock.setblocking(False)
    piece = b"x" * 65536
    sent = 0
    answer = b""
    while sent < total:
        readable, writable, _ = select.select([sock], [sock], [], 10)
        if readable:
            break
        if not writable:
            raise AssertionError("the hub neither read nor answered for 10 s")
        data = f"{len(piece):x}\r\n".encode() + piece + b"\r\n" if chunked else piece
        try:
            sent += sock.send(data)
        except (BrokenPipeError, ConnectionResetError):
            break
    sock.setblocking(True)
    answer = _read_response(sock)
    return sent, answer


@pytest.mark.parametrize("path", ["/login", "/api/episodes", "/setup", "/no-such-route"])
def test_a_declared_body_over_the_cap_is_refused_before_it_is_sent(
    hub: tuple[FastAPI, int], path: str
) -> None:
    """The client sends its head only and waits: the 413 comes anyway, and the hub hangs
    up, so it never reads the 50 MB the client announced."""
    _, port = hub
    answer = _announce(port, path, FIFTY_MB, "application/json")
    assert _status(answer) == 413, answer[:300]
    cap = SIGN_IN_CAP if path in ("/login", "/setup") else CAP  # a sign-in form's own cap
    assert f"at most {cap} bytes".encode() in answer
    assert _headers_of(answer)["connection"] == "close"
    assert _has_security_headers(answer)


@pytest.mark.parametrize("path", ["/login", "/setup"])
def test_a_sign_in_form_over_its_own_cap_is_refused_before_it_is_sent(
    hub: tuple[FastAPI, int], path: str
) -> None:
    """Well under the hub's cap but over the form's: still refused before a byte is read,
    where /login used to read it all and only then say 413."""
    _, port = hub
    answer = _announce(port, path, SIGN_IN_CAP + 1, "application/x-www-form-urlencoded")
    assert _status(answer) == 413, answer[:300]
    assert f"at most {SIGN_IN_CAP} bytes".encode() in answer


def test_a_client_that_asks_to_continue_is_never_told_to(hub: tuple[FastAPI, int]) -> None:
    _, port = hub
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head("POST", "/login", port, "Expect: 100-continue", f"Content-Length: {FIFTY_MB}")
        )
        answer = _read_response(sock)
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:300]


@pytest.mark.parametrize("path", ["/login", "/api/episodes"])
def test_a_chunked_body_is_counted_and_cut_off_at_the_cap(
    hub: tuple[FastAPI, int], path: str
) -> None:
    _, port = hub
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head(
                "POST",
                path,
                port,
                "Content-Type: application/json",
                "Transfer-Encoding: chunked",
            )
        )
        sent, answer = _send_body(sock, FIFTY_MB, chunked=True)
    assert _status(answer) == 413, answer[:300]
    assert _has_security_headers(answer)
    # What the kernel's socket buffers took besides; never the 50 MB.
    assert sent < 16 * 1024 * 1024, f"the hub took {sent} bytes before answering"


def test_a_body_longer_than_its_content_length_is_not_read_on(
    hub: tuple[FastAPI, int],
) -> None:
    """A client that declares 20 bytes and sends 50 MB: the 20 are the request; the rest
    is not a request and the hub hangs up instead of buffering it."""
    _, port = hub
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head("POST", "/login", port, "Content-Type: text/plain", "Content-Length: 20")
        )
        sent, answer = _send_body(sock, FIFTY_MB, chunked=False)
    assert sent < 16 * 1024 * 1024, f"the hub took {sent} bytes before hanging up"
    assert answer  # it answered the 20-byte request, then refused the rest
    assert b"400 Bad Request" in answer
    assert _has_security_headers(answer[answer.rindex(b"HTTP/1.1 400") :])


def test_the_body_cap_is_a_setting_with_a_sane_default() -> None:
    assert Settings().hub.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 256 * 1024


def test_every_error_answer_carries_the_security_headers(hub: tuple[FastAPI, int]) -> None:
    _, port = hub
    url = f"http://127.0.0.1:{port}"
    failed = httpx.get(url + "/test-only/boom", timeout=10)
    assert failed.status_code == 500
    missing = httpx.get(url + "/no-such-page", timeout=10)
    assert missing.status_code == 404
    wrong_method = httpx.delete(url + "/login", timeout=10)
    assert wrong_method.status_code == 405
    unreadable = httpx.post(
        url + "/login", content=b"%ff%fe=\xff", headers={"Origin": url}, timeout=10
    )
    assert unreadable.status_code == 400
    for response in (failed, missing, wrong_method, unreadable):
        assert response.headers["x-frame-options"] == "DENY", response
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"
    # uvicorn's own answer to a request it cannot parse carries them too.
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        answer = _read_response(sock)
    assert _status(answer) == 400
    assert _has_security_headers(answer)


# --- slow, idle and many connections ----------------------------------------------------

SHORT = HttpLimits(keep_alive_s=2, header_timeout_s=1.5, body_timeout_s=1.5, concurrency=8)


@pytest.fixture
def short_hub(settings: Settings) -> Iterator[int]:
    with served(create_app(settings, ingest=False), settings.hub.http_port, SHORT):
        yield settings.hub.http_port


def _closed_after(sock: socket.socket, trickle: Callable[[], object] | None = None) -> float:
    """Seconds until the hub closes `sock` (fails after 15 s), calling `trickle` every
    0.2 s meanwhile."""
    began = time.monotonic()
    sock.setblocking(False)
    while time.monotonic() - began < 15:
        readable, _, _ = select.select([sock], [], [], 0.2)
        if readable:
            try:
                if sock.recv(65536) == b"":
                    return time.monotonic() - began
            except ConnectionResetError:
                return time.monotonic() - began
        elif trickle is not None:
            try:
                trickle()
            except (BrokenPipeError, ConnectionResetError):
                return time.monotonic() - began
    raise AssertionError("the hub held the connection for 15 s")


@pytest.mark.slow
def test_a_connection_that_never_sends_a_request_is_closed(short_hub: int) -> None:
    with socket.create_connection(("127.0.0.1", short_hub)) as sock:
        held = _closed_after(sock)
    assert SHORT.keep_alive_s - 0.5 < held < SHORT.keep_alive_s + 2


@pytest.mark.slow
def test_a_header_sent_a_byte_at_a_time_is_cut_off(short_hub: int) -> None:
    """Slowloris: every byte would reset an idle timer; the head has a deadline instead."""
    header = iter(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000)
    with socket.create_connection(("127.0.0.1", short_hub)) as sock:
        held = _closed_after(sock, lambda: sock.send(bytes([next(header)])))
    assert held < SHORT.header_timeout_s + 1.5


@pytest.mark.slow
def test_a_body_sent_a_byte_at_a_time_is_cut_off(short_hub: int) -> None:
    port = short_hub
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(
            _head("POST", "/login", port, "Content-Type: text/plain", "Content-Length: 1000")
        )
        held = _closed_after(sock, lambda: sock.send(b"a"))
    assert held < SHORT.body_timeout_s + 1.5


def test_a_crowd_of_connections_gets_a_503_with_the_headers(settings: Settings) -> None:
    limits = HttpLimits(concurrency=8)  # the default times: the crowd stays while we look
    port = settings.hub.http_port
    with served(create_app(settings, ingest=False), port, limits):
        idle = [socket.create_connection(("127.0.0.1", port)) for _ in range(limits.concurrency)]
        try:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                sock.sendall(_head("GET", "/livez", port, "Connection: close"))
                answer = _read_response(sock)
            assert _status(answer) == 503, answer[:200]
            assert _has_security_headers(answer)
        finally:
            for sock in idle:
                sock.close()
        # Once they are gone, requests are served again.
        wait_until(
            lambda: httpx.get(f"http://127.0.0.1:{port}/livez", timeout=5).status_code == 200,
            what="the hub to serve again",
        )


# --- the hub's memory under three 50 MB bodies -------------------------------------------


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_three_50_mb_bodies_leave_the_hubs_memory_as_it_was(
    tmp_path: Path, broker: Mosquitto, base_topic: str
) -> None:
    """The issue's probe, against `nursery hub` with its default settings: three clients
    at once, each sending 50 MB to an endpoint that needs no login."""
    hub, port = serving_hub(tmp_path, broker, base_topic)
    try:
        before = _rss_kib(hub.proc.pid)
        results: list[tuple[int, bytes]] = []

        def client(chunked: bool) -> None:
            with socket.create_connection(("127.0.0.1", port)) as sock:
                framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {FIFTY_MB}"
                sock.sendall(_head("POST", "/login", port, "Content-Type: text/plain", framing))
                results.append(_send_body(sock, FIFTY_MB, chunked))

        clients = [threading.Thread(target=client, args=(i == 2,)) for i in range(3)]
        for thread in clients:
            thread.start()
        peak = before
        while any(thread.is_alive() for thread in clients):
            peak = max(peak, _rss_kib(hub.proc.pid))
            clients[0].join(0.05)
        after = _rss_kib(hub.proc.pid)
        print(f"hub RSS: {before} KiB before, {peak} KiB peak, {after} KiB after")
        assert [_status(answer) for _, answer in results] == [413, 413, 413]
        assert all(sent < 16 * 1024 * 1024 for sent, _ in results)
        assert peak - before < 8 * 1024, f"RSS {before} → peak {peak} KiB"
    finally:
        assert hub.stop() == 0, hub.output()
