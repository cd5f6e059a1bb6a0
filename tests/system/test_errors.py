"""One exception root: every error our packages define is a NurseryError, and each keeps
the builtin it stood for, so code that catches ValueError or LookupError still catches it."""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil

import pytest

from contract.errors import NurseryError

PACKAGES = ("contract", "mqttlink", "firmware", "hub", "dashboard", "nursery")

# The builtin each error had before the root existed (docs/errors.md).
BUILTINS: dict[str, type[Exception]] = {
    "contract.topics.ContractError": ValueError,
    "mqttlink.tls.MqttTlsError": ValueError,
    "firmware.sensors.base.SensorError": RuntimeError,
    "firmware.indicators.devices.IndicatorError": RuntimeError,
    "firmware.outbox_file.OutboxError": RuntimeError,
    "hub.accounts.AccountError": ValueError,
    "hub.notify.links.BadLink": ValueError,
    "hub.preferences.PreferenceError": ValueError,
    "hub.preferences.UnknownChannel": LookupError,
    "hub.monitor.watch.UnknownAlert": LookupError,
    "hub.episodes.validation.EpisodeInvalid": ValueError,
    "hub.episodes.storage.NotFound": LookupError,
}


@functools.cache
def our_errors() -> dict[str, type[BaseException]]:
    """Every exception class defined in a module of our packages, by its dotted name."""
    found: dict[str, type[BaseException]] = {}
    for package in PACKAGES:
        root = importlib.import_module(package)
        names = [package] + [
            info.name for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}.")
        ]
        for name in names:
            if name.endswith("__main__"):
                continue
            module = importlib.import_module(name)
            for _, value in inspect.getmembers(module, inspect.isclass):
                if issubclass(value, BaseException) and value.__module__ == name:
                    found[f"{name}.{value.__qualname__}"] = value
    return found


def test_every_error_of_ours_derives_from_the_one_root() -> None:
    errors = our_errors()
    assert set(BUILTINS) <= set(errors), "an error named here has moved: update BUILTINS"
    outside = sorted(name for name, cls in errors.items() if not issubclass(cls, NurseryError))
    assert outside == []


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_each_error_keeps_the_builtin_it_stood_for(name: str) -> None:
    cls = our_errors()[name]
    assert issubclass(cls, BUILTINS[name])
    assert issubclass(cls, NurseryError)
