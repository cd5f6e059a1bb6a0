"""A firmware-only Pi (`pip install 'nursery-monitor[firmware,pi]'`) has all the firmware
imports, and none of the hub's web stack: each check runs a fresh interpreter that can
import only the standard library, our firmware packages and what those extras install."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterable, Iterator
from importlib import metadata
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from paho.mqtt.enums import CallbackAPIVersion

from tests.support import ROOT, Mosquitto

PROJECT = "nursery-monitor"
FIRMWARE_EXTRAS = ("firmware", "pi")
# The `hub` extra, distribution by distribution, with the name each is imported by.
HUB_STACK = {
    "fastapi": "fastapi",
    "uvicorn": "uvicorn",
    "apprise": "apprise",
    "argon2-cffi": "argon2",
    "fpdf2": "fpdf",
    "prometheus-client": "prometheus_client",
    "jinja2": "jinja2",
    "httpx": "httpx",
    "cryptography": "cryptography",
    "segno": "segno",
}
# Our packages the firmware process may import: the MQTT contract, the MQTT link (both
# packages since issue #19's restructure), the firmware, and the `nursery` CLI entry point.
FIRMWARE_PACKAGES = ("contract", "mqttlink", "firmware")
OURS_ALLOWED = (*FIRMWARE_PACKAGES, "nursery")
# Never in the firmware process: the hub's code and the hub's web stack.
FORBIDDEN = {"hub", "dashboard", *HUB_STACK.values()}
# Except the hub's settings sections, hub.sources' entries among them (pydantic only): the
# `nursery` command checks the one nursery.toml whole, so a typo in [hub] stops the
# firmware too, as it always did.
HUB_SETTINGS = ("hub", "hub.config", "hub.sources", "hub.sources.settings")

# Run first in the child interpreter: an import of a top-level module in NOT_INSTALLED
# fails as if it were not installed, and says so on stderr (packages that try an optional
# import go on without it, as they would on a Pi).
GUARD = """
import json, os, sys
not_installed = frozenset(json.loads(os.environ["NOT_INSTALLED"]))
readable = frozenset(json.loads(os.environ["HUB_SETTINGS"]))
class FirmwareOnlyInstall:
    def find_spec(self, name, path=None, target=None):
        if name in readable or name.partition(".")[0] not in not_installed:
            return None
        print(f"blocked import: {name}", file=sys.stderr, flush=True)
        raise ModuleNotFoundError(f"No module named {name!r} (firmware-only install)", name=name)
sys.meta_path.insert(0, FirmwareOnlyInstall())
"""

IMPORT_EVERY_MODULE = """
import importlib, importlib.util, pkgutil
import nursery.cli
for package in json.loads(os.environ["FIRMWARE_PACKAGES"]):
    if importlib.util.find_spec(package) is None:
        continue
    root = importlib.import_module(package)
    for module in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(module.name)
