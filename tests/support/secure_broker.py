"""A Mosquitto set up as a careful household would: TLS from a CA made for the test, and a
password and an ACL per client in the installer's shape."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.support.mosquitto import Mosquitto
from tests.support.ports import free_port

BASE = "nursery"
HUB_USER = "hub"
# What a room's Pi publishes, as scripts/install-pi's ACL allows it.
DEVICE_WRITES = ("reading", "status", "fault", "health", "episode")
# The household's logins: the hub, a probe that speaks as the hub, and two rooms' Pis.
USERS = {
    "hub": "hub-8c1f2e0d9a",
    "hub-probe": "hub-probe-5e02b7c4",
    "firmware-nursery": "fw-nursery-41d7c0b2",
    "firmware-bedroom": "fw-bedroom-93ae6f11",
}


@dataclass(frozen=True)
class Issued:
    """A certificate and its key, as PEM files."""

    cert: Path
    key: Path


class CertificateAuthority:
    """A small CA that signs server and client certificates into `workdir`."""

    def __init__(self, workdir: Path, name: str) -> None:
        self.workdir = workdir
        self.name = name
        self._key = ec.generate_private_key(ec.SECP256R1())
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"{name} test CA")])
        now = dt.datetime.now(dt.UTC)
        self._cert = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
            .sign(self._key, hashes.SHA256())
        )
        self.cert = workdir / f"{name}-ca.pem"
        self.cert.write_bytes(self._cert.public_bytes(serialization.Encoding.PEM))

    def issue(
        self, common_name: str, *, names: tuple[str, ...] = (), client: bool = False
    ) -> Issued:
        """A certificate for a server (`names`: DNS names or IP addresses) or a client."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]
                ),
                critical=False,
            )
        )
        if names:
            alt: list[x509.GeneralName] = []
            for name in names:
                try:
                    alt.append(x509.IPAddress(ipaddress.ip_address(name)))
                except ValueError:
                    alt.append(x509.DNSName(name))
            builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        stem = self.workdir / f"{self.name}-{common_name}"
        issued = Issued(stem.with_suffix(".pem"), stem.with_suffix(".key"))
        issued.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        issued.key.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        issued.key.chmod(0o600)
        return issued


def acl_rules(user: str, base: str = BASE) -> list[str]:
    """The installer's ACL shape: the hub reads every room and answers; a device writes
    only under its own room and reads what the hub says back to it. `hub-…` logins get the
    hub's rules: a test that speaks as the hub while the hub runs needs a login of its own,
    since a client's id is its login name and the hub's would take the hub's place."""
    if user == HUB_USER or user.startswith(f"{HUB_USER}-"):
        return [
            f"topic read {base}/#",
            f"topic write {base}/+/alert",
            f"topic write {base}/+/stored",
            f"topic write {base}/+/state",
            f"topic write {base}/+/episode/stored",
            f"topic write {base}/hub/#",
            "topic readwrite homeassistant/#",
        ]
    room = user.removeprefix("firmware-")
    return [
        *(f"topic write {base}/{room}/{kind}" for kind in DEVICE_WRITES),
        f"topic read {base}/{room}/stored",
        f"topic read {base}/{room}/alert",
        f"topic read {base}/{room}/episode/stored",
    ]


class SecureMosquitto(Mosquitto):
    """Mosquitto with no anonymous access, a password and an ACL per user, and a TLS
    listener on `port` (a second one on `client_cert_port` also wants a client
    certificate signed by `ca`)."""

    def __init__(
        self,
        workdir: Path,
        ca: CertificateAuthority,
        users: dict[str, str],
        names: tuple[str, ...] = ("127.0.0.1", "localhost"),
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        super().__init__(workdir)
        self.ca = ca
        self.users = users
        self.server = ca.issue(f"broker-{self.port}", names=names)
        self.client_cert_port = free_port()

    def prepare(self) -> None:
        passwd = self.workdir / "passwd"
        passwd.write_text("")
        passwd.chmod(0o600)
        for user, password in self.users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(passwd), user, password], check=True)
        acl = self.workdir / "acl"
        acl.write_text(
            "\n".join(
                line for user in self.users for line in (f"user {user}", *acl_rules(user), "")
            )
        )

    def config(self) -> str:
        # Per listener, as in the installer's file (before any listener line it would open
        # a default one on 1883).
        tls = (
            "use_username_as_clientid true\n"
            f"cafile {self.ca.cert}\n"
            f"certfile {self.server.cert}\n"
            f"keyfile {self.server.key}\n"
            "tls_version tlsv1.2\n"
        )
        return (
            # Started as root, Mosquitto would drop to its own user, who cannot read tmp_path.
            f"user {pwd.getpwuid(os.geteuid()).pw_name}\n"
            "per_listener_settings false\n"
            "allow_anonymous false\n"
            f"password_file {self.workdir / 'passwd'}\n"
            f"acl_file {self.workdir / 'acl'}\n"
            "persistence false\n"
            "max_queued_messages 100000\n"
            f"listener {self.port} 127.0.0.1\n"
            f"{tls}"
            f"listener {self.client_cert_port} 127.0.0.1\n"
            f"{tls}"
            "require_certificate true\n"
        )

    def mqtt_settings(self, user: str | None, **overrides: object) -> dict[str, object]:
        """The [mqtt] section a client of this broker needs, as `user`."""
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.port,
            "base_topic": BASE,
            "tls": True,
            "ca_file": self.ca.cert,
        }
        if user is not None:
            values.update(username=user, password=self.users[user])
        values.update(overrides)
        return values

    def env(self, user: str) -> dict[str, str]:
        """The same as NURSERY_MQTT__* variables, for a `nursery` process."""
        return {
            f"NURSERY_MQTT__{key.upper()}": str(value).lower()
            if isinstance(value, bool)
            else str(value)
            for key, value in self.mqtt_settings(user).items()
        }
