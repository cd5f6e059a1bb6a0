"""Debian's Mosquitto beside the hub in the container: its configuration, one login per
client and the topics each may use, all kept in the data volume."""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

from contract.errors import NurseryError

HUB_LOGIN = "hub"
HOMEASSISTANT_LOGIN = "homeassistant"
_ROOM_RE = re.compile(r"[a-z0-9_-]{1,63}")
_EVERYWHERE = ("0.0.0.0", "", "::")


class BrokerError(NurseryError):
    """The broker cannot be set up or a login added; the message says what to do."""


@dataclass(frozen=True)
class Login:
    name: str
    password: str


@dataclass(frozen=True)
class BrokerFiles:
    """Where the broker's files live in the volume (all 0600, in a 0700 folder)."""

    data: Path
    hub_login: str = HUB_LOGIN

    @property
    def root(self) -> Path:
        return self.data / "mosquitto"

    @property
    def conf(self) -> Path:
        return self.root / "mosquitto.conf"

    @property
    def passwd(self) -> Path:
        return self.root / "passwd"

    @property
    def acl(self) -> Path:
        return self.root / "acl"

    @property
    def pid(self) -> Path:
        return self.root / "mosquitto.pid"

    @property
    def logins(self) -> Path:
        """One <login>.password per client: the source the password file is made from."""
        return self.root / "logins"

    def hub_password(self) -> str:
        return (self.logins / f"{self.hub_login}.password").read_text(encoding="ascii").strip()


def tool(name: str) -> str:
    """Mosquitto's program `name` by its full path (Debian puts the broker in /usr/sbin)."""
    for folder in ("/usr/sbin", "/usr/bin", "/usr/local/sbin", "/usr/local/bin"):
        if os.access(f"{folder}/{name}", os.X_OK):
            return f"{folder}/{name}"
    raise BrokerError(f"{name} is not installed: apt-get install mosquitto")


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(text)
    tmp.replace(path)


def _password(files: BrokerFiles, name: str) -> str:
    """The login's password, made (random, 0600) the first time it is asked for."""
    path = files.logins / f"{name}.password"
    if not path.exists():
        _write_private(path, secrets.token_hex(24) + "\n")
    return path.read_text(encoding="ascii").strip()


def _names(files: BrokerFiles) -> list[str]:
    return sorted(path.name.removesuffix(".password") for path in files.logins.glob("*.password"))


def acl_text(base: str, names: list[str]) -> str:
    """Who may use which topics, as scripts/install-pi gives them on a Pi hub."""
    lines = ["# Written by nursery-container from the logins in logins/: each gets its topics."]
    for name in names:
        lines.append("")
        if name == HUB_LOGIN:
            lines += [f"user {name}", f"topic read {base}/#"]
            lines += [f"topic write {base}/+/{t}" for t in ("alert", "stored", "state")]
            lines += [f"topic write {base}/+/episode/stored", f"topic write {base}/hub/#"]
            lines.append("topic readwrite homeassistant/#")
        elif name.startswith("firmware-"):
            room = name.removeprefix("firmware-")
            lines.append(f"user {name}")
            writes = ("reading", "status", "fault", "health", "episode")
            lines += [f"topic write {base}/{room}/{topic}" for topic in writes]
            reads = ("stored", "episode/stored", "alert")
            lines += [f"topic read {base}/{room}/{topic}" for topic in reads]
        elif name == HOMEASSISTANT_LOGIN:
            lines += [f"user {name}", f"topic read {base}/#", f"topic write {base}/+/command"]
            lines.append("topic readwrite homeassistant/#")
    return "\n".join([*lines, ""])


def _conf_text(files: BrokerFiles, port: int, listen: str) -> str:
    where = "" if listen in _EVERYWHERE else f" {listen}"
    return f"""\
# Written by nursery-container on every start: settings come from nursery.toml.
listener {port}{where}
allow_anonymous false
password_file {files.passwd}
acl_file {files.acl}
use_username_as_clientid true
persistence true
persistence_location {files.root}/
autosave_interval 60
max_queued_messages 100000
max_inflight_messages 100
set_tcp_nodelay true
log_dest stderr
"""


def _write_passwd(files: BrokerFiles) -> None:
    """The password file, made anew from logins/ so it always matches them."""
    _write_private(files.passwd, "")
    for name in _names(files):
        subprocess.run(
            [tool("mosquitto_passwd"), "-b", str(files.passwd), name, _password(files, name)],
            check=True,
        )


def prepare_broker(data: Path, port: int, listen: str, base_topic: str) -> BrokerFiles:
    """Every file Mosquitto reads, with the hub's own login made on the first start.
    It listens where the dashboard does (hub.http_host) on mqtt.port."""
    files = BrokerFiles(data)
    files.logins.mkdir(mode=0o700, parents=True, exist_ok=True)
    files.root.chmod(0o700)
    _password(files, HUB_LOGIN)
    _write_passwd(files)
    _write_private(files.acl, acl_text(base_topic, _names(files)))
    _write_private(files.conf, _conf_text(files, port, listen))
    return files


def login_name(room: str | None) -> str:
    """The login for a room's Pi (`firmware-<room>`), or Home Assistant's for None."""
    if room is None:
        return HOMEASSISTANT_LOGIN
    if not _ROOM_RE.fullmatch(room):
        raise BrokerError(f"room {room!r}: use 1-63 characters of a-z, 0-9, '-' or '_'")
    if room == "hub":
        raise BrokerError("room 'hub' is taken by the hub's own status topic; pick another name")
    return f"firmware-{room}"


def add_login(files: BrokerFiles, base_topic: str, room: str | None) -> Login:
    """Add (or show again) a client's login, and have the running broker read it."""
    if not files.conf.exists():
        raise BrokerError("no broker here: start the container with `hub --with-mosquitto` first")
    name = login_name(room)
    password = _password(files, name)
    _write_passwd(files)
    _write_private(files.acl, acl_text(base_topic, _names(files)))
    with contextlib.suppress(OSError, ValueError):  # not running: it reads them at its start
        os.kill(int(files.pid.read_text(encoding="ascii")), signal.SIGHUP)
    return Login(name, password)
