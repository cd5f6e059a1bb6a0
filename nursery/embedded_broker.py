"""A small MQTT broker in pure Python (amqtt) so `nursery demo` runs without Mosquitto."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal


async def _serve(port: int) -> None:
    try:
        from amqtt.broker import Broker
    except ImportError as exc:
        raise SystemExit(
            "the embedded broker needs amqtt: pip install 'nursery-monitor[demo]'"
        ) from exc
    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }
    broker = Broker(config)
    await broker.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    with contextlib.suppress(Exception):
        await broker.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=1883, help="TCP port on 127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(_serve(args.port))


if __name__ == "__main__":
    main()
