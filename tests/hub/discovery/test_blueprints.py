"""The Home Assistant blueprints under blueprints/: valid as Home Assistant loads them
(its blueprint schema, restated here: Home Assistant itself is far too large to install for
a test), every input used, and wired to the entities and states the hub really announces.

Home Assistant drops or refuses a blueprint quietly at import time, in front of a parent who
wanted a phone woken at night; these checks catch that here instead."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jinja2
import pytest
import yaml

from hub.discovery import ALERT_STATES, Discovery
from nursery.config import Settings
from tests.support.paths import ROOT

FOLDER = ROOT / "blueprints" / "automation" / "nursery_monitor"
ALERT = FOLDER / "alert_to_phone.yaml"
HUB_OFFLINE = FOLDER / "hub_offline_to_phone.yaml"

# Home Assistant's blueprint schema (homeassistant/components/blueprint/schemas.py).
BLUEPRINT_KEYS = {"name", "description", "domain", "source_url", "author", "homeassistant", "input"}
INPUT_KEYS = {"name", "description", "default", "selector"}
# The selectors these blueprints use, with the options Home Assistant accepts for each.
SELECTORS: dict[str, set[str]] = {
    "entity": {"filter", "multiple"},
    "device": {"filter", "multiple"},
    "number": {"min", "max", "step", "unit_of_measurement", "mode"},
    "boolean": set(),
}
ENTITY_FILTER_KEYS = {"domain", "integration", "device_class", "supported_features"}
DEVICE_FILTER_KEYS = {"integration", "manufacturer", "model"}
# An automation's own keys (Home Assistant 2024.10 and later spell them in the plural).
AUTOMATION_KEYS = {
    "blueprint",
    "mode",
    "max",
    "max_exceeded",
    "triggers",
    "conditions",
    "variables",
    "actions",
}
MODES = {"single", "restart", "queued", "parallel"}


class Input(str):
    """The name in a `!input NAME` tag."""


class _Loader(yaml.SafeLoader):
    """YAML as Home Assistant reads a blueprint: `!input` is its own tag."""


_Loader.add_constructor(
    "!input",
    lambda loader, node: Input(loader.construct_scalar(node)),  # type: ignore[arg-type]
)


def load(path: Path) -> dict[str, Any]:
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    assert isinstance(data, dict), f"{path.name}: not a mapping"
    return data


def walk(value: object) -> Iterator[object]:
    """Every value inside `value`, depth first."""
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from walk(item)
    elif isinstance(value, list):
        for item in value:
            yield from walk(item)


def announced() -> dict[str, dict[str, Any]]:
    """The hub's discovery components for a room, by key, plus the hub's own."""
    discovery = Discovery(Settings(mqtt={"base_topic": "nursery"}), lambda *_: None)
    out: dict[str, dict[str, Any]] = {}
    for payload in [*discovery.configs("nursery").values(), *discovery.hub_configs().values()]:
        out.update(payload.get("cmps", {}))
    return out


BOTH = pytest.mark.parametrize("path", [ALERT, HUB_OFFLINE], ids=lambda p: p.stem)


@BOTH
def test_metadata_follows_home_assistants_blueprint_schema(path: Path) -> None:
    blueprint = load(path)["blueprint"]
    assert set(blueprint) <= BLUEPRINT_KEYS, set(blueprint) - BLUEPRINT_KEYS
    assert isinstance(blueprint["name"], str) and blueprint["name"]
    assert isinstance(blueprint["description"], str) and blueprint["description"]
    assert blueprint["domain"] == "automation"
    assert re.fullmatch(r"\d+\.\d+\.\d+", blueprint["homeassistant"]["min_version"])
    for name, spec in blueprint["input"].items():
        assert set(spec) <= INPUT_KEYS, f"{name}: {set(spec) - INPUT_KEYS}"
        assert spec.get("name") and spec.get("description"), f"{name} needs words for a parent"
        (kind, options), *more = spec["selector"].items()
        assert not more, f"{name}: one selector per input"
        assert kind in SELECTORS, f"{name}: selector {kind}"
        assert set(options or {}) <= SELECTORS[kind], f"{name}: {set(options) - SELECTORS[kind]}"
        if kind in ("entity", "device"):
            allowed = ENTITY_FILTER_KEYS if kind == "entity" else DEVICE_FILTER_KEYS
            for entry in options["filter"]:
                assert set(entry) <= allowed, f"{name}: filter {set(entry) - allowed}"
        if kind == "number":
            assert options["min"] <= spec["default"] <= options["max"]
        if kind == "boolean":
            assert isinstance(spec["default"], bool)


@BOTH
def test_every_input_is_used_and_every_use_is_declared(path: Path) -> None:
    document = load(path)
    declared = set(document["blueprint"]["input"])
    used = {value for value in walk(document) if isinstance(value, Input)}
    assert used == declared


@BOTH
def test_the_automation_has_triggers_and_actions_home_assistant_accepts(path: Path) -> None:
    document = load(path)
    assert set(document) <= AUTOMATION_KEYS, set(document) - AUTOMATION_KEYS
    assert document["mode"] in MODES
    entity_inputs = {
        name
        for name, spec in document["blueprint"]["input"].items()
        if "entity" in spec["selector"]
    }
    assert document["triggers"], "a blueprint that never triggers"
    for trigger in document["triggers"]:
        assert trigger["trigger"] == "state"
        assert trigger["entity_id"] in entity_inputs
    assert document["actions"]


@BOTH
def test_every_template_compiles(path: Path) -> None:
    environment = jinja2.Environment(autoescape=False)  # noqa: S701 - Home Assistant's own
    templates = [value for value in walk(load(path)) if isinstance(value, str) and "{{" in value]
    assert templates
    for template in templates:
        environment.parse(template)


def _entity_domains(path: Path) -> dict[str, str]:
    inputs = load(path)["blueprint"]["input"]
    return {
        name: spec["selector"]["entity"]["filter"][0]["domain"]
        for name, spec in inputs.items()
        if "entity" in spec["selector"]
    }


def test_the_alert_blueprint_reads_the_hubs_alert_and_presses_its_buttons() -> None:
    components = announced()
    domains = _entity_domains(ALERT)
    assert domains == {
        "alert_sensor": components["alert"]["p"],
        "acknowledge_button": components["acknowledge"]["p"],
        "snooze_button": components["snooze"]["p"],
    }
    document = load(ALERT)
    (trigger,) = document["triggers"]
    # It wakes a phone for every state that needs someone, and only for those.
    assert set(trigger["to"]) == {"alert", "warning"}
    assert set(trigger["to"]) <= set(ALERT_STATES)
    # The buttons it shows are the ones it waits for, and each presses the right button.
    notify = document["actions"][0]
    shown = [action["action"] for action in notify["data"]["actions"]]
    assert [action["title"] for action in notify["data"]["actions"]] == [
        "I'm on it",
        "Snooze 30 min",
    ]
    waited = [
        trigger["event_data"]["action"]
        for trigger in document["actions"][1]["wait_for_trigger"]
        if trigger["trigger"] == "event"
    ]
    assert shown == waited == ["{{ ack_action }}", "{{ snooze_action }}"]
    pressed = [
        step["target"]["entity_id"]
        for option in document["actions"][2]["choose"]
        for step in option["sequence"]
        if step.get("action") == "button.press"
    ]
    assert pressed == ["acknowledge_button", "snooze_button"]


@BOTH
def test_sound_through_silent_mode_is_a_critical_alert_on_ios(path: Path) -> None:
    document = load(path)
    push = document["actions"][0]["data"]["push"]
    render = jinja2.Environment(autoescape=False).from_string  # noqa: S701
    assert render(push["sound"]["critical"]).render(sound_through_silent=True) == "1"
    assert render(push["sound"]["critical"]).render(sound_through_silent=False) == "0"
    assert render(push["interruption-level"]).render(sound_through_silent=True) == "critical"
    assert document["blueprint"]["input"]["sound_through_silent"]["default"] is True


def test_the_offline_blueprint_watches_the_hubs_connection() -> None:
    components = announced()
    connection = components["connection"]
    inputs = load(HUB_OFFLINE)["blueprint"]["input"]
    entity = inputs["connection_sensor"]["selector"]["entity"]["filter"][0]
    assert entity["domain"] == connection["p"]
    assert entity["device_class"] == connection["device_class"]
    document = load(HUB_OFFLINE)
    # A binary sensor is "off" when the hub's last will says offline, "unavailable" when
    # Home Assistant lost the broker itself: either way no alert can get through.
    assert {trigger["to"] for trigger in document["triggers"]} == {"off", "unavailable"}
    assert all(trigger["for"] == {"minutes": "minutes"} for trigger in document["triggers"])
    back = document["actions"][1]["wait_for_trigger"][0]
    assert back["to"] == "on"
