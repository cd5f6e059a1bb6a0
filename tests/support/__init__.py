"""What the tests share (brokers, processes, a running hub, the players around it); the
fixtures that build them stay in tests/conftest.py, and no test module imports another."""

from tests.support.env import settings_env, without_settings
from tests.support.hub import (
    TEST_CAREGIVER,
    TEST_PASSWORD,
    RunningHub,
    StartHub,
    api_token,
    hub_settings,
    login,
)
from tests.support.mosquitto import Mosquitto
from tests.support.paths import DATA, ROOT
from tests.support.ports import free_port
from tests.support.processes import NurseryProcess
from tests.support.rooms import SteadyRoom
from tests.support.wait import wait_until

__all__ = [
    "DATA",
    "ROOT",
    "TEST_CAREGIVER",
    "TEST_PASSWORD",
    "Mosquitto",
    "NurseryProcess",
    "RunningHub",
    "StartHub",
    "SteadyRoom",
    "api_token",
    "free_port",
    "hub_settings",
    "login",
    "settings_env",
    "wait_until",
    "without_settings",
]
