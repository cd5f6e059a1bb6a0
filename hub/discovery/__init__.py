"""Home Assistant discovery: every room appears in Home Assistant by itself (docs/mqtt.md)."""

from hub.discovery.announcer import Discovery
from hub.discovery.entities import ALERT_STATES

__all__ = ["ALERT_STATES", "Discovery"]
