"""``taskchat ci``: the protocol pipeline as one local command, the same steps as the workflow.

Each step is the toolkit's own command run as a subprocess (so a step that crashes, or Locust's
gevent patching, cannot take the pipeline with it), writing its reports under one
``reports/ci-<timestamp>/`` folder. The pipeline's verdict is the steps' exit codes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any


@dataclass
class Step:
    name: str
    purpose: str
    argv: list[str]
    returncode: int | None = None
    seconds: float = 0.0
    skipped: str | None = None

    @property
    def passed(self) -> bool:
        return self.skipped is not None or self.returncode == 0


def register(sub: Any) -> None:
    p = sub.add_parser(
        "ci",
        help="run the protocol pipeline: schema lint, gate, conformance, load smoke",
        description=(
            "Schema lint, the compatibility gate against the base, the conformance suite on the "
            "embedded reference server, and a headless load smoke with thresholds. Reports go "
            "to reports/ci-<timestamp>/; exit 1 when a step fails."
        ),
    )
    p.add_argument("--base", default=None,
                   help="git revision or schema directory the gate compares with "
                        "(default: origin/main when it exists, else HEAD: the committed tree)")
    p.add_argument("--load-time", default="60s", help="run time of the load smoke (default 60s)")
    p.add_argument("--load-users", type=int, default=20, help="users in the load smoke (default 20)")
    p.add_argument("--skip", action="append", default=[], choices=["lint", "gate", "conformance", "load"],
                   help="leave a step out (repeatable)")
    p.add_argument("--report-dir", type=Path, default=None,
                   help="where to write (default reports/ci-<timestamp>)")
    p.set_defaults(func=run)


def _default_base() -> str:
    probe = subprocess.run(
        ["git", "rev-parse", "--verify", "--quiet", "origin/main"], capture_output=True, check=False
    )
    return "origin/main" if probe.returncode == 0 else "HEAD"


def plan(args: argparse.Namespace, out: Path) -> list[Step]:
    tc = [sys.executable, "-m", "taskchat"]
    base = args.base or _default_base()
    steps = [
        Step("lint", "every schema passes the 2020-12 metaschema; index, spec and documents agree",
             [*tc, "schemas", "lint"]),
        Step("gate", f"schema changes since {base} break no deployed client or server",
             [*tc, "gate", "--base", base, "--check-version", "--report-dir", str(out / "gate")]),
        Step("conformance", "the reference server passes every MUST of the spec",
             [*tc, "check", "--report-dir", str(out / "conformance")]),
        Step("load", "a chat load loses nothing and stays within the latency threshold",
             [*tc, "load", "--scenario", "task_chat", "--users", str(args.load_users),
              "--spawn-rate", str(max(1, args.load_users // 2)), "--run-time", args.load_time,
              # rooms of 10, a message every 6 s per user: busy, yet under the default rate limit
              "--users-per-room", "10", "--message-rate", "10",
              "--max-loss", "0", "--max-error-rate", "0.01", "--max-p99-delivery-ms", "250",
              "--report-dir", str(out / "load")]),
    ]  # fmt: skip
    for step in steps:
        if step.name in args.skip:
            step.skipped = "--skip"
    return steps


def run(args: argparse.Namespace) -> int:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out: Path = args.report_dir or Path("reports") / f"ci-{stamp}"
    out.mkdir(parents=True, exist_ok=True)
    steps = plan(args, out)
    for step in steps:
        if step.skipped:
            print(f"ci: {step.name:<12} skipped ({step.skipped})", flush=True)
            continue
        print(f"ci: {step.name:<12} {step.purpose}", flush=True)
        started = time.monotonic()
        step.returncode = subprocess.run(step.argv, check=False).returncode
        step.seconds = round(time.monotonic() - started, 1)
        verdict = "passed" if step.passed else f"FAILED (exit {step.returncode})"
        print(f"ci: {step.name:<12} {verdict} in {step.seconds} s", flush=True)
    write_reports(out, steps)
    failed = [s.name for s in steps if not s.passed]
    print(f"ci: {'FAILED: ' + ', '.join(failed) if failed else 'all steps passed'}; reports in {out}")
    return 1 if failed else 0


def write_reports(out: Path, steps: list[Step]) -> None:
    summary = {"passed": all(s.passed for s in steps), "steps": [asdict(s) for s in steps]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    rows = "".join(
        f"<tr><td>{escape(s.name)}</td><td>{escape(s.purpose)}</td>"
        f"<td class={'ok' if s.passed else 'bad'}>"
        f"{'skipped' if s.skipped else 'passed' if s.passed else f'failed ({s.returncode})'}</td>"
        f"<td>{s.seconds}</td><td>{_links(out, s.name)}</td></tr>"
        for s in steps
    )
    (out / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>taskchat ci</title>"
        "<style>body{font:14px system-ui;margin:2em}td,th{padding:.3em .8em;border-bottom:1px solid #ddd}"
        ".ok{color:#176f2c}.bad{color:#b00020;font-weight:bold}</style>"
        f"<h1>taskchat ci</h1><table><tr><th>step</th><th>checks that</th><th>result</th>"
        f"<th>seconds</th><th>reports</th></tr>{rows}</table>\n"
    )


def _links(out: Path, name: str) -> str:
    folder = out / name
    if not folder.is_dir():
        return ""
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".html", ".xml", ".json"})
    return " ".join(f'<a href="{escape(p.relative_to(out).as_posix())}">{escape(p.name)}</a>' for p in files)
