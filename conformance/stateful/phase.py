"""The stateful phase of a conformance run: Hypothesis drives random sessions until the budget
is spent; a divergence is shrunk to the shortest session that still shows it, and reported with
its steps, its frames and the command line that replays it.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import run_state_machine_as_test
from taskchat.conformance.context import Ctx
from taskchat.conformance.replay import replay_command
from taskchat.conformance.stateful.machine import SessionMachine, machine_for
from taskchat.conformance.stateful.session import Divergence, Session

_MAX_SHOWN_STEPS = 40
_PREFIX = 4  # steps that make a session new (see novel)
_AHEAD = 2  # sessions prepared ahead (their HTTP set-up is most of a short session's time)


def _actions(steps: list[str]) -> int:
    """The actions of a session's log (the indented lines are what they got back)."""
    return sum(1 for s in steps if not s.startswith("    "))


Calls = list[tuple[str, dict[str, Any]]]


class _BudgetSpent(Exception):
    """Ends the run of Hypothesis when the time budget is spent (it has no time limit of its
    own). Raised before a new session draws anything, so Hypothesis may also report it as
    flaky generation; either way the phase ends there, as a pass if nothing failed."""


class StatefulPhase:
    """One run of the phase: its seed, its budget, the sessions it ran and what they found.

    Hypothesis generates the sessions; a failing one is shrunk here, by replaying it with
    chunks of its steps left out (delta debugging) until no single step can go. Hypothesis's
    own shrinker works on the choices behind the steps and needed hundreds of sessions of up
    to a second each against a real server; leaving out whole steps reaches a few-step session
    in a few dozen, each no longer than the shortest failure so far.
    """

    def __init__(self, ctx: Ctx, run_seed: int) -> None:
        self.ctx = ctx
        self.opts = ctx.target.stateful
        self.seed = run_seed
        ctx.replay_args = ["--stateful-examples", str(self.opts.examples),
                           "--stateful-steps", str(self.opts.steps), "--stateful-budget", "600"]
        self.started_at = time.monotonic()
        self.sessions = 0
        self.last: SessionMachine | None = None
        self.first_failing: SessionMachine | None = None
        self.replaying = False
        self.stopped = False  # by the budget
        self.repeats = 0  # sessions not played (see novel)
        self.played = 0
        # the next session's tasks, members and sockets are made while the current one runs
        self._pool = ThreadPoolExecutor(max_workers=_AHEAD, thread_name_prefix="stateful-setup")
        self._next: deque[Future[Session]] = deque()
        self._prefixes: set[str] = set()

    def _prepare(self) -> Session:
        session = Session(self.ctx)
        session.ensure_ready()
        return session

    def session(self) -> Session:
        """A session ready to play: its tasks and members made, its sockets connected."""
        self.played += 1
        while len(self._next) <= _AHEAD:
            self._next.append(self._pool.submit(self._prepare))
        return self._next.popleft().result()

    def novel(self, calls: Calls) -> bool:
        """Whether a session's first steps differ from every earlier session's. Hypothesis
        follows each new session with a few mutations of it (a part of it copied elsewhere),
        which for this machine often replay the same beginning: against a real server each
        costs as much as a new one, so a session that repeats the first steps of an earlier
        one stops there, and so does one that does one thing only (Hypothesis's swarm testing
        sometimes leaves a session a single rule). Not while a failure is being replayed."""
        if self.replaying or len(calls) < _PREFIX or (
                self.last is not None and self.last.failed) or self.first_failing is not None:
            return True
        key = repr(calls)
        if key in self._prefixes or len({name for name, _ in calls if name != "start"}) < 2:
            self.repeats += 1
            return False
        self._prefixes.add(key)
        return True

    def prefix(self) -> int:
        return 1 if self.replaying else _PREFIX

    def close(self) -> None:
        """Closes the sockets of the sessions prepared and not played."""
        for future in self._next:
            with contextlib.suppress(Exception):
                future.result().close_all()
        self._pool.shutdown(wait=True)

    def over_budget(self) -> bool:
        return not self.replaying and time.monotonic() - self.started_at > self.opts.budget

    def stop_if_over_budget(self) -> None:
        if self.over_budget() and self.first_failing is None and not (
                self.last is not None and self.last.failed):
            self.stopped = True
            raise _BudgetSpent()

    def started(self, machine: SessionMachine) -> None:
        if self.first_failing is None and self.last is not None and self.last.failed:
            self.first_failing = self.last
        self.last = machine
        self.sessions += 1

    def settings(self) -> settings:
        return settings(
            max_examples=max(1, self.opts.examples),
            stateful_step_count=max(1, self.opts.steps),
            deadline=None,
            database=None,
            derandomize=False,
            print_blob=False,
            report_multiple_bugs=False,
            verbosity=Verbosity.quiet,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.close()

    def _run(self) -> None:
        machine = seed(self.seed)(machine_for(self))
        try:
            run_state_machine_as_test(machine, settings=self.settings())
        except Divergence as found:
            failing = self.last
            assert failing is not None
            self._shrink_and_report(found, failing)
        except (Flaky, _BudgetSpent):
            if self.stopped and self.first_failing is None:
                pass  # the budget is spent and nothing failed
            elif self.first_failing is None or self.first_failing.error is None:
                raise
            else:  # the failure did not come back when Hypothesis replayed the session
                self._shrink_and_report(self.first_failing.error, self.first_failing,
                                        note="it did not come back every time it was replayed")
        except Unsatisfiable:
            self.ctx.skip("the stateful phase ran no session within its budget")
        self.ctx.note(f"stateful phase: {self.played} sessions played ({self.repeats} more "
                      f"skipped as repeats) in "
                      f"{time.monotonic() - self.started_at:.1f}s, seed {self.seed} "
                      f"(replay: {self.replay_command()})")

    # -- shrinking --------------------------------------------------------------------------

    def _replay(self, calls: Calls) -> SessionMachine:
        self.replaying = True
        try:
            machine = SessionMachine(self)
            with contextlib.suppress(Divergence):
                try:
                    for name, kwargs in calls:
                        getattr(machine, name)(**kwargs)
                finally:
                    machine.teardown()  # closes the sockets; settles if nothing failed yet
            return machine
        finally:
            self.replaying = False

    def _shrink_and_report(self, found: Divergence, failing: SessionMachine,
                           note: str = "") -> None:
        best, best_calls = failing, list(failing.calls)
        deadline = time.monotonic() + self.opts.shrink

        def still_fails(candidate: Calls) -> bool:
            nonlocal best, best_calls
            machine = self._replay(candidate)
            if machine.error is None or machine.error.req != found.req:
                return False
            best, best_calls = machine, list(machine.calls)
            return True

        # the steps that changed nothing rarely matter: first try without all of them, keeping
        # the failing (last) one
        inert = failing.inert - {len(best_calls) - 1}
        if inert:
            still_fails([c for i, c in enumerate(best_calls) if i not in inert])
        chunks = 2
        while len(best_calls) > 1 and time.monotonic() < deadline:
            size = -(-len(best_calls) // chunks)
            for start in range(0, len(best_calls), size):
                if time.monotonic() >= deadline:
                    break
                if still_fails(best_calls[:start] + best_calls[start + size:]):
                    chunks = max(chunks - 1, 2)
                    break
            else:
                if size == 1:
                    break
                chunks = min(len(best_calls), chunks * 2)
        if time.monotonic() >= deadline:
            note = "; ".join(filter(None, [
                note, f"the shortest found in the {self.opts.shrink:g}s shrink budget"]))
        self._report(best.error or found, best, note=note)

    def replay_command(self) -> str:
        """This phase alone, with the same seed and every session it may play (not cut short
        by the time budget); the runner's rerun line for the check carries the same options."""
        t = self.ctx.target
        # the embedded server (restart_hook set) is started again by the command itself
        return replay_command(None if t.restart_hook else t.url, None, t.can_mint, "STATE-1",
                              self.seed, self.ctx.replay_args)

    def _report(self, found: Divergence, machine: SessionMachine | None, *,
                steps: list[str] | None = None, note: str = "") -> None:
        steps = steps if steps is not None else (machine.steps if machine else [])
        shown = steps[-_MAX_SHOWN_STEPS:]
        lines = [f"{found.observed}",
                 f"shortest session that shows it ({_actions(steps)} steps, "
                 f"seed {self.seed}){'; ' + note if note else ''}:"]
        lines += [f"  {s}" for s in shown]
        lines.append(f"replay: {self.replay_command()}")
        self.ctx.finding(found.req, found.expectation, "\n".join(lines))
        if machine is not None:
            self.ctx.raw_frames.extend(machine.s.frames())


def run_phase(ctx: Ctx) -> None:
    """The stateful phase as one check: sessions until the budget is spent."""
    target = ctx.target
    StatefulPhase(ctx, target.seed).run()


__all__: list[Any] = ["StatefulPhase", "run_phase"]
