"""The load run's process-wide state, and its wiring into Locust's events.

Per process: one delivery tracker, one provisioner, the scenario settings. Across processes:
workers send their cumulative counters with every stats report (``report_to_master``) and once
more, final, after draining; the master sums the latest of each worker. At the end of a timed
run the master tells everyone to drain (stop sending, wait ``grace`` for what is still owed,
count the rest as lost) a little before Locust's own run-time limit stops the users, so the
losses are counted while every receiver is still connected.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

import gevent
from locust.env import Environment
from locust.runners import LocalRunner, MasterRunner, WorkerRunner
from taskchat.loadtests.delivery import REQUEST_TYPE, Counters, DeliveryTracker
from taskchat.loadtests.provision import Provisioner

from taskchat.client.config import load_target

log = logging.getLogger("taskchat.load")

DRAIN_MESSAGE = "taskchat_drain"
COUNTERS_MESSAGE = "taskchat_counters"
RUN_ID = os.environ.get("TASKCHAT_RUN_ID") or uuid.uuid4().hex[:8]


@dataclass
class Settings:
    """What the start form (or the command line) sets; 0 means "the scenario's default"."""

    scenario: str = "task_chat"
    users_per_room: int = 0
    rooms: int = 0
    message_rate: float = 0.0  # messages per minute per sending user
    grace: float = 3.0
    storm_every: float = 15.0
    config: str = ""
    jwt_secret: str = ""
    summary_file: str = ""

    @classmethod
    def of(cls, environment: Environment) -> Settings:
        opts = environment.parsed_options
        if opts is None:
            return cls()
        return cls(
            scenario=getattr(opts, "scenario", "task_chat") or "task_chat",
            users_per_room=int(getattr(opts, "users_per_room", 0) or 0),
            rooms=int(getattr(opts, "rooms", 0) or 0),
            message_rate=float(getattr(opts, "message_rate", 0) or 0),
            grace=float(getattr(opts, "grace", 3.0) or 3.0),
            storm_every=float(getattr(opts, "storm_every", 15.0) or 15.0),
            config=getattr(opts, "taskchat_config", "") or "",
            jwt_secret=getattr(opts, "jwt_secret", "") or "",
            summary_file=getattr(opts, "summary_file", "") or "",
        )


class _State:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.tracker = DeliveryTracker(
            _LocustSink(environment), grace=Settings.of(environment).grace
        )
        self.provisioner: Provisioner | None = None
        self.worker_counters: dict[str, dict[str, Any]] = {}
        self.drained = False
        self.started_at = time.time()
        self.peak_users = 0
        self.sweeper: gevent.Greenlet | None = None


_STATES: WeakKeyDictionary[Environment, _State] = WeakKeyDictionary()
_TAG: list[str] = []


class _LocustSink:
    """Delivery samples become requests in Locust's statistics; counted failures become errors
    of that metric (so the stats table's failure column shows lost/duplicate/out-of-order)."""

    def __init__(self, environment: Environment) -> None:
        self.environment = environment

    def sample(self, name: str, ms: float) -> None:
        self.environment.events.request.fire(
            request_type=REQUEST_TYPE,
            name=name,
            response_time=ms,
            response_length=0,
            exception=None,
            context={},
        )

    def failure(self, name: str, message: str) -> None:
        self.environment.stats.log_error(REQUEST_TYPE, name, message)


def _state(environment: Environment) -> _State:
    state = _STATES.get(environment)
    if state is None:
        state = _STATES[environment] = _State(environment)
    return state


def tracker(environment: Environment) -> DeliveryTracker:
    return _state(environment).tracker


def process_tag() -> str:
    """Run id + this process's place among the workers: unique across processes and machines
    of one run (workers on other machines are told the run id by TASKCHAT_RUN_ID, or differ by
    their own random one)."""
    if not _TAG:
        index = "l"
        for env in list(_STATES):
            if isinstance(env.runner, WorkerRunner):
                index = f"w{env.runner.worker_index}"
        _TAG.append(f"{RUN_ID}{index}")
    return _TAG[0]


def provisioner(environment: Environment) -> Provisioner:
    state = _state(environment)
    if state.provisioner is None:
        settings = Settings.of(environment)
        target = load_target(
            Path(settings.config) if settings.config else None,
            environment.host,
            settings.jwt_secret or None,
        )
        state.provisioner = Provisioner(target, process_tag())
    return state.provisioner


# -- the end of a run -------------------------------------------------------------------------


def drain(environment: Environment) -> None:
    """Stop sending, wait up to ``grace`` for what is owed, count the rest (this process)."""
    state = _state(environment)
    if state.drained:
        return
    state.drained = True
    t = state.tracker
    t.draining = True
    t.wait_delivered(t.grace)
    t.sweep(final=True)
    runner = environment.runner
    if isinstance(runner, WorkerRunner):
        runner.send_message(COUNTERS_MESSAGE, t.snapshot())


def totals(environment: Environment) -> Counters:
    """The run's counters: this process's, or on a master the sum of its workers'."""
    state = _state(environment)
    if isinstance(environment.runner, MasterRunner):
        return Counters.total(state.worker_counters.values())
    return Counters.total([state.tracker.snapshot()])


def _start_drain_everywhere(environment: Environment) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        state = _state(environment)
        if not state.drained:
            state.drained = True
            runner.send_message(DRAIN_MESSAGE, None)
            # wait for the workers' final counters (each drains for at most grace seconds)
            deadline = time.monotonic() + Settings.of(environment).grace + 3
            while time.monotonic() < deadline:
                finals = [c for c in state.worker_counters.values() if c.get("final")]
                if len(finals) >= max(1, runner.worker_count):
                    break
                gevent.sleep(0.1)
    else:
        drain(environment)


def _sweep_loop(environment: Environment) -> None:
    t = _state(environment).tracker
    while True:
        gevent.sleep(1.0)
        if not t.draining:
            t.sweep()


def summary(environment: Environment) -> dict[str, Any]:
    """What the master (or the single process) knows at the end: counters and statistics."""
    stats = environment.stats
    entries = []
    for entry in stats.entries.values():
        entries.append(
            {
                "type": entry.method,
                "name": entry.name,
                "requests": entry.num_requests,
                "failures": entry.num_failures,
                "median_ms": entry.median_response_time,
                "avg_ms": entry.avg_response_time,
                "p95_ms": entry.get_response_time_percentile(0.95),
                "p99_ms": entry.get_response_time_percentile(0.99),
                "max_ms": entry.max_response_time,
                "rps": entry.total_rps,
            }
        )
    errors = [
        {"type": e.method, "name": e.name, "error": str(e.error), "occurrences": e.occurrences}
        for e in stats.errors.values()
    ]
    counters = totals(environment).to_dict()
    counters.pop("final", None)
    settings = Settings.of(environment)
    return {
        "scenario": settings.scenario,
        "host": environment.host,
        "started_at": _state(environment).started_at,
        "ended_at": time.time(),
        "users": _state(environment).peak_users,
        "counters": counters,
        "entries": entries,
        "errors": errors,
        "settings": {k: v for k, v in settings.__dict__.items() if k != "jwt_secret"},
    }


# -- wiring -----------------------------------------------------------------------------------


def install(environment: Environment) -> None:
    """Connect the run's state to Locust's events; called from the locustfile's init hook."""
    events = environment.events
    runner = environment.runner

    if isinstance(runner, WorkerRunner):

        def on_drain(environment: Environment, msg: Any, **_: Any) -> None:
            drain(environment)

        runner.register_message(DRAIN_MESSAGE, on_drain)

        @events.report_to_master.add_listener
        def _report(client_id: str, data: dict[str, Any]) -> None:
            state = _state(environment)
            data["taskchat"] = {**state.tracker.snapshot(), "final": int(state.drained)}

    if isinstance(runner, MasterRunner):

        def on_counters(environment: Environment, msg: Any, **_: Any) -> None:
            _state(environment).worker_counters[msg.node_id] = {**msg.data, "final": 1}

        runner.register_message(COUNTERS_MESSAGE, on_counters)

        @events.worker_report.add_listener
        def _worker_report(client_id: str, data: dict[str, Any]) -> None:
            counters = data.get("taskchat")
            known = _state(environment).worker_counters.get(client_id, {})
            if counters is not None and not known.get("final"):
                _state(environment).worker_counters[client_id] = counters

    @events.test_start.add_listener
    def _test_start(environment: Environment, **_: Any) -> None:
        state = _state(environment)
        state.started_at = time.time()
        # a new run from the same web UI: follow messages again, count afresh
        state.drained = False
        state.worker_counters.clear()
        state.tracker.draining = state.tracker.closed = False
        state.tracker.counters = Counters()
        if not isinstance(environment.runner, MasterRunner) and state.sweeper is None:
            state.sweeper = gevent.spawn(_sweep_loop, environment)
        opts = environment.parsed_options
        run_time = getattr(opts, "run_time", None) if opts is not None else None
        if run_time and not isinstance(environment.runner, WorkerRunner):
            lead = Settings.of(environment).grace + 1.0
            gevent.spawn_later(max(0.0, run_time - lead), _start_drain_everywhere, environment)

    @events.spawning_complete.add_listener
    def _spawned(user_count: int, **_: Any) -> None:
        state = _state(environment)
        state.peak_users = max(state.peak_users, user_count)

    @events.test_stopping.add_listener
    def _test_stopping(environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, MasterRunner | LocalRunner):
            _start_drain_everywhere(environment)

    @events.quitting.add_listener
    def _quitting(environment: Environment, **_: Any) -> None:
        if isinstance(environment.runner, WorkerRunner):
            return
        path = Settings.of(environment).summary_file
        if path:
            Path(path).write_text(json.dumps(summary(environment), indent=2, default=str))

    if environment.web_ui is not None:

        @environment.web_ui.app.route("/taskchat")
        def _taskchat_counters() -> Any:
            return totals(environment).to_dict()
