"""The built-in scenarios, by the name ``taskchat load --scenario`` takes, and the Locust user
class each one is. Names only here: the command line needs them, not gevent."""

from __future__ import annotations

# name -> the Locust user class in the packaged locustfile
SCENARIOS: dict[str, str] = {
    "task_chat": "TaskChat",
    "presence_churn": "PresenceChurn",
    "big_room": "BigRoom",
    "small_rooms": "SmallRooms",
    "reconnect_storm": "ReconnectStorm",
}
SCENARIO_NAMES: tuple[str, ...] = tuple(SCENARIOS)
