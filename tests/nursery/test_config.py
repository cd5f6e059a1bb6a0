"""Settings: TOML then env precedence, one clear line per bad key, and every key documented."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from mqttlink.settings import SettingsError
from nursery.config import Settings, all_keys, env_name, load_settings
from tests.support import ROOT


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


def test_env_list_bool_int_and_path_values(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "site.toml"
    config.write_text('[notify]\nurls = ["json://toml"]\npublic_url = "http://nursery.lan"\n')
    clean_env.setenv("NURSERY_NOTIFY__URLS", '["json://x", "json://y"]')
    clean_env.setenv("NURSERY_NOTIFY__CAREGIVERS", '[["json://a"], ["json://b"]]')
    clean_env.setenv("NURSERY_ALERTS__REPEAT_AFTER_S", "[60, 120]")
    clean_env.setenv("NURSERY_HOMEASSISTANT__DISCOVERY", "false")
    clean_env.setenv("NURSERY_MQTT__TLS", "true")
    clean_env.setenv("NURSERY_HUB__HTTP_PORT", "9002")
    clean_env.setenv("NURSERY_HUB__DB", str(tmp_path / "hub.db"))
    clean_env.setenv("NURSERY_FIRMWARE__LED_PIN", "")  # an empty value means not fitted
    settings = load_settings(config)
    assert settings.notify.urls == ["json://x", "json://y"]  # the env list replaces the file's
    assert settings.notify.public_url == "http://nursery.lan"
    assert settings.notify.caregivers == [["json://a"], ["json://b"]]
    assert settings.alerts.repeat_after_s == [60.0, 120.0]
    assert settings.homeassistant.discovery is False
    assert settings.mqtt.tls is True
    assert settings.hub.http_port == 9002
    assert settings.hub.db == tmp_path / "hub.db"
    assert settings.firmware.led_pin is None


def test_env_names_match_in_any_case(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("nursery_mqtt__port", "1885")
    clean_env.setenv("Nursery_Hub__Http_Port", "9003")
    settings = load_settings()
    assert (settings.mqtt.port, settings.hub.http_port) == (1885, 9003)
    clean_env.setenv("NURSERY_MQTT__PORT", "1886")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "nursery_mqtt__port: NURSERY_MQTT__PORT sets mqtt.port too: set it once"
    )


def test_toml_section_names_match_in_any_case(
    clean_env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    config = tmp_path / "n.toml"
    config.write_text('[MQTT]\nhost = "broker.lan"\n')
    assert load_settings(config).mqtt.host == "broker.lan"
    config.write_text('[MQTT]\nhost = "broker.lan"\n[mqtt]\nport = 1884\n')
    with pytest.raises(SettingsError, match=r"\[MQTT\] is \[mqtt\] again"):
        load_settings(config)


def test_only_load_settings_reads_the_environment(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("NURSERY_MQTT__PORT", "8883")
    assert Settings().mqtt.port == 1883
    assert Settings(hub={"http_port": 9004}).mqtt.port == 1883


def test_settings_do_not_load_pydantic_settings() -> None:
    """Its import (with python-dotenv) cost every process about 1 MiB on a Pi Zero 2 W."""
    code = (
        "import sys\n"
        "import firmware.runner, hub.service, nursery.cli, nursery.config\n"
        "nursery.config.load_settings()\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pydantic_settings', 'dotenv'))))"
    )
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NURSERY_NOTIFY__URLS": '["json://x"]'}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


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
        ("nursery_mqtt_host", "x", r"^nursery_mqtt_host: unknown setting$"),
        ("NURSERY_MQTT", '{"port": 1884}', r"^NURSERY_MQTT: unknown setting$"),
        ("NURSERY_NOTIFY__CAREGIVERS__0", '["json://x"]', r"CAREGIVERS__0: unknown setting$"),
        (
            "NURSERY_NOTIFY__URLS",
            "json://x",
            r"^notify\.urls \(NURSERY_NOTIFY__URLS\): not valid JSON \(Expecting value: line 1",
        ),
        (
            "NURSERY_ALERTS__REPEAT_AFTER_S",
            "600, 1200",
            r"^alerts\.repeat_after_s \(NURSERY_ALERTS__REPEAT_AFTER_S\): not valid JSON \(Extra",
        ),
        ("NURSERY_NOTIFY__URLS", "", r"^notify\.urls \(NURSERY_NOTIFY__URLS\): .*valid list"),
        ("NURSERY_HUB__HTTP_PORT", "", r"^hub\.http_port \(NURSERY_HUB__HTTP_PORT\): .*integer"),
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
    assert "hunter2" not in repr(Settings(mqtt={"password": "hunter2"}))


def test_password_from_env_is_never_echoed(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.chdir(tmp_path)
    clean_env.setenv("NURSERY_MQTT__USERNAME", "hub")
    clean_env.setenv("NURSERY_MQTT__PASSWORD", "QWERTY")
    clean_env.setenv("NURSERY_NOTIFY__URLS", "not json")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == (
        "notify.urls (NURSERY_NOTIFY__URLS): not valid JSON "
        "(Expecting value: line 1 column 1 (char 0))"
    )
    clean_env.delenv("NURSERY_NOTIFY__URLS")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value).startswith("mqtt.password (NURSERY_MQTT__PASSWORD): ")
    assert "qwerty" not in str(caught.value).lower()


@pytest.mark.parametrize(
    ("command", "name", "value", "line"),
    [
        (
            command,
            "NURSERY_MQTT__PORT",
            "eighty",
            "mqtt.port (NURSERY_MQTT__PORT): Input should be a valid integer, unable to parse "
            "string as an integer (got 'eighty')",
        )
        for command in ("hub", "firmware")
    ]
    + [
        (
            "hub",
            "NURSERY_NOTIFY__URLS",
            "ntfy://nursery",
            "notify.urls (NURSERY_NOTIFY__URLS): not valid JSON "
            "(Expecting value: line 1 column 1 (char 0))",
        )
    ],
)
def test_cli_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path, command: str, name: str, value: str, line: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nursery", command],
        env={"PATH": "/usr/bin:/bin", name: value},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"nursery: bad setting: {line}"]
    assert "Traceback" not in result.stderr


def test_every_setting_has_a_description() -> None:
    for section, key, description in all_keys():
        assert len(description) > 10, f"{section}.{key} has no description"


def test_every_setting_is_in_the_readme_table() -> None:
    readme = (ROOT / "README.md").read_text()
    rows = {
        match.group(1)
        for match in re.finditer(r"^\|\s*`(NURSERY_[A-Z0-9_]+)`\s*\|", readme, re.MULTILINE)
    }
    expected = {env_name(section, key) for section, key, _ in all_keys()}
    assert expected - rows == set(), "settings missing from the README's table"
    assert rows - expected == set(), "README documents settings that do not exist"


@pytest.mark.parametrize(
    ("rules", "line"),
    [
        (
            "cool_below_c = 15",
            "rules.cool_below_c (NURSERY_RULES__COOL_BELOW_C): 15 °C must not be below "
            "rules.cold_below_c (16 °C, the uk preset's)",
        ),
        (
            'preset = "who"\ncold_below_c = 20',
            "rules.cold_below_c (NURSERY_RULES__COLD_BELOW_C): 20 °C must not be above "
            "rules.cool_below_c (19 °C, the who preset's)",
        ),
        (
            "warm_above_c = 25",
            "rules.warm_above_c (NURSERY_RULES__WARM_ABOVE_C): 25 °C must not be above "
            "rules.hot_above_c (24 °C, the default)",
        ),
        (
            "cold_below_c = 17\ncool_below_c = 16.5",
            "rules.cool_below_c (NURSERY_RULES__COOL_BELOW_C): 16.5 °C must not be below "
            "rules.cold_below_c (17 °C)",
        ),
        (
            "cold_clear_c = 15.5",
            "rules.cold_clear_c (NURSERY_RULES__COLD_CLEAR_C): 15.5 °C must not be below "
            "rules.cold_below_c (16 °C, the uk preset's)",
        ),
        (
            "cold_clear_c = 21",
            "rules.cold_clear_c (NURSERY_RULES__COLD_CLEAR_C): 21 °C must not be above "
            "rules.warm_above_c (20 °C, the uk preset's)",
        ),
        (
            "humidity_low_pct = 70",
            "rules.humidity_low_pct (NURSERY_RULES__HUMIDITY_LOW_PCT): 70 % must be below "
            "rules.humidity_high_pct (60 %)",
        ),
    ],
)
def test_thresholds_that_contradict_each_other_name_the_key_and_both_values(
    clean_env: pytest.MonkeyPatch, tmp_path: Path, rules: str, line: str
) -> None:
    config = tmp_path / "n.toml"
    config.write_text(f"[rules]\n{rules}\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert str(caught.value).startswith(line)
    assert len(str(caught.value).splitlines()) == 1


def test_equal_thresholds_turn_a_band_off_and_are_allowed(clean_env: pytest.MonkeyPatch) -> None:
    rules = Settings(rules={"cool_below_c": 16.0, "warm_above_c": 24.0}).rules
    assert rules.effective("cool_below_c") == rules.effective("cold_below_c")


def test_the_status_leds_steady_light_never_reads_as_the_room_is_fine() -> None:
    """A steady LED means the monitor works; a second caregiver must not take it for "the
    room is fine" (only the hub judges the room)."""
    from firmware.config import FirmwareSettings

    description = FirmwareSettings.model_fields["led_pin"].description or ""
    assert "all well" not in description
    assert "says nothing about the room's temperature" in description
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "steady when all is well" not in readme
    assert "steady: all well" not in readme
