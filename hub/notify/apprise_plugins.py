"""An Apprise service from its URL, importing only the plugin that URL needs."""

from __future__ import annotations

import importlib
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import apprise

# Schemes whose plugin module is named otherwise (the rest are named as the scheme, or as
# the scheme without the "s" of its secure form). tests/hub/notify/test_apprise_plugins.py checks
# every entry against Apprise's own table.
_MODULES = {
    "apprise": "apprise_api",
    "azure": "office365",
    "bsky": "bluesky",
    "form": "custom_form",
    "gchat": "google_chat",
    "hassio": "home_assistant",
    "json": "custom_json",
    "mailto": "email",
    "mmost": "mattermost",
    "ncloud": "nextcloud",
    "nctalk": "nextcloudtalk",
    "o365": "office365",
    "onesignal": "one_signal",
    "pbul": "pushbullet",
    "pover": "pushover",
    "psafer": "pushsafer",
    "rocket": "rocketchat",
    "signal": "signal_api",
    "spush": "simplepush",
    "tgram": "telegram",
    "toot": "mastodon",
    "xml": "custom_xml",
}
_MODULE_NAME = re.compile(r"[a-z][a-z0-9_]*")


def schemes(plugin: type[apprise.NotifyBase]) -> set[str]:
    """The URL schemes a plugin class answers to."""
    found: set[str] = set()
    for value in (getattr(plugin, "protocol", None), getattr(plugin, "secure_protocol", None)):
        if isinstance(value, str):
            found.add(value.lower())
        elif isinstance(value, tuple | list | set):
            found |= {str(v).lower() for v in value}
    return found


def plugin_for(scheme: str) -> type[apprise.NotifyBase] | None:
    """The plugin class for a scheme, importing its module alone; None if not found so."""
    from apprise import NotifyBase

    scheme = scheme.lower()
    plain = scheme[:-1] if scheme.endswith("s") else scheme
    names = (_MODULES.get(scheme), _MODULES.get(plain), scheme, plain)
    for name in dict.fromkeys(n for n in names if n and _MODULE_NAME.fullmatch(n)):
        try:
            module = importlib.import_module(f"apprise.plugins.{name}")
        except ImportError:
            continue
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, NotifyBase)
                and value is not NotifyBase
                and scheme in schemes(value)
            ):
                return value
    return None


def service(url: str, asset: apprise.AppriseAsset) -> apprise.NotifyBase | None:
    """What `apprise.Apprise.instantiate(url, asset=asset)` returns, built from the URL's
    own plugin when it can be found alone; None for a URL Apprise cannot use."""
    import apprise

    scheme, sep, _ = url.partition("://")
    plugin = plugin_for(scheme) if sep else None
    if plugin is None:
        return apprise.Apprise.instantiate(url, asset=asset)  # loads every plugin
    if not plugin.enabled:
        return None  # a missing optional library: as Apprise would say, unusable here
    # As Apprise's url_to_dict and instantiate do it.
    results = plugin.parse_url(url.replace("/#", "/%23"))
    if not results:
        return None
    results["tag"] = set()
    results["asset"] = asset
    built = plugin(**results)
    return built if built.enabled else None
