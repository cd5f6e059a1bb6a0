"""How every MQTT client we build logs in and checks its broker: a user name and password,
and with `mqtt.tls` a TLS context that verifies the broker's certificate and name."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Final

from contract.errors import NurseryError

if TYPE_CHECKING:
    import paho.mqtt.client as mqtt

    from mqttlink.settings import MqttSettings

log = logging.getLogger("nursery.mqtt")

MIN_TLS_VERSION: Final = ssl.TLSVersion.TLSv1_2
TLS_KEYS: Final = ("ca_file", "cert_file", "key_file")


def setting(key: str) -> str:
    """`mqtt.ca_file (NURSERY_MQTT__CA_FILE)`: how errors and hints name a setting."""
    return f"mqtt.{key} (NURSERY_MQTT__{key.upper()})"


# What a broker says when it refuses a login (MQTT 3.1.1 CONNACK 4 and 5, MQTT 5 0x86/0x87).
_LOGIN_REFUSALS = ("user name", "username", "password", "not authorized", "not authorised")


def unreachable_hint() -> str:
    """The fix for a broker that cannot be reached: the address settings."""
    return f"check {setting('host')} and {setting('port')}"


def refused_hint(reason: object) -> str:
    """The fix for a broker that answered but refused us, by its reason."""
    if any(word in str(reason).lower() for word in _LOGIN_REFUSALS):
        return f"check {setting('username')} and {setting('password')}"
    return f"check that {setting('host')} and {setting('port')} name your nursery broker"


class MqttTlsError(NurseryError, ValueError):
    """A TLS file that cannot be used: `key` is the setting, `problem` says why."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{setting(key)}: {problem}")
        self.key = key
        self.problem = problem


def _readable(key: str, path: Path) -> None:
    try:
        with path.open("rb") as file:
            file.read(1)
    except OSError as exc:
        raise MqttTlsError(key, f"cannot read {path}: {exc.strerror or exc}") from exc


def _reason(exc: ssl.SSLError | OSError) -> str:
    if isinstance(exc, ssl.SSLError):
        return str(exc.reason or exc.strerror or exc)
    return str(exc.strerror or exc)


def _no_passphrase() -> bytes:
    # Without a callback OpenSSL would ask on the terminal; a service has none.
    return b""


def load_ca(context: ssl.SSLContext, ca_file: Path) -> None:
    _readable("ca_file", ca_file)
    try:
        context.load_verify_locations(cafile=str(ca_file))
    except (ssl.SSLError, OSError) as exc:
        raise MqttTlsError(
            "ca_file", f"{ca_file} holds no PEM CA certificate ({_reason(exc)})"
        ) from exc


def load_client_cert(context: ssl.SSLContext, cert_file: Path, key_file: Path | None) -> None:
    _readable("cert_file", cert_file)
    if key_file is not None:
        _readable("key_file", key_file)
    try:
        context.load_cert_chain(cert_file, key_file, password=_no_passphrase)
    except (ssl.SSLError, OSError) as exc:
        reason = _reason(exc)
        if key_file is not None and "KEY_VALUES_MISMATCH" in reason.upper():
            raise MqttTlsError("key_file", f"{key_file} is not the key of {cert_file}") from exc
        raise MqttTlsError(
            "cert_file",
            f"cannot use {cert_file}"
            + (f" with {key_file}" if key_file is not None else "")
            + f" as a PEM client certificate and unencrypted key ({reason})",
        ) from exc


def _hint(exc: ssl.SSLError | OSError) -> str:
    """What to check for a failed handshake, by what OpenSSL said."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        if "mismatch" in (exc.verify_message or "").lower():
            return f"{setting('host')} must be a name or address the broker's certificate lists"
        return f"{setting('ca_file')} must be the CA that signed the broker's certificate"
    reason = _reason(exc).upper()
    if "CERTIFICATE" in reason or "UNKNOWN_CA" in reason or "HANDSHAKE_FAILURE" in reason:
        return (
            f"the broker refused our client certificate: check {setting('cert_file')} and "
            f"{setting('key_file')}"
        )
    # A plain-MQTT listener answers a TLS hello by hanging up or with a non-TLS reply.
    return f"{setting('port')} must be the broker's TLS listener (8883 by convention)"


class _ReportingSocket(ssl.SSLSocket):
    """An SSLSocket that tells its context how each handshake went."""

    def do_handshake(self, block: bool = False) -> None:
        context = self.context
        try:
            super().do_handshake(block)
        except OSError as exc:  # ssl.SSLError is an OSError
            if isinstance(context, ReportingContext):
                context.handshake_failed(exc)
            raise
        if isinstance(context, ReportingContext):
            context.handshake_succeeded()

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        # Under TLS 1.3 the broker refuses a missing client certificate only after the
        # handshake, with an alert that paho reads here as a dropped connection.
        try:
            return super().recv(buflen, flags)
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            raise
        except ssl.SSLError as exc:
            if isinstance(self.context, ReportingContext):
                self.context.handshake_failed(exc)
            raise


class ReportingContext(ssl.SSLContext):
    """A client TLS context that logs a failed handshake with its reason, once until the
    next success (paho retries every few seconds)."""

    sslsocket_class = _ReportingSocket
    broker: str = "the MQTT broker"
    _last_failure: str | None = None

    def handshake_failed(self, exc: OSError) -> None:
        failure = f"{type(exc).__name__}: {_reason(exc)}"
        if failure == self._last_failure:
            return
        self._last_failure = failure
        detail = _reason(exc)
        if isinstance(exc, ssl.SSLCertVerificationError) and exc.verify_message:
            detail = f"certificate verify failed ({exc.verify_message})"
        log.error(
            "TLS handshake with MQTT broker %s failed: %s; %s", self.broker, detail, _hint(exc)
        )

    def handshake_succeeded(self) -> None:
        if self._last_failure is not None:
            log.info("TLS handshake with MQTT broker %s succeeded again", self.broker)
        self._last_failure = None


def tls_context(
    ca_file: Path | None, cert_file: Path | None = None, key_file: Path | None = None
) -> ReportingContext:
    """A client context that checks the broker's certificate and host name, TLS 1.2 or
    later; the system's CAs when `ca_file` is None."""
    context = ReportingContext(ssl.PROTOCOL_TLS_CLIENT)  # CERT_REQUIRED, check_hostname
    context.minimum_version = MIN_TLS_VERSION
    if ca_file is None:
        context.load_default_certs()
    else:
        load_ca(context, ca_file)
    if cert_file is not None:
        load_client_cert(context, cert_file, key_file)
    return context


def secure_client(client: mqtt.Client, settings: MqttSettings) -> None:
    """Give a paho client, before it connects, its login and (with mqtt.tls) its TLS.

    Raises MqttTlsError when a TLS file cannot be used.
    """
    if settings.username is not None:
        password = settings.password
        client.username_pw_set(
            settings.username, password.get_secret_value() if password is not None else None
        )
    if settings.tls:
        context = tls_context(settings.ca_file, settings.cert_file, settings.key_file)
        context.broker = f"{settings.host}:{settings.port}"
        client.tls_set_context(context)
