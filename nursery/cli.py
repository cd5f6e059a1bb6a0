"""The `nursery` command: `demo`, `hub` and `firmware`, each building its settings once."""

from __future__ import annotations

import argparse
import importlib.util
import logging
import signal
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from mqttlink.settings import SettingsError
from nursery.backup_args import add_backup_commands
from nursery.config import Settings, load_settings
from nursery.config_file import describe as describe_config
from nursery.config_file import find_config
from nursery.history_args import add_export_parser, add_replay_parser

EXIT_BAD_SETTINGS = 2
# Our packages: a ModuleNotFoundError that names one is a bug, not a missing extra.
_OURS = frozenset({"contract", "mqttlink", "firmware", "hub", "dashboard", "nursery"})
# What the `hub` extra installs, by import name: every command but `firmware` may need it,
# some only after a prompt (adduser hashes the password it asked for), so it is checked first.
_HUB_EXTRA = (
    "fastapi",
    "uvicorn",
    "apprise",
    "argon2",
    "fpdf",
    "prometheus_client",
    "jinja2",
    "httpx",
    "cryptography",
    "segno",
)

_DESCRIPTION = """\
Nursery monitor: a Raspberry Pi reads a DHT22/DHT11 sensor and publishes over MQTT; the
hub stores the readings and serves a dashboard. Settings come from a nursery.toml (--config,
else NURSERY_CONFIG, else the first of ./nursery.toml, ~/.config/nursery-monitor/ and
/etc/nursery-monitor/) and NURSERY_<SECTION>__<KEY> environment variables; see the README.
"""


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config",
        type=Path,
        metavar="PATH",
        help="TOML settings file (default: NURSERY_CONFIG, else the first found of "
        "./nursery.toml, ~/.config/nursery-monitor/nursery.toml and "
        "/etc/nursery-monitor/nursery.toml)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="how much to log (default: info)",
    )


