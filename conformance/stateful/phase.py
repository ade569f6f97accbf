"""The stateful phase of a conformance run: Hypothesis drives random sessions until the budget
is spent; a divergence is shrunk to the shortest session that still shows it, and reported with
its steps, its frames and the command line that replays it.
"""

from __future__ import annotations

import random
import shlex
import time
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, seed, settings
from hypothesis.errors import Flaky, Unsatisfiable
from hypothesis.stateful import run_state_machine_as_test
from taskchat.conformance.context import Ctx
from taskchat.conformance.stateful.machine import SessionMachine, machine_for
from taskchat.conformance.stateful.session import Divergence

_MAX_SHOWN_STEPS = 40


def _actions(steps: list[str]) -> int:
    """The actions of a session's log (the indented lines are what they got back)."""
    return sum(1 for s in steps if not s.startswith("    "))


class _ShrinkBudgetSpent(Exception):
    """Raised in a new session once shrinking has had its time: Hypothesis then stops (it reads
    the session that ends before drawing anything as flaky), and the phase reports the shortest
    failing session it saw."""


class StatefulPhase:
    """One run of the phase: its seed, its budget, the sessions it ran and what they found."""

    def __init__(self, ctx: Ctx, run_seed: int) -> None:
        self.ctx = ctx
        self.opts = ctx.target.stateful
        self.seed = run_seed
        self.started_at = time.monotonic()
        self.sessions = 0
        self.failing: SessionMachine | None = None
        self.first_failure: tuple[list[str], Divergence] | None = None
        self.last: SessionMachine | None = None
        self.best: tuple[list[str], Divergence, SessionMachine] | None = None
        self.found_at: float | None = None

    def over_budget(self) -> bool:
        # once a failure is found, shrinking it must not be cut short
        return (self.first_failure is None and self.last is not None
                and self._failed_last() is None
                and time.monotonic() - self.started_at > self.opts.budget)

    def _failed_last(self) -> SessionMachine | None:
        last = self.last
        if last is not None and last.failed and last.error is not None:
            if self.first_failure is None:
                self.first_failure = (list(last.steps), last.error)
                self.found_at = time.monotonic()
            if self.best is None or _actions(last.steps) < _actions(self.best[0]):
                self.best = (list(last.steps), last.error, last)
            return last
        return None

    def longer_than_best(self, actions: int) -> bool:
        """While shrinking, a session that has done as many actions as the shortest failing one
        without failing cannot become a shorter reproduction: the rest of it is skipped."""
        return self.best is not None and actions >= _actions(self.best[0])

    def check_shrink_budget(self) -> None:
        self._failed_last()
        if self.found_at is not None and time.monotonic() - self.found_at > self.opts.shrink:
            raise _ShrinkBudgetSpent()

    def started(self, machine: SessionMachine) -> None:
        self._failed_last()
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
            phases=[Phase.generate, Phase.shrink],
            suppress_health_check=list(HealthCheck),
        )

    def run(self) -> None:
        machine = seed(self.seed)(machine_for(self))
        try:
            run_state_machine_as_test(machine, settings=self.settings())
        except Divergence as found:
            self._failed_last()
            self._report(found, self.last)
        except (Flaky, _ShrinkBudgetSpent):
            self._failed_last()
            if self.best is None:
                raise
            steps, found, machine = self.best
            spent = self.found_at is not None and \
                time.monotonic() - self.found_at > self.opts.shrink
            self._report(found, machine, steps=steps, note=(
                f"the shortest found in the {self.opts.shrink:g}s shrink budget" if spent
                else "it did not reproduce every time (timing-dependent)"))
        except Unsatisfiable:
            self.ctx.skip("the stateful phase ran no session within its budget")
        self.ctx.note(f"stateful phase: {self.sessions} sessions in "
                      f"{time.monotonic() - self.started_at:.1f}s, seed {self.seed} "
                      f"(replay: {self.replay_command()})")

    def replay_command(self) -> str:
        t = self.ctx.target
        cmd = ["taskchat", "check"]
        if not t.restart_hook:  # the embedded server is started again by the command itself
            cmd += ["--url", t.url, "--jwt-secret", "<secret>"]
        cmd += ["--only", "STATE", "--seed", str(self.seed),
                "--stateful-examples", str(self.opts.examples),
                "--stateful-steps", str(self.opts.steps), "--stateful-budget", "600"]
        return shlex.join(cmd)

    def _report(self, found: Divergence, machine: SessionMachine | None, *,
                steps: list[str] | None = None, note: str = "") -> None:
        steps = steps if steps is not None else (machine.steps if machine else [])
        shown = steps[-_MAX_SHOWN_STEPS:]
        lines = [f"{found.observed}",
                 f"shortest session that shows it ({_actions(steps)} steps, "
                 f"seed {self.seed}){'; ' + note if note else ''}:"]
        lines += [f"  {s}" for s in shown]
        lines.append(f"replay: {self.replay_command()}")
        finding = self.ctx.finding(found.req, found.expectation, "\n".join(lines))
        del finding
        if machine is not None:
            self.ctx.raw_frames.extend(machine.s.frames())


def run_phase(ctx: Ctx) -> None:
    """The stateful phase as one check: sessions until the budget is spent."""
    target = ctx.target
    run_seed = target.seed if target.seed is not None else random.SystemRandom().randrange(2**32)
    StatefulPhase(ctx, run_seed).run()


__all__: list[Any] = ["StatefulPhase", "run_phase"]
