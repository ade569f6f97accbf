"""What a person sees while the run goes: a line per check, then the verdict."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from taskchat.conformance.results import (
    DESELECTED,
    FAIL,
    PASS,
    SKIP,
    WARN,
    CheckResult,
    RunResult,
)

from taskchat.about import describe

_MARK = {PASS: "PASS ", FAIL: "FAIL ", WARN: "WARN ", "error": "ERROR", SKIP: "skip "}


class Progress:
    def __init__(self, total: int, stream: TextIO | None = None, verbose: bool = False) -> None:
        self.total, self.stream, self.verbose = total, stream or sys.stdout, verbose
        self.done = 0
        self.lock = threading.Lock()

    def __call__(self, result: CheckResult) -> None:
        with self.lock:
            self.done += 1
            reqs = ",".join(result.requirements)
            note = f"  ({result.skip_reason})" if result.status == SKIP and self.verbose else ""
            print(f"[{self.done:>3}/{self.total}] {_MARK.get(result.status, result.status)} "
                  f"{result.name:<45} {reqs:<28} {result.duration:6.2f}s{note}",
                  file=self.stream, flush=True)
            for n in result.notes:
                print(f"          note: {n}", file=self.stream)
            for f in result.findings:
                print(f"          {f.requirement}: expected {f.expectation}\n"
                      f"          observed {f.observed[:400]}", file=self.stream)
            if result.replay:
                print(f"          rerun: {result.replay}", file=self.stream)


def summary(run: RunResult, stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    counts = run.counts()
    print("", file=stream)
    replays = {c.name: c.replay for c in run.checks if c.replay}
    for r in run.requirements:
        if r.status in (FAIL, WARN):
            label = "FAIL" if r.status == FAIL else "WARN"
            print(f"{label} {r.id} ({r.level}): {r.text}", file=stream)
            rerun = next((replays[f.check] for f in r.findings if f.check in replays), None)
            if rerun:
                print(f"     rerun: {rerun}", file=stream)
        elif r.status == SKIP:  # why it was not judged, and (for a missing means) the fix
            print(f"skip {r.id} ({r.level}): {r.note or 'not run'}", file=stream)
    print(f"\nrequirements: {counts[PASS]} pass, {counts[FAIL]} fail, {counts[WARN]} warn "
          f"(SHOULD), {counts[SKIP]} skip, {counts[DESELECTED]} deselected; {len(run.checks)} "
          f"checks in {run.duration:.1f}s (seed {run.settings.get('seed')})", file=stream)
    print(f"{run.url} · {run.started} · {describe()}", file=stream)
    verdict = "FAIL: a MUST requirement is broken" if run.must_failed else "PASS: every MUST holds"
    print(verdict, file=stream, flush=True)
