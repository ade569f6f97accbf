"""Wall time of a whole ``taskchat check`` on the embedded reference server, with the stateful
phase and without it (the baseline, measured in the same run).

    .venv/bin/python benchmarks/check_bench.py [--runs 1] [--py-spy PREFIX] [-- CHECK ARGS...]

Each run is a fresh ``taskchat check`` process (its own embedded server, default timings, the
default stateful budget): first with ``--stateful-examples 0`` (the phase off), then as a user
runs it. Prints both wall times, the difference, the ratio, the phase's own figures (sessions,
its duration, as the check reports them) and whether the target holds: the whole run with the
phase in at most 30 s on 2 cores. ``--py-spy PREFIX`` records a flame graph of the run with
the phase (PREFIX.svg; needs py-spy on PATH), to profile before optimising.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_SECONDS = 30.0
ROOT = Path(__file__).resolve().parents[1]


def _taskchat() -> list[str]:
    return [sys.executable, "-m", "taskchat", "check"]


def _one(extra: list[str], report_dir: Path, spy: str | None = None) -> tuple[float, dict]:
    cmd = [*_taskchat(), "--report-dir", str(report_dir), *extra]
    if spy is not None:
        cmd = ["py-spy", "record", "--subprocesses", "-o", f"{spy}.svg", "--", *cmd]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    wall = time.monotonic() - start
    if proc.returncode not in (0, 1):
        sys.exit(f"taskchat check could not run ({proc.returncode}):\n{proc.stderr[-2000:]}")
    data = json.loads((report_dir / "results.json").read_text())
    data["_exit"] = proc.returncode
    return wall, data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each (the best is kept)")
    parser.add_argument("--py-spy", metavar="PREFIX", help="flame graph of the run with the phase")
    parser.add_argument("check_args", nargs="*", help="more arguments for taskchat check")
    args = parser.parse_args()
    if args.py_spy and shutil.which("py-spy") is None:
        sys.exit("--py-spy needs py-spy on PATH (pip install py-spy)")
    walls: dict[str, list[float]] = {"without": [], "with": []}
    phase: dict = {}
    with tempfile.TemporaryDirectory(prefix="check-bench-") as tmp:
        for i in range(args.runs):
            off, _ = _one(["--stateful-examples", "0", *args.check_args], Path(tmp) / f"off{i}")
            walls["without"].append(off)
            spy = args.py_spy if i == 0 else None
            on, data = _one(list(args.check_args), Path(tmp) / f"on{i}", spy)
            walls["with"].append(on)
            phase = next((c for c in data["checks"] if c["area"] == "STATE"), {})
            phase["_exit"] = data["_exit"]
    base, full = min(walls["without"]), min(walls["with"])
    print(f"cores: {os.cpu_count()}, runs: {args.runs} (best of each)")
    print(f"taskchat check without the stateful phase: {base:6.1f} s (baseline)")
    print(f"taskchat check with the stateful phase:    {full:6.1f} s "
          f"(+{full - base:.1f} s, ratio {full / base:.2f})")
    if phase:
        print(f"stateful phase: {phase.get('status')} in {phase.get('duration', 0):.1f} s; "
              + "; ".join(phase.get("notes", [])))
    verdict = "holds" if full <= TARGET_SECONDS else "MISSED"
    print(f"target: whole run <= {TARGET_SECONDS:g} s with the phase: {verdict}")
    return 0 if full <= TARGET_SECONDS and phase.get("_exit") == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
