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
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from taskchat.about import revision, stamp
from taskchat.about import version as about_version


@dataclass
class Step:
    name: str
    purpose: str
    argv: list[str]
    returncode: int | None = None
    seconds: float = 0.0
    skipped: str | None = None
    last_line: str = ""  # the step's last line of output
    headline: str = ""  # its figures, read from its report

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


def _git(*argv: str) -> str | None:
    try:
        done = subprocess.run(["git", *argv], capture_output=True, text=True, check=False)
    except OSError:  # no git on this machine
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def gate_base(requested: str | None) -> tuple[str | None, str | None]:
    """(the revision or directory the gate compares with, None) or (None, why the gate is left out).

    Outside a git checkout of a project with ``schemas/`` (an installed wheel run from any
    directory) there is no deployed version to compare with: comparing the packaged schemas with
    themselves would pass without testing anything, so the step is skipped with its reason (D80).
    """
    if requested:
        return requested, None
    top = _git("rev-parse", "--show-toplevel")
    if top is None:
        return None, "not in a git checkout: no base to compare with (give --base DIR|REV)"
    if not (Path(top) / "schemas" / "index.json").is_file():
        return None, f"the checkout {top} has no schemas/index.json (give --base DIR|REV)"
    if _git("rev-parse", "--verify", "--quiet", "origin/main") is not None:
        return "origin/main", None
    return "HEAD", None


def gate_head() -> str:
    """The schemas under change: ./schemas (or the checkout's), else the packaged ones."""
    from taskchat.schemas.protocol import SCHEMA_DIR

    top = _git("rev-parse", "--show-toplevel")
    for candidate in (Path("schemas"), Path(top) / "schemas" if top else None):
        if candidate is not None and (candidate / "index.json").is_file():
            return str(candidate)
    return str(SCHEMA_DIR)


def plan(args: argparse.Namespace, out: Path) -> list[Step]:
    tc = [sys.executable, "-m", "taskchat"]
    base, no_gate = gate_base(args.base)
    steps = [
        Step("lint", "every schema passes the 2020-12 metaschema; index, spec and documents agree",
             [*tc, "schemas", "lint"]),
        Step("gate", f"schema changes since {base or 'the deployed version'} break no deployed "
             "client or server",
             [*tc, "gate", "--base", base or "", "--head", gate_head(), "--check-version",
              "--report-dir", str(out / "gate")], skipped=no_gate),
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
        if step.name in args.skip and not step.skipped:
            step.skipped = "--skip"
    return steps


def run(args: argparse.Namespace) -> int:
    started_at = datetime.now(UTC)
    out: Path = args.report_dir or Path("reports") / f"ci-{stamp(started_at)}"
    out.mkdir(parents=True, exist_ok=True)
    steps = plan(args, out)
    for step in steps:
        if step.skipped:
            print(f"ci: {step.name:<12} skipped ({step.skipped})", flush=True)
            continue
        print(f"ci: {step.name:<12} {step.purpose}", flush=True)
        started = time.monotonic()
        step.returncode, step.last_line = _run_echoing(step.argv)
        step.seconds = round(time.monotonic() - started, 1)
        verdict = "passed" if step.passed else f"FAILED (exit {step.returncode})"
        print(f"ci: {step.name:<12} {verdict} in {step.seconds} s", flush=True)
    for step in steps:
        step.headline = headline(out, step)
    write_reports(out, steps, started_at)
    failed = [s.name for s in steps if not s.passed]
    print(f"ci: {'FAILED: ' + ', '.join(failed) if failed else 'all steps passed'}; reports in {out}")
    return 1 if failed else 0


def _run_echoing(argv: list[str]) -> tuple[int, str]:
    """Run a step with its output passed through, keeping its last line (lint's tally)."""
    last = ""
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          bufsize=1) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            sys.stdout.write(line)
            sys.stdout.flush()
            if line.strip():
                last = line.strip()
    return proc.returncode, last


def _read_json(path: Path | None) -> dict[str, Any] | None:
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _newest(folder: Path, name: str) -> Path | None:
    """The step's report file, wherever the step nests it under its folder."""
    found = sorted(folder.rglob(name), key=lambda p: p.stat().st_mtime) if folder.is_dir() else []
    return found[-1] if found else None


def _gate_line(g: dict[str, Any]) -> str:
    return (f"{g.get('breaking', '?')} breaking, {g.get('allowedBreaking', 0)} allowed, "
            f"{g.get('compatible', '?')} compatible; required bump "
            f"{g.get('requiredBump', '?')}, version {g.get('head', {}).get('version', '?')}")


