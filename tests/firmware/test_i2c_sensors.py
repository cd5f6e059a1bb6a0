"""SHT4x, SHT3x and BME280 on I²C: the real Adafruit drivers over a fake bus whose chips
answer as their datasheets say (tests/support/i2c_bus.py), through the sensor seam, the
settings, `nursery firmware --check` and the firmware's own loop."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from pydantic import ValidationError

from contract.messages import FaultMessage, HealthMessage, ReadingMessage
from contract.topics import fault_topic, health_topic, reading_topic
from firmware.check import check_wiring
from firmware.config import FirmwareSettings
from firmware.sensor_health import classify_error
from firmware.sensors import (
    I2CSensor,
    SensorReadError,
    SensorUnavailable,
    open_sensor,
)
from firmware.sensors import i2c as i2c_module
from mqttlink.rules_settings import RulesSettings
from mqttlink.settings import MqttSettings, SettingsError
from nursery.config import Settings, load_settings
from tests.support import Mosquitto, wait_until
from tests.support.i2c_bus import Air, BME280Chip, Chip, FakeI2CBus, SHT3xChip, SHT4xChip
from tests.support.pi import pi

ROOM = "nursery"
CHIPS: dict[str, tuple[type[Chip], int]] = {
    "sht4x": (SHT4xChip, 0x44),
    "sht3x": (SHT3xChip, 0x44),
    "bme280": (BME280Chip, 0x77),
}
KINDS = list(CHIPS)


def rig(kind: str, air: Air | None = None, address: int | None = None) -> tuple[Chip, FakeI2CBus]:
    chip_class, default = CHIPS[kind]
    chip = chip_class(air or Air())
    return chip, FakeI2CBus({default if address is None else address: chip})


def sensor_on(kind: str, bus: FakeI2CBus, address: int | None = None) -> I2CSensor:
    return I2CSensor(kind, address, bus_factory=lambda: bus)


# --- the drivers over the bus ----------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_each_part_reads_the_room_through_its_real_driver(kind: str) -> None:
    air = Air(17.83, 61.4)
    chip, bus = rig(kind, air)
    sensor = sensor_on(kind, bus)
    assert sensor.open_error is None
    assert chip.resets == 1, "the driver's soft reset at open"
    first = sensor.read()
    assert first.temperature_c == pytest.approx(17.83, abs=0.01)
    assert first.humidity_pct == pytest.approx(61.4, abs=0.02)
    air.temperature_c, air.humidity_pct = 15.2, 70.0
    second = sensor.read()
    assert (second.temperature_c, second.humidity_pct) == pytest.approx((15.2, 70.0), abs=0.02)
    sensor.close()
    sensor.close()
    assert bus.deinits == 1
    with pytest.raises(SensorUnavailable, match="closed"):
        sensor.read()


@pytest.mark.parametrize("kind", KINDS)
def test_an_unplugged_sensor_fails_its_reads_as_not_found_and_comes_back(kind: str) -> None:
    """As a DHT that does not answer: the firmware keeps running and says why, and the part
    is set up afresh (reset, trimming read again) once it answers."""
    chip, bus = rig(kind)
    chip.unplugged = True
    sensor = sensor_on(kind, bus)  # starts all the same
    assert sensor.open_error is not None and "did not answer" in sensor.open_error
    with pytest.raises(SensorReadError, match="did not answer") as caught:
        sensor.read()
    assert classify_error(str(caught.value)) == "not_found"
    chip.unplugged = False
    assert sensor.read().temperature_c == pytest.approx(19.5, abs=0.01)
    # Pulled out between two readings: busio's NACK mid-read, then a fresh set-up.
    resets = chip.resets
    chip.unplugged = True
    with pytest.raises(SensorReadError, match=r"Errno 121\] Remote I/O error") as caught:
        sensor.read()
    assert classify_error(str(caught.value)) == "not_found"
    chip.unplugged = False
    assert sensor.read().humidity_pct == pytest.approx(48.0, abs=0.02)
    assert chip.resets == resets + 1


@pytest.mark.parametrize(("kind", "kind_of_error"), [("sht4x", "checksum"), ("sht3x", "checksum")])
def test_a_reading_garbled_on_the_wire_fails_its_crc(kind: str, kind_of_error: str) -> None:
    chip, bus = rig(kind)
    sensor = sensor_on(kind, bus)
    chip.garble = 1
    with pytest.raises(SensorReadError, match="garbled") as caught:
        sensor.read()
    assert classify_error(str(caught.value)) == kind_of_error
    assert sensor.read().temperature_c == pytest.approx(19.5, abs=0.01)


def test_a_bme280_line_stuck_high_is_an_impossible_value() -> None:
    """The BME280 has no CRC: all ones on the wire compensate to a temperature no room has,
    and the range check turns it away like a DHT's garbage."""
    chip, bus = rig("bme280")
    sensor = sensor_on("bme280", bus)
    chip.garble = 10
    with pytest.raises(SensorReadError, match="impossible value") as caught:
        sensor.read()
    assert classify_error(str(caught.value)) == "implausible"