print("imported", len(sys.modules), "modules")
"""

RUN_CLI = """
from nursery.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _pyproject_extras() -> tuple[list[str], dict[str, list[str]]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return project["dependencies"], project["optional-dependencies"]


def declared(extras: Iterable[str]) -> list[Requirement]:
    """The requirements pyproject.toml declares for the base and these extras, with our
    own extras (`nursery-monitor[firmware,hub]`) expanded."""
    base, optional = _pyproject_extras()
    found = [Requirement(text) for text in base]
    todo, seen = list(extras), set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for text in optional[extra]:
            requirement = Requirement(text)
            if canonicalize_name(requirement.name) == PROJECT:
                todo.extend(requirement.extras)
            else:
                found.append(requirement)
    return found


def installs(extras: Iterable[str]) -> set[str]:
    """Every distribution that `pip install nursery-monitor[extras]` brings, following each
    one's own requirements as installed here (those not installed here are left out)."""
    names: set[str] = set()
    todo = [(requirement, set(requirement.extras)) for requirement in declared(extras)]
    while todo:
        requirement, wanted = todo.pop()
        name = canonicalize_name(requirement.name)
        if name in names:
            continue
        names.add(name)
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for text in dist.requires or []:
            nested = Requirement(text)
            marker = nested.marker
            if marker is None or any(marker.evaluate({"extra": e}) for e in {"", *wanted}):
                todo.append((nested, set(nested.extras)))
    return names


def importable(dists: set[str]) -> set[str]:
    """The top-level module names these installed distributions provide."""
    return {
        module
        for module, owners in metadata.packages_distributions().items()
        if any(canonicalize_name(owner) in dists for owner in owners)
    }


def firmware_only_env(tmp_path: Path, *, hub_code: bool = False, **settings: str) -> dict[str, str]:
    """The environment of a child that sees this venv as a firmware-only install: what
    `[firmware,pi]` would not install here is missing, and so is our hub code unless
    `hub_code` (the package installs it; the firmware process must not import it)."""
    installed_here = set(metadata.packages_distributions())
    firmware_only = importable(installs(FIRMWARE_EXTRAS)) - FORBIDDEN
    missing = (installed_here - firmware_only | FORBIDDEN) - set(OURS_ALLOWED)
    if hub_code:
        missing -= {"hub", "dashboard"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("NURSERY_")}
    env.update(
        NOT_INSTALLED=json.dumps(sorted(missing)),
        FIRMWARE_PACKAGES=json.dumps(FIRMWARE_PACKAGES),
        HUB_SETTINGS=json.dumps(HUB_SETTINGS),
        PYTHONPATH=str(ROOT),
        NURSERY_FIRMWARE__SENSOR="simulated",
        NURSERY_FIRMWARE__OUTBOX=str(tmp_path / "outbox.db"),
        **settings,
    )
    return env


def blocked(stderr: str) -> set[str]:
    """The top-level modules the child could not import."""
    lines = (line for line in stderr.splitlines() if line.startswith("blocked import: "))
    return {line.removeprefix("blocked import: ").partition(".")[0] for line in lines}


def test_the_firmware_extras_leave_out_the_hub_stack() -> None:
    _, optional = _pyproject_extras()
    assert {canonicalize_name(Requirement(t).name) for t in optional["hub"]} == set(HUB_STACK)
    pulled_in = installs(FIRMWARE_EXTRAS) & set(HUB_STACK)
    assert not pulled_in, f"[firmware,pi] installs the hub's {sorted(pulled_in)}"


def test_the_demo_and_the_tests_install_both_processes() -> None:
    both = installs(("firmware", "hub"))
    assert both | {"amqtt"} <= installs(("demo",))
    assert installs(("demo",)) <= installs(("test",))


def test_every_firmware_module_imports_in_a_firmware_only_install(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", GUARD + IMPORT_EVERY_MODULE],
        env=firmware_only_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not blocked(result.stderr) & FORBIDDEN, result.stderr


def test_nursery_firmware_check_runs_in_a_firmware_only_install(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", GUARD + RUN_CLI, "firmware", "--check"],
        env=firmware_only_env(tmp_path),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "5 of 5 readings good" in result.stdout
    assert not blocked(result.stderr) & FORBIDDEN, result.stderr


@pytest.fixture
def readings(broker: Mosquitto, base_topic: str) -> Iterator[queue.Queue[str]]:
    """The topics of the readings that reach the broker under `base_topic`."""
    seen: queue.Queue[str] = queue.Queue()
    client = mqtt.Client(CallbackAPIVersion.VERSION2)
    client.on_message = lambda c, u, message: seen.put(message.topic)
    client.connect("127.0.0.1", broker.port)
    client.subscribe(f"{base_topic}/+/reading", qos=1)
    client.loop_start()
    yield seen
    client.disconnect()
    client.loop_stop()


def test_nursery_firmware_publishes_from_a_firmware_only_install(
    tmp_path: Path, broker: Mosquitto, base_topic: str, readings: queue.Queue[str]
) -> None:
    env = firmware_only_env(
        tmp_path,
        NURSERY_MQTT__HOST="127.0.0.1",
        NURSERY_MQTT__PORT=str(broker.port),
        NURSERY_MQTT__BASE_TOPIC=base_topic,
        NURSERY_FIRMWARE__ROOM="nursery",
        NURSERY_FIRMWARE__SCENARIO="steady",
        NURSERY_FIRMWARE__INTERVAL_S="0.05",
    )
    firmware = subprocess.Popen(
        [sys.executable, "-c", GUARD + RUN_CLI, "firmware"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    topics: list[str] = []
    try:
        while len(topics) < 3:
            topics.append(readings.get(timeout=30))
    except queue.Empty:
        pass  # the assertions below say what came, with the firmware's stderr
    finally:
        firmware.send_signal(signal.SIGTERM)
        _, stderr = firmware.communicate(timeout=30)
    assert topics == [f"{base_topic}/nursery/reading"] * 3, stderr
    assert firmware.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert not blocked(stderr) & FORBIDDEN, stderr


@pytest.mark.parametrize("command", ["hub", "status", "notify-test", "adduser tester"])
def test_a_hub_command_on_a_firmware_only_pi_says_what_to_install(
    tmp_path: Path, command: str
) -> None:
    result = subprocess.run(
        [sys.executable, "-c", GUARD + RUN_CLI, *command.split()],
        env=firmware_only_env(
            tmp_path,
            hub_code=True,
            NURSERY_HUB__DB=str(tmp_path / "hub.db"),
            NURSERY_NOTIFY__URLS='["json://127.0.0.1:9/push"]',
        ),
        cwd=tmp_path,
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    message = result.stderr.splitlines()[-1]
    assert message.startswith(f"nursery {command.split()[0]}: ")
    assert "is not installed here" in message
    assert "pip install 'nursery-monitor[hub]'" in message
    assert "Traceback" not in result.stderr
