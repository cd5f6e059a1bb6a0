"""scripts/install-pi run into a directory, and the Pi it describes: its broker and logins."""

from __future__ import annotations

import os
import pwd
import queue
import shlex
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.support.mosquitto import Mosquitto
from tests.support.paths import ROOT
from tests.support.ports import free_port

SCRIPT = ROOT / "scripts" / "install-pi"
ETC = "etc/nursery-monitor"


def install(root: Path, args: str) -> subprocess.CompletedProcess[str]:
    """Run the installer with `args` (split like a shell would), writing under `root`."""
    return subprocess.run(
        ["bash", str(SCRIPT), *shlex.split(args), "--output", str(root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def installed(root: Path, args: str) -> str:
    result = install(root, args)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def read_env(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return {key: value for key, value in pairs if not key.startswith("#")}


def login(root: Path, service: str) -> tuple[str, str]:
    env = read_env(root / ETC / f"{service}.env")
    return env["NURSERY_MQTT__USERNAME"], env["NURSERY_MQTT__PASSWORD"]


def debian_mosquitto_conf(root: Path) -> None:
    """What Debian's mosquitto package ships as mosquitto.conf, pointed into `root`.

    It already sets persistence_location, which is why the generated file must not.
    `user` keeps a broker started as root from dropping to `mosquitto`, which could not
    read the test's temporary directory.
    """
    conf = root / "etc/mosquitto/mosquitto.conf"
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(
        "persistence true\n"
        f"persistence_location {root}/var/lib/mosquitto/\n"
        f"include_dir {root}/etc/mosquitto/conf.d\n"
        f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
    )


class InstalledBroker(Mosquitto):
    """A real mosquitto on the configuration the installer wrote under `root`."""

    def __init__(self, root: Path, port: int) -> None:
        super().__init__(root, port, config_file=root / "etc/mosquitto/mosquitto.conf")
        self.root = root


class Session:
    """One MQTT 3.1.1 client that records its CONNACK, SUBACKs and messages."""

    def __init__(
        self,
        port: int,
        username: str | None = None,
        password: str | None = None,
        client_id: str = "",
    ):
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311
        )
        self.client.reconnect_delay_set(60, 60)  # a kicked-off session stays off: it shows
        if username is not None:
            self.client.username_pw_set(username, password)
        self.messages: queue.Queue[tuple[str, bytes, bool]] = queue.Queue()
        self.connack: queue.Queue[ReasonCode] = queue.Queue()
        self.subacks: queue.Queue[int] = queue.Queue()
        self.disconnects: queue.Queue[ReasonCode] = queue.Queue()
        self.client.on_connect = lambda c, u, f, reason, p: self.connack.put(reason)
        self.client.on_disconnect = lambda c, u, f, reason, p: self.disconnects.put(reason)
        self.client.on_subscribe = lambda c, u, mid, reasons, p: self.subacks.put(mid)
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, bytes(m.payload), m.retain)
        )
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.reason = self.connack.get(timeout=5)

    @property
    def accepted(self) -> bool:
        return not self.reason.is_failure

    def subscribe(self, topic: str) -> None:
        _, mid = self.client.subscribe(topic, qos=1)
        assert self.subacks.get(timeout=5) == mid

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """QoS 1 and wait for the PUBACK (Mosquitto acks a denied publish too)."""
        self.client.publish(topic, payload, qos=1, retain=retain).wait_for_publish(5)

    def next(self) -> tuple[str, bytes, bool]:
        return self.messages.get(timeout=5)

    def topics(self, count: int) -> list[str]:
        """The topics of the next `count` messages, fewer if they stop coming."""
        topics: list[str] = []
        try:
            while len(topics) < count:
                topics.append(self.messages.get(timeout=2)[0])
        except queue.Empty:
            pass
        return topics

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@dataclass
class Hub:
    """A Pi the installer set up: its root, broker port and output, and the broker."""

    root: Path
    port: int
    output: str
    broker: InstalledBroker


@contextmanager
def installed_pi(root: Path) -> Iterator[Hub]:
    """`--role both` on one Pi, with its broker running on the generated configuration."""
    port = free_port()
    debian_mosquitto_conf(root)
    output = installed(
        root, f"--role both --room nursery --mqtt-port {port} --mqtt-listen 127.0.0.1"
    )
    broker = InstalledBroker(root, port)
    broker.start()
    try:
        yield Hub(root, port, output, broker)
    finally:
        broker.stop()


# What a chroot or an image build looks like to the installer, made with a private mount
# namespace on this machine: every system path it writes is a fresh tmpfs (the rc?.d
# links a copy), and systemd's runtime directory is hidden, so nothing says systemd runs.
# Its own paths go under WORK by option; --user nobody, so no user is added to this host.
NAMESPACE_SCRIPT = r"""
set -euo pipefail
work=$1
shift
for dir in /etc/systemd/system /etc/mosquitto /var/lib/mosquitto /usr/local/bin /run/systemd; do
  mkdir -p "$dir"
  mount -t tmpfs tmpfs "$dir"
done
for dir in /etc/rc?.d; do
  mkdir -p "$work/rc/$dir"
  cp -a "$dir/." "$work/rc/$dir/"
  mount --bind "$work/rc/$dir" "$dir"
done
"$@" --prefix "$work/opt" --etc "$work/etc" --data "$work/data" --user nobody
echo "=== enabled"
find /etc/systemd/system -type l -printf '%p -> %l\n'
"""


def can_fake_a_chroot() -> str:
    """Why this machine cannot run `install_offline`, or '' when it can."""
    if os.geteuid() != 0:
        return "needs root, for a private mount namespace"
    if not shutil.which("unshare") or not shutil.which("systemctl"):
        return "needs unshare (util-linux) and systemctl (systemd)"
    installed = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}\n", "python3-venv", "python3-pip", "mosquitto"],
        capture_output=True,
        text=True,
        check=False,
    )
    if installed.stdout.count("ok installed") != 3:
        return "needs python3-venv, python3-pip and mosquitto installed (no apt in a test)"
    return ""


def install_offline(work: Path, checkout: Path, args: str) -> subprocess.CompletedProcess[str]:
    """The installer of `checkout` for real (apt, pip into a venv, systemctl) as in a
    chroot with no running systemd; its paths under `work`."""
    return subprocess.run(
        [
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "bash",
            "-c",
            NAMESPACE_SCRIPT,
            "namespace",
            str(work),
            "bash",
            str(checkout / "scripts/install-pi"),
            *shlex.split(args),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