@pytest.mark.parametrize("kind", KINDS)
def test_an_impossible_value_is_refused(kind: str) -> None:
    air = Air(-44.0, 50.0)  # each part can report it; no nursery is at it
    _, bus = rig(kind, air)
    with pytest.raises(SensorReadError, match="impossible value"):
        sensor_on(kind, bus).read()


def test_a_bmp280_where_a_bme280_should_be_stops_the_start_in_plain_words() -> None:
    bus = FakeI2CBus({0x77: BME280Chip(Air(), chip_id=0x58)})
    with pytest.raises(
        SensorUnavailable, match=r"not a BME280.*BMP280, which measures no humidity"
    ):
        sensor_on("bme280", bus)
    assert bus.deinits == 1


def test_an_i2c_sensor_off_a_pi_is_unavailable_with_a_clear_message() -> None:
    with pytest.raises(SensorUnavailable, match="no Raspberry Pi I²C bus"):
        open_sensor(FirmwareSettings(sensor="sht4x"))


def test_importing_the_sensors_loads_no_i2c_driver() -> None:
    code = (
        "import sys\n"
        "import firmware.sensors, firmware.config\n"
        "loaded = {'adafruit_sht4x', 'adafruit_sht31d', 'adafruit_bme280', 'busio', 'board'}\n"
        "assert not loaded & set(sys.modules), loaded & set(sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --- settings ----------------------------------------------------------------------------


def test_the_i2c_address_defaults_to_the_parts_own_and_takes_hex() -> None:
    assert FirmwareSettings(sensor="sht4x").i2c_address == 0x44
    assert FirmwareSettings(sensor="sht3x").i2c_address == 0x44
    assert FirmwareSettings(sensor="bme280").i2c_address == 0x77
    assert FirmwareSettings(sensor="bme280", i2c_address="0x76").i2c_address == 0x76
    assert FirmwareSettings(sensor="sht4x", i2c_address=69).i2c_address == 0x45
    assert FirmwareSettings(sensor="dht22").i2c_address is None
    assert FirmwareSettings(sensor="sht4x", interval_s=1).interval_s == 1


def test_a_wrong_i2c_address_is_one_line_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "nursery.toml"
    config.write_text('[firmware]\nsensor = "sht3x"\ni2c_address = 0x46\n')
    with pytest.raises(SettingsError) as caught:
        load_settings(config)
    assert str(caught.value) == (
        "firmware.i2c_address (NURSERY_FIRMWARE__I2C_ADDRESS): the SHT3x answers at 0x44 or "
        "0x45, never at 0x46 (got '70')"
    )
    with pytest.raises(ValidationError, match="'forty' is not an I²C address"):
        FirmwareSettings(sensor="sht4x", i2c_address="forty")


def test_an_i2c_sensor_frees_the_dht_pin_and_keeps_the_bus_pins() -> None:
    assert FirmwareSettings(sensor="sht4x", led_pin=4).led_pin == 4
    with pytest.raises(ValidationError, match="GPIO3 is the I²C bus's SCL"):
        FirmwareSettings(sensor="bme280", buzzer_pin=3)
    with pytest.raises(ValidationError, match=r"GPIO4 is already firmware\.pin"):
        FirmwareSettings(sensor="dht22", led_pin=4)


# --- nursery firmware --check -------------------------------------------------------------


def check(kind: str, bus: FakeI2CBus, monkeypatch: pytest.MonkeyPatch, **settings: object) -> str:
    monkeypatch.setattr(i2c_module, "pi_i2c_bus", lambda: bus)
    config = Settings(
        firmware=FirmwareSettings.model_validate(
            {"sensor": kind, "led_pin": "off", "button_pin": "off", **settings}
        )
    )
    out, err = io.StringIO(), io.StringIO()
    check_wiring(config, threading.Event(), out=out, err=err)
    return out.getvalue() + err.getvalue()


@pytest.mark.slow
def test_check_says_the_sensor_was_found_and_reads_it(monkeypatch: pytest.MonkeyPatch) -> None:
    _, bus = rig("sht4x")
    text = check("sht4x", bus, monkeypatch)
    assert "checking the sht4x sensor (I²C address 0x44)" in text
    assert "  I²C SDA, SCL    GPIO2,3 header pins 3 and 5" in text
    assert "I²C: SHT4x at I²C address 0x44 found" in text
    assert "5 of 5 readings good" in text


@pytest.mark.slow
def test_check_says_what_answers_when_the_sensor_does_not(monkeypatch: pytest.MonkeyPatch) -> None:
    _, bus = rig("bme280", address=0x76)  # the breakout's jumper set to the other address
    text = check("bme280", bus, monkeypatch, read_retries=0)
    assert "I²C: no BME280 at I²C address 0x77 answers" in text
    assert "I²C: something answers at 0x76" in text
    assert "set firmware.i2c_address = 0x76" in text
    assert "no reading at all: check the wires (SDA to pin 3, SCL to pin 5" in text
    empty = check("sht4x", FakeI2CBus(), monkeypatch, read_retries=0)
    assert "I²C: nothing answers on the bus at all; check the wires" in empty


# --- through the firmware's loop ----------------------------------------------------------


class Heard:
    """Every message under the base topic, by topic, as the hub would hear them."""

    def __init__(self, client: mqtt.Client, base_topic: str) -> None:
        self.base = base_topic
        self._lock = threading.Lock()
        self._by_topic: dict[str, list[bytes]] = {}
        client.on_message = self._on_message
        done = threading.Event()
        client.on_subscribe = lambda *args: done.set()
        client.subscribe(f"{base_topic}/#", qos=1)
        wait_until(done.is_set, what="the SUBACK")

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        with self._lock:
            self._by_topic.setdefault(message.topic, []).append(bytes(message.payload))

    def _on(self, topic: str) -> list[bytes]:
        with self._lock:
            return list(self._by_topic.get(topic, []))

    def readings(self) -> list[ReadingMessage]:
        return [ReadingMessage.decode(p) for p in self._on(reading_topic(self.base, ROOM))]

    def faults(self) -> list[FaultMessage]:
        return [FaultMessage.decode(p) for p in self._on(fault_topic(self.base, ROOM))]

    def healths(self) -> list[HealthMessage]:
        return [HealthMessage.decode(p) for p in self._on(health_topic(self.base, ROOM))]


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_the_firmware_loop_publishes_the_part_and_judges_its_health(
    kind: str, broker: Mosquitto, mqtt_client: mqtt.Client, base_topic: str, tmp_path: Path
) -> None:
    """Readings with the part's resolution; an unplugged sensor is faults and `not_found`
    in the health message, a frozen one is `stuck`; the model travels for the hub's
    accuracy."""
    air = Air(18.26, 52.3)
    chip, bus = rig(kind, air)
    settings = Settings(
        mqtt=MqttSettings(port=broker.port, base_topic=base_topic, keepalive_s=5),
        firmware=FirmwareSettings(
            room=ROOM,
            sensor=kind,
            interval_s=1,
            read_retries=0,
            health_every_s=0.5,
            outbox=tmp_path / "outbox.db",
        ),
        rules=RulesSettings(stuck_for_s=2),
    )
    heard = Heard(mqtt_client, base_topic)
    with pi(settings, sensor_on(kind, bus)):
        reading = wait_until(heard.readings, what="a reading")[0]
        assert reading.temperature_c == pytest.approx(18.26, abs=0.011)
        assert reading.humidity_pct == pytest.approx(52.3, abs=0.021)
        chip.unplugged = True
        faults = wait_until(
            lambda: heard.faults()[:2] if len(heard.faults()) > 1 else [], what="two faults"
        )
        assert [f.consecutive_failures for f in faults] == [1, 2]
        assert "did not answer" in faults[0].error
        found = wait_until(
            lambda: [
                h
                for h in heard.healths()
                if h.errors_by_kind and h.errors_by_kind["not_found"] >= 2
            ],
            what="not_found in the health message",
        )
        assert found[-1].sensor == kind
        air.temperature_c = 18.9
        chip.unplugged = False

        def warmer() -> bool:
            return any(abs(r.temperature_c - 18.9) < 0.02 for r in heard.readings())

        wait_until(warmer, what="the room's new value once plugged in")
        chip.frozen = True  # answers, but with the same measurement every time
        air.temperature_c = 21.0
        wait_until(lambda: [h for h in heard.healths() if h.stuck], timeout=15, what="stuck")
        assert all(r.temperature_c < 20 for r in heard.readings())
