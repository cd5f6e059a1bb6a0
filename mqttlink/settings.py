"""The settings layer both processes share: the loader's error, the section base and
the [mqtt] connection."""

from __future__ import annotations

from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
)
from pydantic import field_validator as _field_validator

from contract.errors import NurseryError
from contract.topics import ContractError, check_base_topic, check_name
from mqttlink.tls import MqttTlsError, load_ca, load_client_cert, tls_context
from mqttlink.well_known_passwords import is_well_known


class SettingsError(NurseryError):
    """Settings that cannot be used; the message is one line per bad key."""


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def room_setting(value: str) -> str:
    """A room name from the settings, checked as the MQTT contract checks it (ValueError,
    for a validator: pydantic names the key)."""
    try:
        return check_name("room", value)
    except ContractError as exc:
        raise ValueError(str(exc)) from exc


class MqttSettings(Section):
    host: str = Field("localhost", description="MQTT broker host name or address.")
    port: int = Field(1883, ge=1, le=65535, description="MQTT broker TCP port.")
    username: str | None = Field(None, description="MQTT user name; unset for anonymous.")
    password: SecretStr | None = Field(
        None,
        validate_default=True,
        description="MQTT password; never logged. Required with a user name; an empty or "
        "well-known one (`changeme`, `password`…) is refused.",
    )
    tls: bool = Field(
        False,
        description="Connect over TLS (the broker's TLS port, 8883 by convention), checking "
        "the broker's certificate and that it names host.",
    )
    ca_file: Path | None = Field(
        None,
        description="PEM file of the CA that signed the broker's certificate; unset for the "
        "system's CAs. Needs tls.",
    )
    cert_file: Path | None = Field(
        None,
        description="PEM client certificate, for a broker that asks for one (optional); needs tls.",
    )
    key_file: Path | None = Field(
        None,
        validate_default=True,
        description="PEM private key of cert_file, unencrypted and readable only by the "
        "service; unset when cert_file holds it.",
    )
    base_topic: str = Field(
        "nursery", description="First level(s) of every topic, as in `nursery/<room>/reading`."
    )
    keepalive_s: int = Field(
        30, ge=5, le=3600, description="Seconds between MQTT keep-alive pings."
    )

    @_field_validator("base_topic")
    @classmethod
    def _base_topic(cls, value: str) -> str:
        try:
            return check_base_topic(value)
        except ContractError as exc:
            raise ValueError(str(exc)) from exc

    @_field_validator("password")
    @classmethod
    def _real_password(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A login whose password is empty or a well-known default guards nothing."""
        if info.data.get("username") is None:
            return value
        secret = value.get_secret_value().strip() if value is not None else ""
        if not secret:
            raise ValueError(
                "is empty while mqtt.username is set: use the password the broker has for "
                "that user (scripts/install-pi writes a random one)"
            )
        if is_well_known(secret):
            raise ValueError("is a well-known default: give the broker user a random password")
        return value

    @_field_validator("ca_file", "cert_file")
    @classmethod
    def _tls_file(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        if not info.data.get("tls"):
            raise ValueError("needs mqtt.tls = true (NURSERY_MQTT__TLS=true)")
        try:
            if info.field_name == "ca_file":
                load_ca(tls_context(None), value)
            elif b"-----BEGIN CERTIFICATE-----" not in value.read_bytes():
                raise ValueError(f"{value} holds no PEM certificate")
        except MqttTlsError as exc:
            raise ValueError(exc.problem) from None
        except OSError as exc:
            raise ValueError(f"cannot read {value}: {exc.strerror or exc}") from None
        return value

    @_field_validator("key_file")
    @classmethod
    def _client_key(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        """The client certificate and its key are checked together: they must match."""
        cert_file = info.data.get("cert_file")
        if value is not None and cert_file is None:
            raise ValueError("needs mqtt.cert_file, the certificate this key belongs to")
        if cert_file is not None:
            try:
                load_client_cert(tls_context(None), cert_file, value)
            except MqttTlsError as exc:
                raise ValueError(exc.problem) from None
        return value
