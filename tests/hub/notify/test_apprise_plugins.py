"""Apprise services built from their own plugin alone: the same service as Apprise's,
without importing the other hundred-odd plugins."""

from __future__ import annotations

import subprocess
import sys

import apprise
import pytest

from hub.notify.apprise_plugins import _MODULES, plugin_for, schemes, service

URLS = [
    "json://127.0.0.1:8080/hook",
    "jsons://user:pass@example.com/path?-X-Token=abc",
    "ntfys://ntfy.sh/nursery-alerts?priority=high",
    "gotify://gotify.local/AbCdEfGhIjKlMnO",
    "pover://uQiRzpo4DXghDmr9QzzfQu27cmVRsG@azGDORePK8gMaC0QOYAMyEEuzJnyUi",
    "tgram://123456789:abcdefg_hijklmnop/-100123",
    "mailtos://user:secret@example.com?to=parent@example.com",
    "hassio://hass.local/long-lived-token-0123456789",
]


@pytest.mark.parametrize("url", URLS)
def test_the_same_service_as_apprise_builds(url: str) -> None:
    asset = apprise.AppriseAsset()
    ours = service(url, asset)
    theirs = apprise.Apprise.instantiate(url, asset=asset)
    assert ours is not None and theirs is not None
    assert type(ours) is type(theirs)
    assert ours.url(privacy=False) == theirs.url(privacy=False)  # type: ignore[no-untyped-call]


def test_every_listed_module_is_apprises_own_for_its_scheme() -> None:
    from apprise.manager_plugins import NotificationManager

    table = NotificationManager()  # type: ignore[no-untyped-call]
    for scheme, module in _MODULES.items():
        assert table[scheme].__module__.startswith(f"apprise.plugins.{module}"), scheme
        found = plugin_for(scheme)
        assert found is table[scheme], scheme
        assert scheme in schemes(found)


def test_unknown_and_native_urls_are_left_to_apprise() -> None:
    assert plugin_for("nosuchservice") is None
    assert plugin_for("https") is None
    assert service("nosuchservice://token@somewhere/x", apprise.AppriseAsset()) is None


def test_only_the_urls_own_plugin_is_imported() -> None:
    """In a fresh interpreter: a json:// service loads neither other plugins nor their
    libraries (Apprise alone would import them all)."""
    code = (
        "import sys, apprise\n"
        "from hub.notify.apprise_plugins import service\n"
        "assert service('json://127.0.0.1:9/x', apprise.AppriseAsset()) is not None\n"
        "plugins = [m for m in sys.modules if m.startswith('apprise.plugins.')]\n"
        "print(len(plugins), 'telegram' in str(plugins), 'oauthlib' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.split()
    assert int(out[0]) < 5, out
    assert out[1:] == ["False", "False"]
