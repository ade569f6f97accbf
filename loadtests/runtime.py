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
from taskchat.loadtests import webui
from taskchat.loadtests.delivery import REQUEST_TYPE, Counters, DeliveryTracker
from taskchat.loadtests.live import History, sample
from taskchat.loadtests.provision import Provisioner

from taskchat.client.config import load_target

log = logging.getLogger("taskchat.load")

DRAIN_MESSAGE = "taskchat_drain"
COUNTERS_MESSAGE = "taskchat_counters"
RUN_ID = os.environ.get("TASKCHAT_RUN_ID") or uuid.uuid4().hex[:8]


@dataclass
class Settings:
    """What the start form (or the command line) sets for the run; 0 means "each scenario's
    own default" (the scenarios' parameters are class attributes, see ``scenarios.base``)."""

    users_per_room: int = 0
    rooms: int = 0
    message_rate: float = 0.0  # turns per minute per user
    grace: float = 3.0
    storm_every: float = 0.0
    config: str = ""
    jwt_secret: str = ""
    summary_file: str = ""
    status_every: float = 0.0

    @classmethod
    def of(cls, environment: Environment) -> Settings:
        opts = environment.parsed_options
        # an empty secret field in the form means "the secret this process started with"
        secret = (
            (getattr(opts, "jwt_secret", "") if opts is not None else "")
            or _STARTUP_SECRETS.get(environment, "")
            or os.environ.get("TASKCHAT_JWT_SECRET", "")
        )
        if opts is None:
            return cls(jwt_secret=secret)
        return cls(
            users_per_room=int(getattr(opts, "users_per_room", 0) or 0),
            rooms=int(getattr(opts, "rooms", 0) or 0),
            message_rate=float(getattr(opts, "message_rate", 0) or 0),
            grace=float(getattr(opts, "grace", 3.0) or 3.0),
            storm_every=float(getattr(opts, "storm_every", 0) or 0),
            config=getattr(opts, "taskchat_config", "") or "",
            jwt_secret=secret,
            summary_file=getattr(opts, "summary_file", "") or "",
            status_every=float(getattr(opts, "status_every", 0) or 0),
        )

    def shown(self) -> dict[str, Any]:
        """The settings as a report may show them: never the secret."""
        out = {k: v for k, v in self.__dict__.items() if k not in ("jwt_secret", "summary_file")}
        out["jwt_secret"] = "(set)" if self.jwt_secret else "(none)"
        return out


_STARTUP_SECRETS: WeakKeyDictionary[Environment, str] = WeakKeyDictionary()


class _State:
    def __init__(self, environment: Environment) -> None:
        self.environment = environment
        self.tracker = DeliveryTracker(
            _LocustSink(environment), grace=Settings.of(environment).grace
        )
        self.provisioner: Provisioner | None = None
        self.worker_counters: dict[str, dict[str, Any]] = {}
        self.worker_count = 0
        self.drained = False
        self.started_at = time.time()
        self.peak_users = 0
        self.sweeper: gevent.Greenlet | None = None
        self.history = History()
        self.sampler: gevent.Greenlet | None = None


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


def setup_failed(environment: Environment, what: str, exc: BaseException) -> None:
    """A user could not be set up (its rooms, its identity): counted, and said why."""
    environment.stats.log_error("setup", what, str(exc))
    tracker(environment).count("setup_failures")
    log.error("cannot set up the load run (%s): %s", what, exc)


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


def _sample_loop(environment: Environment) -> None:
    """Every 2 s a sample for the Delivery tab; every ``status_every`` s a status line."""
    state = _state(environment)
    every = Settings.of(environment).status_every
    headless = environment.web_ui is None
    last_line = time.monotonic()
    while True:
        gevent.sleep(2.0)
        last = state.history.samples[-1] if state.history.samples else None
        state.history.add(sample(environment, totals(environment), state.started_at, last))
        if isinstance(environment.runner, MasterRunner):
            state.worker_count = max(state.worker_count, environment.runner.worker_count)
        if headless and every and time.monotonic() - last_line >= every - 0.5:
            last_line = time.monotonic()
            print(state.history.samples[-1].status_line(), flush=True)


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
    classes = environment.user_classes or []
    return {
        "scenario": ", ".join(c.__name__ for c in classes),
        # what each scenario ran with: the command line's override, else the class's value
        "parameters": {
            c.__name__: {
                p: getattr(settings, p, 0) or getattr(c, p) for p in getattr(c, "parameters", ())
            }
            for c in classes
        },
        "workers": _state(environment).worker_count,
        # each worker's own final counters (a master's totals are their sum)
        "worker_counters": {
            node: {k: v for k, v in c.items() if k != "final"}
            for node, c in _state(environment).worker_counters.items()
        },
        "host": environment.host,
        "started_at": _state(environment).started_at,
        "ended_at": time.time(),
        "users": _state(environment).peak_users,
        "counters": counters,
        "entries": entries,
        "errors": errors,
        "settings": settings.shown(),
        "history": _state(environment).history.rows(),
    }


# -- wiring -----------------------------------------------------------------------------------


def install(environment: Environment) -> None:
    """Connect the run's state to Locust's events; called from the locustfile's init hook."""
    events = environment.events
    runner = environment.runner
    if environment.parsed_options is not None:
        _STARTUP_SECRETS[environment] = getattr(environment.parsed_options, "jwt_secret", "") or ""

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
        if not isinstance(environment.runner, WorkerRunner):
            state.history.clear()
            if state.sampler is None:
                state.sampler = gevent.spawn(_sample_loop, environment)
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

    def secrets() -> list[str]:
        found = webui.process_secrets(environment)
        state = _state(environment)
        if state.provisioner is not None and state.provisioner.target.jwt_secret:
            found.append(state.provisioner.target.jwt_secret)
        return found

    webui.install(environment, lambda: totals(environment), _state(environment).history, secrets)
