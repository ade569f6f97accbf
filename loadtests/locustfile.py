"""The task-chat scenarios, one Locust user class each.

    locust -f <this file> --class-picker      # the web UI: pick scenarios and edit their parameters
    locust -f <this file> --headless TaskChat # one scenario by class name
    taskchat load --ui / taskchat load --scenario task_chat   # the same, with this file found for you

The Host is the server's URL. A target that the conformance config describes works the same:
``--taskchat-config``. The web UI listens on 127.0.0.1 unless ``--web-host`` says otherwise: its
pages control a load generator that holds the server's signing secret.
"""

from __future__ import annotations

from typing import Any

from locust import events
from taskchat.loadtests import runtime
from taskchat.loadtests.scenarios.big_room import BigRoom
from taskchat.loadtests.scenarios.presence_churn import PresenceChurn
from taskchat.loadtests.scenarios.reconnect_storm import ReconnectStorm
from taskchat.loadtests.scenarios.small_rooms import SmallRooms
from taskchat.loadtests.scenarios.task_chat import TaskChat

__all__ = ["BigRoom", "PresenceChurn", "ReconnectStorm", "SmallRooms", "TaskChat"]


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.set_defaults(web_host="127.0.0.1")
    run_wide = "for every scenario; 0 keeps each scenario's own (see its settings in the picker)"
    parser.add_argument(
        "--users-per-room", type=int, default=0, include_in_web_ui=False,
        help=f"members per room, {run_wide}",
    )  # fmt: skip
    parser.add_argument(
        "--rooms", type=int, default=0, include_in_web_ui=False,
        help=f"rooms each PresenceChurn user moves between, {run_wide}",
    )  # fmt: skip
    parser.add_argument(
        "--message-rate", type=float, default=0.0, include_in_web_ui=False,
        help=f"turns per minute per user, {run_wide} (the reference server allows 20 sends "
        "per 10 s per user)",
    )  # fmt: skip
    parser.add_argument(
        "--storm-every", type=float, default=0.0, include_in_web_ui=False,
        help=f"seconds between ReconnectStorm's storms, {run_wide}",
    )  # fmt: skip
    parser.add_argument(
        "--grace", type=float, default=3.0, help="seconds a message may take before it is lost"
    )
    parser.add_argument(
        "--taskchat-config", default="", help="the conformance suite's target config (TOML)"
    )
    # no env_var and no default shown: an empty field means the secret the process started with
    # ($TASKCHAT_JWT_SECRET or this option on the command line), which no page ever shows
    parser.add_argument(
        "--jwt-secret", default="", is_secret=True,
        help="HS256 secret to mint users' tokens (empty: $TASKCHAT_JWT_SECRET)",
    )  # fmt: skip
    parser.add_argument(
        "--summary-file", default="", include_in_web_ui=False, help="write a JSON summary here"
    )
    parser.add_argument(
        "--status-every", type=float, default=0.0, include_in_web_ui=False,
        help="headless: print a status line every N seconds (0: never)",
    )  # fmt: skip


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    runtime.install(environment)