def build_parser() -> argparse.ArgumentParser:
    # Raw: a path in the last line must stay whole, never broken at its hyphens.
    settings_line = textwrap.fill(
        describe_config(find_config()), width=88, break_long_words=False, break_on_hyphens=False
    )
    parser = argparse.ArgumentParser(
        prog="nursery",
        description=_DESCRIPTION,
        epilog=settings_line,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    from importlib.metadata import PackageNotFoundError, version

    try:
        dist_version = version("nursery-monitor")
    except PackageNotFoundError:
        dist_version = "unknown"
    parser.add_argument("--version", action="version", version=f"%(prog)s {dist_version}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = commands.add_parser(
        "demo",
        help="run a broker, a simulated sensor, the hub and the dashboard on this machine",
        description="Start everything on this machine and print the dashboard URL: an MQTT "
        "broker (mosquitto when installed, else a built-in Python broker), the firmware with "
        "a simulated sensor, and the hub. Ctrl-C stops all of it. Ignores NURSERY_* settings.",
    )
    demo.add_argument(
        "--http-port",
        type=int,
        default=8000,
        help="dashboard port; the demo stops and says so when it is busy (default: 8000)",
    )
    demo.add_argument(
        "--broker",
        choices=["auto", "mosquitto", "embedded"],
        default="auto",
        help="auto: mosquitto when on PATH, else the embedded Python broker (default: auto)",
    )
    demo.add_argument(
        "--scenario",
        choices=["steady", "cold-night", "flaky"],
        default="cold-night",
        help="what the simulated sensor plays (default: cold-night)",
    )
    demo.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="seconds between simulated readings (default: 2)",
    )
    demo.add_argument(
        "--log-level",
        default="warning",
        choices=["debug", "info", "warning", "error"],
        help="how much the hub and firmware log (default: warning)",
    )

    hub = commands.add_parser(
        "hub",
        help="run the hub: MQTT ingest, history, HTTP API and dashboard",
        description="Subscribe to every room's readings and status, store them in SQLite "
        "(hub.db) and serve the dashboard and API on hub.http_host:hub.http_port.",
    )
    _add_common(hub)

    firmware = commands.add_parser(
        "firmware",
        help="run on the Pi: read the sensor and publish readings over MQTT",
        description="Read the DHT sensor (or the simulated one) every firmware.interval_s and "
        "publish each reading to <base_topic>/<room>/reading. Stops cleanly on SIGTERM/Ctrl-C.",
    )
    _add_common(firmware)
    firmware.add_argument(
        "--check",
        action="store_true",
        help="check the wiring: read the sensor a few times, print what it got, and exit "
        "(stop the firmware service first: the sensor has one reader)",
    )

    notify_test = commands.add_parser(
        "notify-test",
        help="send a test push to every configured channel and say which worked",
        description="Send one test notification to each Apprise URL in notify.urls and "
        "notify.caregivers, right now, and print the result per channel (secrets hidden). "
        "Exits 1 when a channel failed or none is configured.",
    )
    _add_common(notify_test)

    adduser = commands.add_parser(
        "adduser",
        help="add a caregiver who may sign in to the dashboard (or set a new password)",
        description="Add caregiver NAME to the hub's database (hub.db), or give an existing "
        "one a new password (which lifts its lock-outs and ends its sessions and API tokens). "
        "The password is read from stdin when stdin is not a terminal, else asked for twice.",
    )
    _add_common(adduser)
    adduser.add_argument("name", metavar="NAME", help="the caregiver's sign-in name")

    status = commands.add_parser(
        "status",
        help="one screen: broker, hub, heartbeat, each room and push channel; exit 1 if any fails",
        description="Check every part of the monitor from the hub: the broker answers, the hub "
        "answers and says its parts work, the heartbeat's pings land, each room's last reading "
        "is fresh with no open alert, and each push channel's last delivery. Exits 0 when all "
        "is well and 1 when anything needs a look, for cron or a monitoring system. Run it as "
        "the hub's user: it reads hub.db (read-only).",
    )
    _add_common(status)

    rooms = commands.add_parser(
        "rooms", help="add a room fed by a Zigbee2MQTT, ESPHome, Shelly or Tasmota sensor"
    )
    rooms_add = rooms.add_subparsers(dest="rooms_command", required=True).add_parser(
        "add",
        help="list the sensors seen on the broker, pick one, print its hub.sources lines",
        description="Listen to the broker for Zigbee2MQTT, ESPHome, Shelly and Tasmota "
        "temperature sensors, list them, and print the hub.sources lines for the one you "
        "pick (docs/sources.md); your configuration file is not changed.",
    )
    _add_common(rooms_add)
    rooms_add.add_argument(
        "--listen-s", type=float, default=5.0, help="seconds to listen (default: 5)"
    )

    token = commands.add_parser(
        "token",
        help="make, list or revoke API tokens, for Home Assistant or scripts",
        description="Make a new API token for caregiver NAME and print it once. Send it as "
        "'Authorization: Bearer <token>'; it acts as that caregiver until it expires, is "
        "revoked, or the caregiver gets a new password. --list shows every token (never "
        "the secret); --revoke ID ends one at once.",
    )
    _add_common(token)
    which = token.add_mutually_exclusive_group(required=True)
    which.add_argument("name", metavar="NAME", nargs="?", help="the caregiver the token acts for")
    which.add_argument(
        "--list",
        action="store_true",
        help="list every token: id, caregiver, label, created, expires, last used",
    )
    which.add_argument("--revoke", type=int, metavar="ID", help="end the token with this id")
    token.add_argument("--label", help="what a new token is for (default: automation)")
    token.add_argument(
        "--expires",
        type=_days,
        metavar="DAYS",
        help=f"a new token stops working after DAYS days (1-{MAX_TOKEN_DAYS}; default: never)",
    )
    add_backup_commands(commands, _add_common)

    add_export_parser(commands, _add_common)
    add_replay_parser(commands, _add_common)
    return parser


