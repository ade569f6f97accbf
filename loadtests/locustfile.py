"""The task-chat scenarios, one Locust user class each.

    locust -f <this file> --class-picker      # the web UI: pick scenarios and edit their parameters
    locust -f <this file> --headless TaskChat # one scenario by class name
    taskchat load --ui / taskchat load --scenario task_chat   # the same, with this file found for you

The Host is the server's URL. A target that the conformance config describes works the same:
``--taskchat-config``. The web UI listens on 127.0.0.1 unless ``--web-host`` says otherwise: its
pages control a load generator that holds the server's signing secret.
"""

from __future__ import annotations

import taskchat.loadtests.plugin  # noqa: F401  (options, counters, the Delivery tab)
from taskchat.loadtests.scenarios.big_room import BigRoom
from taskchat.loadtests.scenarios.presence_churn import PresenceChurn
from taskchat.loadtests.scenarios.reconnect_storm import ReconnectStorm
from taskchat.loadtests.scenarios.small_rooms import SmallRooms
from taskchat.loadtests.scenarios.task_chat import TaskChat

__all__ = ["BigRoom", "PresenceChurn", "ReconnectStorm", "SmallRooms", "TaskChat"]
