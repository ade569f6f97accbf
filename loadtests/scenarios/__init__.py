"""The scenarios, by name. Loaded lazily: the command line needs the names, not gevent."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from taskchat.loadtests.scenarios.base import Scenario

# name -> "module:Class"
SCENARIOS: dict[str, str] = {
    "task_chat": "taskchat.loadtests.scenarios.task_chat:TaskChat",
    "presence_churn": "taskchat.loadtests.scenarios.presence_churn:PresenceChurn",
    "big_room": "taskchat.loadtests.scenarios.big_room:BigRoom",
    "small_rooms": "taskchat.loadtests.scenarios.small_rooms:SmallRooms",
    "reconnect_storm": "taskchat.loadtests.scenarios.reconnect_storm:ReconnectStorm",
}
SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)


def load(name: str) -> type[Scenario]:
    try:
        module_name, class_name = SCENARIOS[name].split(":")
    except KeyError:
        raise KeyError(f"unknown scenario {name!r} (known: {', '.join(SCENARIOS)})") from None
    cls: type[Scenario] = getattr(importlib.import_module(module_name), class_name)
    return cls