MAX_TOKEN_DAYS = 3650


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise argparse.ArgumentTypeError(f"must be a whole number of days, 1 to {MAX_TOKEN_DAYS}")
    return days


def _configure_logging(level: str) -> None:
    from nursery.log_format import log_handler

    logging.basicConfig(level=level.upper(), handlers=[log_handler(sys.stderr)])


def _settings(config: Path | None) -> Settings:
    try:
        return load_settings(config)
    except SettingsError as exc:
        for line in str(exc).splitlines():
            print(f"nursery: bad setting: {line}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_SETTINGS) from None


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()

    def handle(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
    return stop


def run_firmware(settings: Settings) -> int:
    from firmware.runner import run
    from firmware.sensors import SensorUnavailable

    stop = _stop_on_signals()
    try:
        run(settings, stop)
    except SensorUnavailable as exc:
        print(f"nursery: {exc}", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command != "firmware":
            _require_hub_extra()
        return _run(args)
    except ModuleNotFoundError as exc:
        # The hub's commands import its web stack only here, so that a firmware-only Pi
        # (the [firmware,pi] extras) runs without it; there, they say what to install.
        missing = (exc.name or "").partition(".")[0]
        if args.command == "firmware" or not missing or missing in _OURS:
            raise
        extra = "demo" if args.command == "demo" else "hub"
        print(
            f"nursery {args.command}: {missing} is not installed here; this command needs "
            f"pip install 'nursery-monitor[{extra}]' (docs/install.md)",
            file=sys.stderr,
        )
        return 1


def _require_hub_extra() -> None:
    """ModuleNotFoundError for the first module of the `hub` extra that is not installed."""
    for name in _HUB_EXTRA:
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)


def _run(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from nursery.demo import DemoOptions, run_demo

        return run_demo(
            DemoOptions(
                http_port=args.http_port,
                broker=args.broker,
                scenario=args.scenario,
                interval_s=args.interval,
                log_level=args.log_level,
            )
        )
    settings = _settings(args.config)
    _configure_logging(args.log_level)
    if args.command == "hub":
        from hub.service import serve

        return serve(settings)
    if args.command == "notify-test":
        from nursery.notify_test_command import notify_test

        return notify_test(settings)
    if args.command in ("export", "replay"):
        from nursery import export_command, replay_command

        run = export_command.run_export if args.command == "export" else replay_command.run_replay
        return run(settings, args)
    if args.command == "status":
        from nursery.status_command import show_status

        return show_status(settings)
    if args.command in ("backup", "restore"):
        from nursery.backup_commands import run_backup_command

        return run_backup_command(settings, args)
    if args.command == "rooms":
        from nursery.rooms_commands import add_room

        return add_room(settings, args.listen_s)
    if args.command in ("adduser", "token"):
        from nursery import account_commands

        if args.command == "adduser":
            return account_commands.add_user(settings, args.name)
        if args.name is None and (args.label is not None or args.expires is not None):
            print(
                "nursery token: --label and --expires go with NAME, for a new token",
                file=sys.stderr,
            )
            return EXIT_BAD_SETTINGS
        if args.list:
            return account_commands.list_tokens(settings)
        if args.revoke is not None:
            return account_commands.revoke_token(settings, args.revoke)
        label = args.label or "automation"
        return account_commands.new_token(settings, args.name, label, args.expires)
    if args.check:
        return check_sensor(settings)
    return run_firmware(settings)


def check_sensor(settings: Settings) -> int:
    """`nursery firmware --check`: the pins, a few reads, each printed (firmware/check.py)."""
    from firmware.gpio_workdir import use_private_gpio_workdir

    use_private_gpio_workdir()  # from any directory, as the service does in its own
    from firmware.check import check_wiring

    return check_wiring(settings, _stop_on_signals())


if __name__ == "__main__":
    sys.exit(main())
