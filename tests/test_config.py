"""Settings: TOML then env precedence, one clear line per bad key, and every key documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from nursery.config import Settings, SettingsError, all_keys, env_name, load_settings
from tests.conftest import ROOT


def test_defaults(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    settings = load_settings()
    assert settings.mqtt.base_topic == "nursery"
    assert settings.hub.http_port == 8000
    assert settings.firmware.interval_s == 10


def test_env_overrides_toml(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[mqtt]\nhost = "broker.lan"\nport = 1884\n[firmware]\nroom = "kids"\n')
    clean_env.setenv("NURSERY_MQTT__PORT", "8883")
    settings = load_settings(config)
    assert settings.mqtt.host == "broker.lan"
    assert settings.mqtt.port == 8883
    assert settings.firmware.room == "kids"


def test_nursery_toml_in_the_working_directory_is_read(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "nursery.toml").write_text("[hub]\nhttp_port = 9001\n")
    clean_env.chdir(tmp_path)
    assert load_settings().hub.http_port == 9001


def test_simulated_sensor_may_read_fast_but_a_dht_may_not(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NURSERY_FIRMWARE__SENSOR", "simulated")
    clean_env.setenv("NURSERY_FIRMWARE__INTERVAL_S", "0.05")
    assert load_settings().firmware.interval_s == 0.05
    clean_env.setenv("NURSERY_FIRMWARE__SENSOR", "dht22")
    with pytest.raises(SettingsError, match=r"^firmware\.interval_s .*at least 2"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("NURSERY_MQTT__PORT", "eighty", r"mqtt\.port \(NURSERY_MQTT__PORT\)"),
        ("NURSERY_MQTT__PORT", "70000", r"mqtt\.port .*less than or equal to 65535"),
        ("NURSERY_FIRMWARE__SENSOR", "dht33", r"firmware\.sensor .*'dht22'"),
        ("NURSERY_MQTT__BASE_TOPIC", "home/#", r"mqtt\.base_topic"),
        ("NURSERY_FIRMWARE__ROOM", "Baby Room", r"firmware\.room"),
        ("NURSERY_MQTT_HOST", "x", r"NURSERY_MQTT_HOST: unknown setting"),
    ],
)
def test_bad_settings_name_the_key(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, name: str, value: str, message: str
) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv(name, value)
    with pytest.raises(SettingsError, match=message) as caught:
        load_settings()
    assert len(str(caught.value).splitlines()) == 1


def test_unknown_toml_key_and_bad_toml(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "n.toml"
    config.write_text("[hub]\nhttp_prot = 80\n")
    with pytest.raises(SettingsError, match=r"hub\.http_prot .*unknown setting"):
        load_settings(config)
    config.write_text("[hub\n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(config)
    with pytest.raises(SettingsError, match="no such file"):
        load_settings(tmp_path / "missing.toml")


def test_password_is_never_echoed(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "n.toml"
    config.write_text('[mqtt]\npassword = ["hunter2"]\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert "hunter2" not in str(caught.value)
    assert "hunter2" not in repr(Settings(mqtt={"password": "hunter2"}))  # type: ignore[arg-type]


@pytest.mark.parametrize("command", ["hub", "firmware"])
def test_cli_bad_setting_is_one_line_and_exit_2(tmp_path: Path, command: str) -> None:
    env = {"PATH": "/usr/bin:/bin", "NURSERY_MQTT__PORT": "eighty"}
    result = subprocess.run(
        [sys.executable, "-m", "nursery", command],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "nursery: bad setting: mqtt.port (NURSERY_MQTT__PORT): Input should be a valid "
        "integer, unable to parse string as an integer (got 'eighty')"
    ]
    assert "Traceback" not in result.stderr


def test_every_setting_has_a_description() -> None:
    for section, key, description in all_keys():
        assert len(description) > 10, f"{section}.{key} has no description"


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = {
        match.group(1)
        for match in re.finditer(r"^\|\s*`(NURSERY_[A-Z_]+)`\s*\|", readme, re.MULTILINE)
    }
    expected = {env_name(section, key) for section, key, _ in all_keys()}
    assert expected - rows == set(), "settings missing from the README's table"
    assert rows - expected == set(), "README documents settings that do not exist"
