"""Loopback ports for the tests' servers, handed out once per run."""

from __future__ import annotations

import random
import socket

# Below Linux's ephemeral range (32768-60999), so no client socket of this machine (a
# test's own connections, the broker's, the browser's) can take a port between the moment
# it is handed out and the moment a test's server binds it.
_LISTEN_PORTS = range(20000, 32768)
_handed_out: set[int] = set()


def free_port() -> int:
    """A loopback port free now, never handed out before in this run."""
    for _ in range(1000):
        port = random.choice(_LISTEN_PORTS)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free loopback port between 20000 and 32767")
