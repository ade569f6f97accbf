"""``locust -f loadtests/locustfile.py``: the task-chat scenarios, chosen in the start form.

The form's Host is the server's URL; the scenario's parameters are custom arguments shown in the
form. A target that the conformance config describes works the same: ``--taskchat-config``.
"""

from __future__ import annotations

from typing import Any

from locust import events
from taskchat.loadtests import runtime
from taskchat.loadtests.chat_user import ChatUser
from taskchat.loadtests.scenarios import SCENARIO_NAMES

__all__ = ["ChatUser"]


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.add_argument(
        "--scenario", choices=SCENARIO_NAMES, default="task_chat", help="what the users do"
    )
    parser.add_argument(
        "--users-per-room", type=int, default=0, help="members per room (0: scenario default)"
    )
    parser.add_argument(
        "--rooms", type=int, default=0, help="rooms each user moves between (presence_churn)"
    )
    parser.add_argument(
        "--message-rate",
        type=float,
        default=0.0,
        help="messages per minute per user (0: scenario default; the reference server allows "
        "20 sends per 10 s per user)",
    )
    parser.add_argument(
        "--grace", type=float, default=3.0, help="seconds a message may take before it is lost"
    )
    parser.add_argument(
        "--storm-every", type=float, default=15.0, help="seconds between reconnect storms"
    )
    parser.add_argument(
        "--taskchat-config", default="", help="the conformance suite's target config (TOML)"
    )
    parser.add_argument(
        "--jwt-secret",
        default="",
        is_secret=True,
        env_var="TASKCHAT_JWT_SECRET",
        help="HS256 secret to mint users' tokens",
    )
    parser.add_argument(
        "--summary-file", default="", include_in_web_ui=False, help="write a JSON summary here"
    )


@events.init.add_listener
def _init(environment: Any, **_: Any) -> None:
    runtime.install(environment)
