"""The container image's entrypoint: settings kept in the data volume, never root, and the
hub (with Debian's Mosquitto beside it when asked); docs/container.md."""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from nursery.container_broker import BrokerError, BrokerFiles, add_login, prepare_broker, tool

DATA = Path("/data")
CONFIG_NAME = "nursery.toml"
EXIT_REFUSED = 2
HEALTH_TIMEOUT_S = 5.0
BROKER_START_S = 15.0
STOP_TIMEOUT_S = 20.0
# `nursery` commands run as they are, on the volume's settings.
PASSED_ON = ("adduser", "token", "status", "notify-test")

_CONFIG_TEXT = """\
# nursery-monitor in a container. Written by the image on its first start and kept after:
# edit it here, in the data volume, or set NURSERY_<SECTION>__<KEY> environment variables,
# which win over this file (docs/container.md; every setting is in README.md).

[hub]
db = "{db}"
# Listen on every address of the container; the engine publishes the port.
http_host = "0.0.0.0"
http_port = 8000
"""


def say(text: str) -> None:
    print(f"nursery-container: {text}", file=sys.stderr, flush=True)


def check_user(data: Path) -> str | None:
    """Why this process may not run the hub here, or None: never as root, and only on a
    data volume it can write."""
    if os.geteuid() == 0:
        return (
            "refusing to run as root: the image runs as its own user (uid 10001); "
            "drop `user: root` or `--user 0`"
        )
    if not data.is_dir():
        return f"{data} is missing: mount the data volume there"
    if not os.access(data, os.W_OK | os.X_OK):
        return (
            f"{data} is not writable by uid {os.geteuid()}: give the volume to that user "
            f"(on the host: chown -R {os.geteuid()}:{os.getegid()} <the volume's folder>)"
        )
    return None


def ensure_config(data: Path) -> Path:
    """The volume's nursery.toml, written 0600 on the first start and kept after."""
    path = data / CONFIG_NAME
    if not path.exists():
        text = _CONFIG_TEXT.format(db=data / "nursery.db")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        say(f"first start: wrote {path} (edit it there, or set NURSERY_* variables)")
    return path


def _nursery(command: str, config: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "nursery", command, "--config", str(config), *args]


def _settings(config: Path) -> tuple[int, str, int, str]:
    """(mqtt.port, hub.http_host, hub.http_port, mqtt.base_topic), or SystemExit naming the
    bad key, as `nursery` itself says it."""
    from mqttlink.settings import SettingsError
    from nursery.config import load_settings

    try:
        settings = load_settings(config)
    except SettingsError as exc:
        for line in str(exc).splitlines():
            say(f"bad setting: {line}")
        raise SystemExit(EXIT_REFUSED) from None
    hub = settings.hub
    return settings.mqtt.port, hub.http_host, hub.http_port, settings.mqtt.base_topic


def health(config: Path) -> int:
    """The image's health check: the hub's /healthz answers 200 (broker, database, alert
    checks and pushes all working). Prints the hub's one-word answer."""
    _, host, port, _ = _settings(config)
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(host, host)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/healthz"
    try:
        with urllib.request.urlopen(url, timeout=HEALTH_TIMEOUT_S) as answer:
            status, body = answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except OSError as exc:
        print(f"unhealthy: {url} did not answer ({exc})")
        return 1
    try:
        parts = json.loads(body).get("parts", {})
    except ValueError:
        parts = {}
    failing = sorted(name for name, state in parts.items() if state != "ok")
    if status == 200:
        print("healthy")
        return 0
    print(f"unhealthy: {url} answered {status}" + (f" ({', '.join(failing)})" if failing else ""))
    return 1


def _wait_for_port(port: int, broker: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + BROKER_START_S
    while time.monotonic() < deadline and broker.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            time.sleep(0.1)
        else:
            return True
    return False


def _stop(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    """SIGTERM each still running, in order (the hub before its broker), then SIGKILL."""
    for proc in procs:
        if proc.returncode is None:
            proc.terminate()
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_with_mosquitto(data: Path, config: Path) -> int:
    """Mosquitto and the hub as two children; when either stops, both stop and the
    container exits, so its restart policy starts both again."""
    mqtt_port, http_host, _, base_topic = _settings(config)
    try:
        files = prepare_broker(data, mqtt_port, http_host, base_topic)
        broker = subprocess.Popen([tool("mosquitto"), "-c", str(files.conf)], cwd=data)
    except BrokerError as exc:
        say(str(exc))
        return 1
    files.pid.write_text(f"{broker.pid}\n", encoding="ascii")
    if not _wait_for_port(mqtt_port, broker):
        say(f"mosquitto did not start on port {mqtt_port} (its log is above)")
        _stop([broker])
        return 1
    env = {
        **os.environ,
        "NURSERY_MQTT__HOST": "127.0.0.1",
        "NURSERY_MQTT__USERNAME": files.hub_login,
        "NURSERY_MQTT__PASSWORD": files.hub_password(),
    }
    hub = subprocess.Popen(_nursery("hub", config), env=env, cwd=data)
    children = {broker.pid: broker, hub.pid: hub}
    stopping = False

    def forward(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        _stop([proc for proc in (hub, broker) if proc.returncode is None])

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while True:
        # PID 1 adopts every orphan in the container: reap those too, until one of ours ends.
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        if pid in children:
            children[pid].returncode = os.waitstatus_to_exitcode(status)
            break
    first = next((proc for proc in (hub, broker) if proc.returncode is not None), hub)
    name = "the hub" if first is hub else "mosquitto"
    if not stopping:
        say(f"{name} stopped (exit status {first.returncode}): stopping the other")
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _stop([hub, broker])
    files.pid.unlink(missing_ok=True)
    return 0 if stopping else (first.returncode or 1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nursery-container",
        description="The nursery-monitor image's entrypoint: settings in the data volume's "
        "nursery.toml (written on the first start), the hub as a non-root user.",
    )
    parser.add_argument("--data", type=Path, default=DATA, help="the data volume (default: /data)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    hub = commands.add_parser("hub", help="run the hub (the image's default command)")
    hub.add_argument(
        "--with-mosquitto",
        action="store_true",
        help="run Debian's Mosquitto in the container too, logins and ACL in the volume",
    )
    commands.add_parser("health", help="exit 0 when the hub's /healthz says it works")
    device = commands.add_parser(
        "add-device", help="a broker login for a room's Pi (with --with-mosquitto)"
    )
    device.add_argument("room", metavar="ROOM")
    commands.add_parser(
        "add-homeassistant", help="a broker login for Home Assistant (with --with-mosquitto)"
    )
    for name in PASSED_ON:
        passed = commands.add_parser(name, help=f"`nursery {name}` on the volume's settings")
        passed.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    data: Path = args.data.absolute()
    problem = check_user(data)
    if problem:
        say(problem)
        return EXIT_REFUSED
    config = ensure_config(data)
    if args.command == "health":
        return health(config)
    if args.command in ("add-device", "add-homeassistant"):
        _, _, _, base_topic = _settings(config)
        try:
            login = add_login(BrokerFiles(data), base_topic, getattr(args, "room", None))
        except BrokerError as exc:
            say(str(exc))
            return EXIT_REFUSED
        print(f"login: {login.name}\npassword: {login.password}")
        return 0
    if args.command == "hub" and args.with_mosquitto:
        return run_with_mosquitto(data, config)
    from nursery.cli import main as nursery

    os.chdir(data)
    return nursery([args.command, "--config", str(config), *getattr(args, "args", [])])


if __name__ == "__main__":
    sys.exit(main())
