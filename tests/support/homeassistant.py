"""Home Assistant's side of MQTT discovery, as far as the tests need it."""

from __future__ import annotations

import json

import pytest


def render(template: str, payload: bytes) -> str:
    """As Home Assistant renders an MQTT template: `value` and `value_json`, result as text."""
    jinja2 = pytest.importorskip("jinja2")
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined)
    text = payload.decode()
    return str(env.from_string(template).render(value=text, value_json=json.loads(text)))