def _conformance_line(c: dict[str, Any]) -> str:
    n = c.get("summary", {})
    must = [r for r in c.get("requirements", []) if r.get("level") == "MUST"]
    held = sum(1 for r in must if r.get("status") == "pass")
    return (f"MUST {held}/{len(must)} hold; requirements: {n.get('pass', 0)} pass, "
            f"{n.get('fail', 0)} fail, {n.get('warn', 0)} warn (SHOULD), {n.get('skip', 0)} skip")


def _load_line(s: dict[str, Any]) -> str:
    f, k = s.get("figures", {}), s.get("counters", {})
    return (f"p99 delivery {f.get('delivery_p99_ms', '?')} ms over "
            f"{f.get('deliveries', '?')} deliveries; lost {k.get('lost', 0)}, "
            f"duplicated {k.get('duplicated', 0)}, error rate {f.get('error_rate', '?')}")


# step -> (the report file it writes, the figures of that report in one line)
_HEADLINES: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "gate": ("gate.json", _gate_line),
    "conformance": ("results.json", _conformance_line),
    "load": ("summary.json", _load_line),
}


def headline(out: Path, step: Step) -> str:
    """The step's figures in one line, read from the report it wrote (empty when there is none).

    Read defensively: a step that crashed, or an older report format, gives no headline rather
    than a broken index. A step without a report (lint) is headed by its last line of output.
    """
    if step.skipped:
        return step.skipped
    if step.name not in _HEADLINES:
        return step.last_line
    report, line = _HEADLINES[step.name]
    data = _read_json(_newest(out / step.name, report))
    if data is None:
        return ""
    try:
        return line(data)
    except (AttributeError, TypeError):
        return ""


def write_reports(out: Path, steps: list[Step], started_at: datetime | None = None) -> None:
    started_at = started_at or datetime.now(UTC)
    date, rev, here = started_at.strftime("%Y-%m-%d %H:%M:%S UTC"), revision(), str(Path.cwd())
    about = {"date": date, "toolkit": about_version(), "revision": rev, "directory": here}
    summary = {"passed": all(s.passed for s in steps), **about,
               "steps": [asdict(s) for s in steps]}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    rows = "".join(
        f"<tr><td><b>{escape(s.name)}</b><br><small>{escape(s.purpose)}</small></td>"
        f"<td class={'skip' if s.skipped else 'ok' if s.passed else 'bad'}>"
        f"{'skipped' if s.skipped else 'passed' if s.passed else f'failed (exit {s.returncode})'}"
        f"</td><td>{escape(s.headline)}</td><td class=num>{s.seconds}</td>"
        f"<td>{_links(out, s.name)}</td></tr>"
        for s in steps
    )
    verdict = "all steps passed" if summary["passed"] else "FAILED: " + ", ".join(
        s.name for s in steps if not s.passed)
    total = round(sum(s.seconds for s in steps), 1)
    facts = (f"<b>Date</b> {escape(date)} · <b>Toolkit</b> taskchat {escape(about_version())} · "
             f"<b>Revision</b> {escape(rev or 'none (not a git checkout)')} · <b>Directory</b> "
             f"<code>{escape(here)}</code> · {total} s")
    (out / "index.html").write_text(
        "<!doctype html><meta charset=utf-8><title>taskchat ci: " + escape(verdict) + "</title>"
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:90em}"
        "table{border-collapse:collapse}td,th{padding:.4em .8em;border-bottom:1px solid #ddd;"
        "text-align:left;vertical-align:top}small{color:#555}.num{text-align:right}"
        ".ok{color:#176f2c;font-weight:bold}.bad{color:#b00020;font-weight:bold}.skip{color:#777}"
        "h1.ok,h1.bad{font-weight:600}</style>"
        f"<h1 class={'ok' if summary['passed'] else 'bad'}>taskchat ci: {escape(verdict)}</h1>"
        f"<p>{facts}</p>"
        "<table><tr><th>step</th><th>result</th><th>headline</th><th>seconds</th>"
        f"<th>reports</th></tr>{rows}</table>\n"
    )


def _links(out: Path, name: str) -> str:
    folder = out / name
    if not folder.is_dir():
        return ""
    files = sorted(p for p in folder.rglob("*") if p.suffix in {".html", ".xml", ".json"})
    return " ".join(f'<a href="{escape(p.relative_to(out).as_posix())}">{escape(p.name)}</a>' for p in files)
