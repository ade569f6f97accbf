"""The toolkit's wiring into Locust: the command-line options and the run's state (delivery
tracking, draining at the end, the Delivery tab, status lines, worker -> master counters).

Importing this module registers it; a locustfile of your own imports it next to its users::

    import taskchat.loadtests.plugin  # noqa: F401  (options, counters, the Delivery tab)
"""

from __future__ import annotations

from typing import Any

from locust import events
from taskchat.loadtests import runtime


@events.init_command_line_parser.add_listener
def _arguments(parser: Any) -> None:
    parser.set_defaults(web_host="127.0.0.1")
    run_wide = "for every scenario; 0 keeps each scenario's own (see its settings in the picker)"
    overrides: tuple[tuple[str, type, str], ...] = (
        ("--users-per-room", int, "members per room"),
        ("--rooms", int, "rooms each PresenceChurn user moves between"),
        ("--message-rate", float, "turns per minute per user (the reference server allows 20 "
         "sends per 10 s per user)"),
        ("--storm-every", float, "seconds between ReconnectStorm's storms"),
    )  # fmt: skip
    for flag, kind, what in overrides:
        parser.add_argument(
            flag, type=kind, default=kind(0), include_in_web_ui=False, help=f"{what}, {run_wide}"
        )
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
